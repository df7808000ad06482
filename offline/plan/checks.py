"""The plan's verdicts: the policy pack's violations and checkov's result."""

from __future__ import annotations

from collections.abc import Sequence

from offline.checkov_scan import ScanResult
from offline.mocks import StackResult
from offline.plan.sections import md
from policy.rules import RULES, Violation


def sorted_violations(violations: Sequence[Violation]) -> list[Violation]:
    return sorted(violations, key=lambda v: (v.resource_type, v.resource_name, v.rule, v.message))


def policy_section(violations: Sequence[Violation], result: StackResult) -> list[str]:
    types = {r.type for r in result.resources}
    applied = [rule.name for rule in RULES if types & set(rule.resource_types)]
    head = f"{len(RULES)} rules in the pack; {len(applied)} apply to this stack's resource types."
    if not violations:
        return [f"**PASS** — no violations. {head}", "", "Applied: " + ", ".join(f"`{n}`" for n in applied)]
    lines = [f"**FAIL** — {len(violations)} violation(s). {head}", "", "| Rule | Resource | Message |", "|---|---|---|"]
    lines += [f"| `{v.rule}` | `{v.resource_type}` {md(v.resource_name)} | {md(v.message)} |" for v in sorted_violations(violations)]
    return lines


def checkov_section(scan: ScanResult | None) -> list[str]:
    """checkov's verdict on the stack exported as a Terraform plan (offline/tfplan.py), each failure
    either excepted (policy/checkov-exceptions.yaml, with its reason) or a finding that fails the plan."""
    if scan is None:
        return ["Not run (`--no-checkov`)."]
    verdict = "PASS" if not scan.unexcepted else f"FAIL ({len(scan.unexcepted)} failure(s) neither fixed nor excepted)"
    lines = [
        f"**{verdict}** — checkov {scan.checkov_version}, `terraform_plan` framework: {scan.passed} passed, {len(scan.failed)} failed, "
        f"{len(scan.excepted)} of them excepted in `policy/checkov-exceptions.yaml`.",
    ]
    if scan.unexcepted:
        lines += ["", "Failures not excepted (fix them, or add an exception with a reason):", "", "| Check | Resource | Title |", "|---|---|---|"]
        lines += [f"| `{f.check_id}` | `{f.resource}` | {md(f.check_name)} |" for f in scan.unexcepted]
    if scan.excepted:
        lines += ["", "Excepted failures:", "", "| Check | Resource | Reason |", "|---|---|---|"]
        lines += [f"| `{f.check_id}` | `{f.resource}` | {md(e.reason)} |" for f, e in scan.excepted]
    return lines
