"""Every number README.md and docs/*.md state is generated from the code or tested (offline/doc_numbers.py).

A number in a generated block or an inline fact is the code's (`python -m offline.docs --check` and
test_docs keep them current); one its sentence's config key vouches for is checked against KEYS. Every
other number must be matched by PROVEN (with the test that proves it) or, until a test does,
NOT_YET_PROVEN: a new number that is neither generated nor listed fails here.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from offline import doc_numbers, docs

ROOT = Path(__file__).resolve().parent.parent

# (page, pattern, test): the numbers inside a match of the regular expression `pattern` in `page` are
# proven by the test `tests/<file>::<function>`, which asserts the same number against the code.
PROVEN = [
    ("README.md", r"TLS 1\.3 / TLS 1\.2-floor policy", "tests/test_edge.py::test_with_a_certificate_https_uses_the_tls_policy_and_http_redirects"),
    ("docs/policy.md", r"serves HTTPS \(TLS 1\.2\+\)", "tests/test_edge.py::test_with_a_certificate_https_uses_the_tls_policy_and_http_redirects"),
    ("docs/architecture.md", r"within 400 lines", "tests/test_layout.py::test_no_file_over_the_limit"),
    ("docs/eks.md", r"From 90 days before", "tests/test_eks_versions.py::test_the_docs_give_the_calendar_and_the_one_line_bump"),
    ("docs/plan.md", r"ends within 90 days", "tests/test_eks_versions.py::test_the_docs_give_the_calendar_and_the_one_line_bump"),
    ("docs/eks.md", r"kubectl 1\.35,\s+which manages 1\.34 to 1\.36", "tests/test_eks_deploy.py::test_the_step_stops_when_the_images_kubectl_cannot_manage_the_cluster"),
    ("docs/safety.md", r"\| [^|\n]*; [35] of [35] min \|", "tests/test_alarms.py::test_every_alarm_compares_in_the_intended_direction"),
    (
        "docs/safety.md",
        r"at most 23 \(5 \+ 5 \+ 5 \+ 2 \+ 5 \+ 1\), linear's defaults \(25 % every 3 minutes\) 29,",
        "tests/test_canary_wiring.py::test_the_safety_guide_states_the_worst_cases_with_the_judge",
    ),
    ("docs/safety.md", r"5xx from 0\.1 % to 0\.9 %", "tests/test_canary_judge.py::test_a_canary_clearly_worse_fails_although_no_fixed_threshold_would_fire"),
    ("docs/safety.md", r"The provider waits 20 minutes[^.]*?65 at most", "tests/test_ecs_strategy.py::test_the_safety_guide_states_the_waits_the_stack_sets"),
    ("docs/safety.md", r"`--commit` \(40 hex\s+characters\)", "tests/test_revert.py::test_usage_errors_exit_64_before_any_aws_client_exists"),
    ("docs/safety.md", r"and 64 lowercase hex", "tests/test_revert.py::test_usage_errors_exit_64_before_any_aws_client_exists"),
    ("docs/safety.md", r"requests in 5 minutes", "tests/test_edge.py::test_web_acl_rules_block_by_rate_and_keep_managed_rule_actions"),
    ("docs/plan.md", r"Usage errors use 64, not argparse's usual 2, so that 2", "tests/test_plan.py::test_usage_errors_exit_64_not_2"),
    ("docs/eks.md", r"the default NodeClass's 80 GiB gp3", "tests/test_cost.py::test_docs_eks_states_the_priced_node_volume_and_instances"),
    ("docs/policy.md", r"276 passed and 35 failed for dev", "tests/test_checkov.py::test_docs_policy_numbers_are_the_codes"),
    ("docs/config.md", r"as the number 1\.3", "tests/test_config_mistakes.py::test_each_config_mistake_is_one_settings_error_listing_every_problem"),
    # The exception rows are policy/checkov-exceptions.yaml's reasons, byte for byte.
    ("docs/policy.md", r"(?m)^\| CKV[^\n]*", "tests/test_checkov.py::test_docs_policy_shows_every_exception"),
]

# (page, pattern): numbers that no generated part or test vouches for yet. This list only shrinks: an
# entry that no longer matches an unchecked number fails, so a fix must remove it.
NOT_YET_PROVEN = [
    # AWS's own limits and prices as the pages cite them, with no constant in the code to render from.
    ("docs/eks.md", r"only within 7 days"),
    ("docs/eks.md", r"chart 6\.0\.0 turned it on by default and 6\.2\.0 off\s+again\. So 6\.0\.x and 6\.1\.x"),
    ("docs/eks.md", r"up to 6\.5\.0 default to it\); on 6\.0\.x–6\.1\.x"),
    ("docs/eks.md", r"\$0\.60 per cluster-hour in extended support \(≈ \$438/month\)"),
    ("docs/eks.md", r"about\s+12 % of the On-Demand price"),
    ("docs/eks.md", r"roughly \$100–150/month"),
    ("docs/eks.md", r"the 2026 CodeBuild images"),
    ("docs/safety.md", r"documents: 6 fields"),
    ("docs/safety.md", r"\(us-east-1, first 10 TB a month\)"),
    ("docs/safety.md", r"\(10-15 more minutes for a created cluster\)"),
    ("docs/quickstart.md", r"fails after 15 minutes"),
    ("docs/troubleshooting.md", r"pushes work for 15 minutes"),
    # The history of the project.
    ("docs/eks.md", r"with version\s+0\.1"),
    # checkov's version and what it reports on the shipped stacks.
    ("docs/policy.md", r"\) 3\.1 \(a dev requirement\)"),
    ("docs/policy.md", r"checkov 3\.1's list of supported EKS versions ends before our 1\.35"),
]


# The generated parts from the session's evaluated stacks instead of evaluating them again.
pytestmark = pytest.mark.usefixtures("docs_from_shared_stacks")


@functools.cache
def _unchecked() -> tuple[doc_numbers.Number, ...]:
    """Scanned once per run (the pages cannot change during it; each scan renders their generated parts)."""
    return tuple(n for page in doc_numbers.pages() for n in doc_numbers.unchecked(str(page.relative_to(ROOT)), page.read_text()))


def _covered(number: doc_numbers.Number, entries) -> list[tuple]:
    text = (ROOT / number.page).read_text()
    return [e for e in entries if e[0] == number.page and any(m.start() <= number.start < m.end() for m in re.finditer(e[1], text))]


def test_every_number_the_documents_state_is_generated_or_listed():
    """A number outside a generated part, unvouched for by its config key and matched by no entry, is
    a number nobody checks: generate it (an inline fact), or name the test that proves it in PROVEN."""
    orphans = [str(n) for n in _unchecked() if not _covered(n, PROVEN + NOT_YET_PROVEN)]
    assert orphans == []


@pytest.mark.parametrize("entry", PROVEN + NOT_YET_PROVEN, ids=lambda e: f"{e[0]}: {e[1][:40]}")
def test_every_entry_still_matches_a_number_nobody_else_checks(entry):
    matched = [n for n in _unchecked() if _covered(n, [entry])]
    assert matched, f"{entry[:2]} matches no unchecked number any more: remove it"


@pytest.mark.parametrize("proof", sorted({e[2] for e in PROVEN}))
def test_every_proof_names_a_test_that_exists(proof):
    path, function = proof.split("::")
    tree = ast.parse((ROOT / path).read_text())
    assert function in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}, proof


def test_the_scan_finds_each_kind_of_number_and_skips_code_and_generated_parts():
    page = "\n".join(
        [
            "It costs $81 a month, 12 % more, and waits 15 minutes (a 30-day window); needs Python 3.11+.",
            "The pack has 33 mandatory rules, at most 8 of them here.",
            "1. a numbered step; exits 2 on an error; port 8080; 10.0.0.0/16; 2026-12-02; July 2024.",
            "`sleep 10 minutes` and [a link](https://example.com/5-days) and <!-- fact:python -->3.11<!-- /fact --> are not prose.",
            "```bash",
            "pulumi config set desiredCount 3   # 3 copies",
            "```",
            "<!-- cost:start -->",
            "| NAT gateway | 32.85 (1) |",
            "<!-- cost:end -->",
        ]
    )
    assert [n.value for n in doc_numbers.stated("p.md", page)] == ["$81", "12", "15", "30", "3.11", "33", "8"]


def test_a_config_key_in_the_sentence_vouches_only_for_its_own_values():
    right = "The pipeline fails within `deploymentTimeoutMinutes` (default 15; 30 for the traffic-shifting ones)."
    wrong = "The pipeline fails within `deploymentTimeoutMinutes` (default 16 minutes)."
    assert doc_numbers.unchecked("p.md", right) == []
    assert [n.value for n in doc_numbers.unchecked("p.md", wrong)] == ["16"]
    assert [n.value for n in doc_numbers.unchecked("p.md", "Pods poll every 15 s.")] == ["15"]


def test_a_new_number_in_a_page_fails_until_it_is_generated():
    """The issue's example: quickstart's hand-written "$81" next to the README's generated $82.08."""
    stale = "It creates the `dev` stack (about $81 a month while it runs)."
    assert [n.value for n in doc_numbers.unchecked("docs/quickstart.md", stale)] == ["$81"]
    fixed = doc_numbers.render_facts("It creates the `dev` stack (about $<!-- fact:cost-dev -->81<!-- /fact --> a month while it runs).")
    assert doc_numbers.unchecked("docs/quickstart.md", fixed) == []
    assert f"$<!-- fact:cost-dev -->{doc_numbers.cost_estimates()['dev'].total:.0f}<!-- /fact -->" in fixed


def test_inline_facts_are_the_code_s_values():
    from components.delivery.buildspec import SHORT_SHA_LENGTH
    from offline.cost import EKS_CLUSTER_HOUR
    from policy.rules import RULES

    assert doc_numbers.render_facts("<!-- fact:policy-rules -->33<!-- /fact -->") == f"<!-- fact:policy-rules -->{len(RULES)}<!-- /fact -->"
    assert doc_numbers.fact_value("components.delivery.buildspec:SHORT_SHA_LENGTH") == str(SHORT_SHA_LENGTH)
    assert doc_numbers.fact_value("offline.cost:EKS_CLUSTER_HOUR|.2f") == f"{EKS_CLUSTER_HOUR:.2f}" == "0.10"
    assert doc_numbers.fact_value("python") == "3.11" and doc_numbers.fact_value("pulumi") == "3.200"
    with pytest.raises(KeyError, match=r"inline fact 'rules' is neither one of offline/doc_numbers.py FACTS \(policy-rules, "):
        doc_numbers.fact_value("rules")
    with pytest.raises(TypeError, match=r"^inline fact 'components.settings.constants:EKS_KUBERNETES_VERSIONS': .* is tuple, not a number or a string$"):
        doc_numbers.fact_value("components.settings.constants:EKS_KUBERNETES_VERSIONS")


def test_every_page_s_generated_parts_are_current():
    """What `python -m offline.docs --check` checks, for every page but README.md (tests/test_docs.py):
    its generated blocks (docs/eks.md's version calendar) and its inline facts."""
    for page in doc_numbers.pages()[1:]:
        text = page.read_text()
        assert docs.render(text) == text, f"run `python -m offline.docs` to refresh {page.relative_to(ROOT)}"
    assert "<!-- eks-versions:start -->\n| Version | End of standard support |" in (ROOT / "docs" / "eks.md").read_text()


def test_the_policy_pack_count_and_the_costs_the_issue_found_stale_are_generated():
    from policy.rules import RULES

    readme, policy, quickstart = ((ROOT / p).read_text() for p in ("README.md", "docs/policy.md", "docs/quickstart.md"))
    assert f"pack of <!-- fact:policy-rules -->{len(RULES)}<!-- /fact --> mandatory rules" in readme
    assert f"policy pack: <!-- fact:policy-rules -->{len(RULES)}<!-- /fact --> mandatory rules" in policy
    totals = {stack: f"{e.total:.0f}" for stack, e in doc_numbers.cost_estimates().items()}
    assert f"about $<!-- fact:cost-dev -->{totals['dev']}<!-- /fact --> a month" in quickstart
    assert f"about $<!-- fact:cost-prod -->{totals['prod']}<!-- /fact --> a month" in quickstart
