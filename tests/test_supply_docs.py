"""docs/supply-chain.md says what the code does: the thresholds in the plan's words, the blocked-image notification,
the SBOM query's flags and exit codes, the policy rule; README and the architecture page link to it."""

from __future__ import annotations

import re
from pathlib import Path

from components.safety.notifications import IMAGE_BLOCKED_TEMPLATE
from components.settings import ScanThreshold, Severity
from offline.plan.supply import threshold_words
from policy.rules.codepipeline import SBOM_SCAN_COMMAND, VERIFY_COMMAND
from tools import sbom

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "supply-chain.md").read_text()
FLAT = " ".join(DOC.split())


def test_the_threshold_table_is_what_the_plan_says():
    rows = dict(re.findall(r"^\| `(\w+)` \| (blocks .*|scans .*) \|$", DOC, re.MULTILINE))
    expected = {s.value: threshold_words(Severity(s.value)) for s in ScanThreshold if s.value in {v.value for v in Severity}}
    assert rows == {**expected, "off": threshold_words(None)}


def test_the_blocked_image_message_is_the_notification_s_text():
    sample = {"<action>": "VerifyImage", "<stage>": "Scan", "<pipeline>": "...", "<execution>": "..."}
    first_sentence = IMAGE_BLOCKED_TEMPLATE.split(" The action's log", 1)[0].removesuffix(".")
    for placeholder, value in sample.items():
        first_sentence = first_sentence.replace(placeholder, value)
    assert f'"{first_sentence}"' in FLAT


def test_the_sbom_query_s_flags_and_exit_codes():
    flags = {a.dest for a in sbom.parser()._actions}
    for flag in re.findall(r"--(\w+)", DOC.split("## Which deployed image contains a package", 1)[1].split("\n## ", 1)[0]):
        assert flag in flags, flag
    codes = (
        f"Exit code `{sbom.EXIT_FOUND}`: at least one digest holds it; `{sbom.EXIT_NOT_FOUND}`: none; "
        f"`{sbom.EXIT_USAGE}`: usage error; `{sbom.EXIT_AWS_ERROR}`: an AWS or Pulumi CLI error"
    )
    assert codes in FLAT
    assert f"`{sbom.RECORDS_OUTPUT}` output" in FLAT


def test_the_policy_rule_is_named_with_what_it_looks_for():
    assert "`production-supply-chain-gate`" in DOC
    assert f"`aws {SBOM_SCAN_COMMAND}`" in DOC and f"`{VERIFY_COMMAND}`" in DOC


def test_readme_and_architecture_link_to_it():
    assert "[docs/supply-chain.md](docs/supply-chain.md)" in (ROOT / "README.md").read_text()
    assert "[supply-chain.md](supply-chain.md)" in (ROOT / "docs" / "architecture.md").read_text()
    assert "[supply-chain.md](supply-chain.md)" in (ROOT / "docs" / "policy.md").read_text()


def test_the_plan_page_quotes_the_section_s_words():
    plan_page = " ".join((ROOT / "docs" / "plan.md").read_text().split())
    assert f"(`high`: {threshold_words(Severity.HIGH)})" in plan_page
