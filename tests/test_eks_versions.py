"""Kubernetes versions on EKS: only versions in standard support are allowed, by a calendar kept in the
code; a stack still naming a version whose standard support ended gets a settings error that says what
EKS did to its cluster and the fix; `pulumi preview`/`up` warn as the end nears.

EKS upgrades a cluster whose upgrade policy is STANDARD to the next minor version itself at the end of
standard support. The provider sends a lower `version` as an in-place UpdateClusterVersion (terraform-
provider-aws internal/service/eks/cluster.go: `version` is Optional and Computed, not ForceNew), which EKS
refuses (a rollback needs upgrade policy EXTENDED first), so the stack's own version must move with it.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pulumi
import pytest

from components.deploy.eks import target as eks_target
from components.settings import (
    EKS_KUBERNETES_VERSIONS,
    EKS_STANDARD_SUPPORT_ENDS,
    EKS_SUPPORT_WARNING_DAYS,
    KEYS,
    PROJECT,
    SettingsError,
    parse_settings,
    standard_support_notice,
)
from offline.mocks import evaluate_stack

ROOT = Path(__file__).resolve().parent.parent
EXISTING = {
    "eksClusterName": "platform",
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "privateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}


def fails(message: str, **raw):
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse_settings({"deployTarget": "eks", **raw}, PROJECT, "dev")


def test_no_allowed_version_is_past_its_end_of_standard_support():
    """Runs against the calendar on the day the suite runs: the CI run after a version's end of standard
    support fails here, naming the version and the date, until the version is removed."""
    today = date.today()
    ended = [f"{v} (standard support ended on {EKS_STANDARD_SUPPORT_ENDS[v].isoformat()})" for v in EKS_KUBERNETES_VERSIONS if EKS_STANDARD_SUPPORT_ENDS[v] < today]
    assert ended == [], (
        f"EKS_KUBERNETES_VERSIONS (components/settings/constants.py) allows {', '.join(ended)} on {today.isoformat()}: remove it, "
        "move the default and the stack files to a version in standard support, and add the next EKS version with its date"
    )


def test_every_allowed_version_has_a_date_and_the_allowed_set_is_what_the_key_accepts():
    assert set(EKS_KUBERNETES_VERSIONS) <= set(EKS_STANDARD_SUPPORT_ENDS)
    assert KEYS["eksKubernetesVersion"].allowed_values == EKS_KUBERNETES_VERSIONS == ("1.35", "1.36")
    assert KEYS["eksKubernetesVersion"].default in EKS_KUBERNETES_VERSIONS
    # AWS's calendar: 1.34's standard support ended on December 2, 2026.
    assert EKS_STANDARD_SUPPORT_ENDS["1.34"] == date(2026, 12, 2)
    # Consecutive minors, each ending after the one before.
    versions = sorted(EKS_STANDARD_SUPPORT_ENDS, key=lambda v: int(v.split(".")[1]))
    assert [int(v.split(".")[1]) for v in versions] == list(range(34, 34 + len(versions)))
    assert [EKS_STANDARD_SUPPORT_ENDS[v] for v in versions] == sorted(EKS_STANDARD_SUPPORT_ENDS.values())


def test_a_version_past_standard_support_is_refused_with_what_eks_did_and_the_fix():
    fails(
        "eksKubernetesVersion: '1.34' is not valid; EKS standard support for 1.34 ended on 2026-12-02, and EKS then upgrades the "
        "cluster to 1.35 itself (upgrade policy STANDARD); allowed: 1.35, 1.36. Fix: set eksKubernetesVersion to 1.35 and run "
        "`pulumi up --refresh`, which upgrades the cluster if EKS has not yet (docs/eks.md, Kubernetes versions)",
        eksKubernetesVersion="1.34",
    )


def test_a_version_past_standard_support_on_an_existing_cluster_asks_for_what_it_runs():
    fails(
        "eksKubernetesVersion: '1.34' is not valid; EKS standard support for 1.34 ended on 2026-12-02; allowed: 1.35, 1.36. "
        "Fix: set eksKubernetesVersion to the version cluster 'platform' runs once its owners (or EKS) have upgraded it "
        "(aws eks describe-cluster --name platform --query cluster.version)",
        eksKubernetesVersion="1.34",
        **EXISTING,
    )


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 12, 26), None),  # 91 days before 1.35's end
        (date(2026, 12, 27), "ends on 2027-03-27 (in 90 days)"),
        (date(2027, 3, 27), "ends today (2027-03-27)"),
        (date(2027, 4, 1), "ended on 2027-03-27 (5 days ago)"),
    ],
)
def test_the_notice_starts_the_warning_days_before_the_end(today, expected):
    notice = standard_support_notice("1.35", today)
    if expected is None:
        assert notice is None
        return
    assert notice == (
        f"eksKubernetesVersion 1.35: EKS standard support {expected}. Then EKS upgrades the cluster (upgrade policy STANDARD) to 1.36 "
        "itself, and 1.35 in this stack asks EKS for a downgrade it refuses at the next `pulumi up --refresh`. Set eksKubernetesVersion "
        "to 1.36 and run `pulumi up --refresh` (docs/eks.md, Kubernetes versions)."
    )
    assert EKS_SUPPORT_WARNING_DAYS == 90


def test_the_notice_for_an_existing_cluster_and_for_the_newest_version():
    assert standard_support_notice("1.35", date(2027, 3, 1), "platform") == (
        "eksKubernetesVersion 1.35: EKS standard support ends on 2027-03-27 (in 26 days). Once cluster 'platform' runs 1.36 "
        "(its owners upgrade it, or EKS does under upgrade policy STANDARD), set eksKubernetesVersion to 1.36."
    )
    assert "to the next minor version itself" in (standard_support_notice("1.36", date(2027, 8, 1)) or "")
    assert standard_support_notice("1.36", date(2027, 1, 1)) is None


def test_pulumi_up_warns_as_the_end_of_standard_support_nears(monkeypatch):
    """The program, not only the function: prod (1.35) evaluated on 2027-03-01 warns on its EKS target."""
    warnings: list[tuple[str, object]] = []
    monkeypatch.setattr(eks_target, "today", lambda: date(2027, 3, 1))
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None, *args, **kwargs: warnings.append((message, resource)))
    evaluate_stack("prod")
    assert [m for m, _ in warnings] == [standard_support_notice("1.35", date(2027, 3, 1))]
    assert isinstance(warnings[0][1], eks_target.EksTarget)


def test_the_docs_give_the_calendar_and_the_one_line_bump():
    eks = (ROOT / "docs" / "eks.md").read_text()
    section = eks.split("## Kubernetes versions", 1)[1].split("\n## ", 1)[0]
    for version, ends in EKS_STANDARD_SUPPORT_ENDS.items():
        allowed = version in EKS_KUBERNETES_VERSIONS
        assert f"| {version} | {ends.isoformat()}{' |' if allowed else ' (no longer allowed) |'}" in section, version
    assert "pulumi config set eksKubernetesVersion 1.36" in section and "pulumi up --refresh" in section
    assert "updating EKS Cluster (<cluster name>) version:" in section
    assert f"From {EKS_SUPPORT_WARNING_DAYS} days before" in section
    assert f"ends within {EKS_SUPPORT_WARNING_DAYS} days" in (ROOT / "docs" / "plan.md").read_text()
    # The examples are what the program prints.
    assert f"\n{standard_support_notice('1.35', date(2027, 3, 1))}\n" in section
    with pytest.raises(SettingsError) as refused:
        parse_settings({"deployTarget": "eks", "eksKubernetesVersion": "1.34"}, PROJECT, "dev")
    assert f"\n{refused.value}\n" in section
