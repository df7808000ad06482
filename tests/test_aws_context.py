"""One AWS context: every ARN the stack writes is built from one partition/region/account lookup per
component (components/aws_context.py), so stacks in other partitions get their partition's ARNs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.settings import SettingsError

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = sorted((ROOT / "components").rglob("*.py"))
CN_CERTIFICATE = "arn:aws-cn:acm:cn-north-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def _code(path: Path) -> str:
    """The module without comment lines (ARNs in comments are examples, not values)."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def test_only_the_context_builds_arns_or_looks_up_partition_region_and_account():
    offenders = []
    for path in COMPONENTS:
        if path.name == "aws_context.py" or "settings" in path.parts:  # settings: patterns and messages about user ARNs
            continue
        code = _code(path)
        offenders += [f"{path.name}: {m}" for m in re.findall(r'"arn:[a-z-]*:?', code)]
        offenders += [f"{path.name}: {m}" for m in re.findall(r"get_(?:region|caller_identity|partition)_output", code)]
    assert offenders == []


@pytest.mark.parametrize(("stack", "region", "partition"), [("dev", "cn-north-1", "aws-cn"), ("prod", "us-gov-west-1", "aws-us-gov")])
def test_a_stack_in_another_partition_writes_only_that_partitions_arns(evaluate, stack, region, partition):
    # prod as a building stack (it promotes from dev in us-east-1; tests/test_promotion_stacks.py moves both).
    result = evaluate(stack, **{"aws:region": region}, **({"promoteFrom": None} if stack == "prod" else {}))
    text = json.dumps([r.inputs for r in result.resources])
    assert "arn:aws:" not in text
    # Policies name the account root, managed policies and the stack's own resources in the partition.
    assert f"arn:{partition}:iam::123456789012:root" in text
    assert f"arn:{partition}:cloudwatch:{region}:123456789012:alarm:" in text


def test_a_certificate_in_the_stacks_partition_and_region_is_used(evaluate):
    result = evaluate("dev", **{"aws:region": "cn-north-1", "certificateArn": CN_CERTIFICATE, "serviceDomain": "app.example.cn"})
    https = [r for r in result.of_type("aws:lb/listener:Listener") if r.inputs.get("port") == 443]
    assert [r.inputs["certificateArn"] for r in https] == [CN_CERTIFICATE]


def test_a_certificate_of_another_partition_is_refused_by_its_region(evaluate):
    """A region belongs to one partition, so the settings' region check refuses a foreign partition's ARN."""
    with pytest.raises(SettingsError, match=r"^certificateArn: .* the ARN is in cn-north-1, the stack in us-east-1"):
        evaluate("dev", certificateArn=CN_CERTIFICATE, serviceDomain="app.example.cn")
