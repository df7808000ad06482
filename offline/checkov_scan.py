"""Scan an offline-evaluated stack with checkov and hold each failure against policy/checkov-exceptions.yaml.

Used by the offline plan (`python -m offline.plan <stack>`, its "checkov" section) and tests/test_checkov.py.
The stack is exported as Terraform plan JSON (offline/tfplan.py) and scanned in-process by checkov's
`terraform_plan` runner (the same runner as `checkov -f plan.json --framework terraform_plan`). A
failure is accepted only when an exception names its check id, matches its resource address (a glob)
and the stack; every other failure fails the offline plan (exit 3, as a policy violation does).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from offline.mocks import ROOT, StackResult
from offline.tfplan import to_plan

EXCEPTIONS_FILE = ROOT / "policy" / "checkov-exceptions.yaml"


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str
    """Terraform address, e.g. `aws_ecr_repository.registry-repo`."""
    check_name: str


@dataclass(frozen=True)
class Exception_:
    check_id: str
    resource: str
    """A Terraform address or an fnmatch glob over addresses."""
    stacks: tuple[str, ...]
    """Stack names the exception applies to; empty means every stack."""
    reason: str

    def matches(self, finding: Finding, stack: str) -> bool:
        return finding.check_id == self.check_id and fnmatch.fnmatchcase(finding.resource, self.resource) and (not self.stacks or stack in self.stacks)


@dataclass
class ScanResult:
    stack: str
    passed: int
    failed: list[Finding]
    excepted: list[tuple[Finding, Exception_]] = field(default_factory=list)
    unexcepted: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    checkov_version: str = ""


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[Exception_]:
    """The exceptions file's entries; each needs `check`, `resource` and a non-empty `reason`."""
    data = yaml.safe_load(path.read_text()) or {}
    found = []
    for i, entry in enumerate(data.get("exceptions") or []):
        missing = [k for k in ("check", "resource", "reason") if not str(entry.get(k) or "").strip()]
        if missing:
            raise ValueError(f"{path.name}: exception #{i + 1} ({entry}) lacks {', '.join(missing)}; every entry needs check, resource and reason")
        stacks = entry.get("stacks") or []
        found.append(Exception_(str(entry["check"]), str(entry["resource"]), tuple(str(s) for s in stacks), str(entry["reason"]).strip()))
    return found


_SCANNED: dict[str, tuple[int, list[Finding], str]] = {}
"""Results by plan document: a process scans the same plan once (the tests plan each stack many times)."""


def run_checkov(plan: Mapping) -> tuple[int, list[Finding], str]:
    """checkov's terraform_plan runner over one plan document: passed count, failures, checkov version."""
    text = json.dumps(plan, sort_keys=True, default=str)
    if text not in _SCANNED:
        _SCANNED[text] = _run_checkov(text)
    passed, failed, version = _SCANNED[text]
    return passed, list(failed), version


def _run_checkov(text: str) -> tuple[int, list[Finding], str]:
    logging.getLogger("checkov").setLevel(logging.ERROR)
    os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")  # no download of Prisma Cloud guideline links
    os.environ.setdefault("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
    from checkov.runner_filter import RunnerFilter
    from checkov.terraform.plan_runner import Runner
    from checkov.version import version

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        path.write_text(text)
        report = Runner().run(root_folder=None, files=[str(path)], runner_filter=RunnerFilter(framework=["terraform_plan"], download_external_modules=False))
    reports = report if isinstance(report, list) else [report]
    passed = sum(len(r.passed_checks) for r in reports)
    failed = sorted({Finding(c.check_id, c.resource, c.check_name) for r in reports for c in r.failed_checks}, key=lambda f: (f.check_id, f.resource))
    return passed, failed, version


def judge(stack: str, passed: int, failed: Sequence[Finding], exceptions: Sequence[Exception_]) -> ScanResult:
    result = ScanResult(stack=stack, passed=passed, failed=list(failed))
    for finding in failed:
        match = next((e for e in exceptions if e.matches(finding, stack)), None)
        if match is None:
            result.unexcepted.append(finding)
        else:
            result.excepted.append((finding, match))
    return result


def scan(result: StackResult, exceptions: Sequence[Exception_] | None = None) -> ScanResult:
    """Convert, scan and judge one evaluated stack."""
    start = time.monotonic()
    passed, failed, version = run_checkov(to_plan(result))
    judged = judge(result.stack, passed, failed, load_exceptions() if exceptions is None else exceptions)
    judged.seconds = time.monotonic() - start
    judged.checkov_version = version
    return judged


def stale_exceptions(exceptions: Sequence[Exception_], results: Sequence[ScanResult]) -> list[Exception_]:
    """Exceptions that match no failure in any of the scanned stacks (to be removed from the file)."""
    used = {e for r in results for _, e in r.excepted}
    return [e for e in exceptions if e not in used]
