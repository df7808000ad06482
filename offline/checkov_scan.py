"""Scan an offline-evaluated stack with checkov and hold each failure against policy/checkov-exceptions.yaml.

Used by the offline plan (`python -m offline.plan <stack>`, its "checkov" section) and tests/test_checkov.py.
The stack is exported as Terraform plan JSON (offline/tfplan.py) and scanned in-process by checkov's
`terraform_plan` runner (the same runner as `checkov -f plan.json --framework terraform_plan`). A
failure is accepted only when an exception names its check id, matches its resource address (a glob)
and holds for the stack's settings (`when`: what the stack is, never its name); every other failure
fails the offline plan (exit 3, as a policy violation does).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import os
import tempfile
import time
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from components.settings import PROJECT, Settings, parse_settings
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
    when: tuple[tuple[str, Any], ...]
    """(setting, value) pairs over the stack's evaluated settings, all of which must hold; empty: every stack.
    A setting is a field path of `components.settings.Settings` (`production`, `network.waf`)."""
    reason: str

    def applies(self, settings: Settings) -> bool:
        return all(setting_value(settings, path) == value for path, value in self.when)

    def matches(self, finding: Finding, settings: Settings) -> bool:
        return finding.check_id == self.check_id and fnmatch.fnmatchcase(finding.resource, self.resource) and self.applies(settings)

    @property
    def when_text(self) -> str:
        """`production: false, network.waf: false`, as the exceptions file and docs/policy.md write it."""
        return ", ".join(f"{path}: {_yaml_scalar(value)}" for path, value in self.when)


def _yaml_scalar(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def setting_value(settings: Any, path: str) -> Any:
    """The value at a field path of the evaluated settings; an enum as its config spelling; None below a
    part the stack does not have (`ecs.cpu` of an EKS stack)."""
    value = settings
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    return value.value if isinstance(value, Enum) else value


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)  # evaluates every annotation of the class: once, not once a field
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def when_problem(path: str, value: Any) -> str | None:
    """What is wrong with the condition `path: value` of an exception's `when`, or None."""
    cls: Any = Settings
    optional = False
    parts = path.split(".")
    for i, part in enumerate(parts):
        fields = _field_types(cls)
        if part not in fields:
            where = ".".join(parts[:i]) or "Settings"
            return f"{'.'.join(parts[: i + 1])!r} is not a setting; {where} has {', '.join(sorted(fields))}"
        kind = fields[part]
        args = typing.get_args(kind)
        if type(None) in args:
            optional = True
            [kind] = [a for a in args if a is not type(None)]
        cls = kind
    if value is None:
        return None if optional else f"{path} is never null"
    if dataclasses.is_dataclass(cls) or typing.get_origin(cls) is not None:
        return f"{path} is a group or a list of settings; name one setting of it"
    if isinstance(cls, type) and issubclass(cls, Enum):
        allowed = [m.value for m in cls]
        return None if value in allowed else f"{path} is one of {', '.join(map(repr, allowed))}, not {value!r}"
    if cls is bool:
        return None if isinstance(value, bool) else f"{path} is true or false, not {value!r}"
    if cls in (int, float):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else f"{path} is a number, not {value!r}"
    return None if isinstance(value, cls) else f"{path} is a {cls.__name__}, not {value!r}"


@dataclass
class ScanResult:
    stack: str
    passed: int
    failed: list[Finding]
    excepted: list[tuple[Finding, Exception_]] = field(default_factory=list)
    unexcepted: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    checkov_version: str = ""


ENTRY_KEYS = ("check", "resource", "when", "reason")


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[Exception_]:
    """The exceptions file's entries; each needs `check`, `resource` and a non-empty `reason`, and its
    optional `when` names settings of `components.settings.Settings` with values they can have."""
    data = yaml.safe_load(path.read_text()) or {}
    found = []
    for i, entry in enumerate(data.get("exceptions") or []):
        where = f"{path.name}: exception #{i + 1} ({entry.get('check')} {entry.get('resource')})"
        missing = [k for k in ("check", "resource", "reason") if not str(entry.get(k) or "").strip()]
        if missing:
            raise ValueError(f"{path.name}: exception #{i + 1} ({entry}) lacks {', '.join(missing)}; every entry needs check, resource and reason")
        unknown = [k for k in entry if k not in ENTRY_KEYS]
        if unknown:
            fix = "scope it by what the stack is, e.g. `when: {production: false}`" if "stacks" in unknown else f"use only {', '.join(ENTRY_KEYS)}"
            raise ValueError(f"{where}: unknown key {', '.join(map(repr, unknown))}; {fix}")
        when = entry.get("when") or {}
        if not isinstance(when, dict):
            raise ValueError(f"{where}: when is {when!r}; write settings and their values, e.g. `when: {{production: false}}`")
        for setting, value in when.items():
            problem = when_problem(str(setting), value)
            if problem:
                raise ValueError(f"{where}: when: {problem}")
        found.append(Exception_(str(entry["check"]), str(entry["resource"]), tuple((str(k), v) for k, v in when.items()), str(entry["reason"]).strip()))
    return found


def stack_settings(result: StackResult) -> Settings:
    """The settings the program evaluated `result` with (its config without the project's namespace)."""
    raw = {k.split(":", 1)[1]: v for k, v in result.config.items() if k.startswith(f"{PROJECT}:")}
    return parse_settings(raw, PROJECT, result.stack)


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

    # checkov's graph builder logs its progress on the root logger ("Creating vertices"), which its import
    # sets to INFO: quiet it for the scan, so the plan's output stays the plan's.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plan.json"
            path.write_text(text)
            report = Runner().run(root_folder=None, files=[str(path)], runner_filter=RunnerFilter(framework=["terraform_plan"], download_external_modules=False))
    finally:
        root.setLevel(level)
    reports = report if isinstance(report, list) else [report]
    passed = sum(len(r.passed_checks) for r in reports)
    failed = sorted({Finding(c.check_id, c.resource, c.check_name) for r in reports for c in r.failed_checks}, key=lambda f: (f.check_id, f.resource))
    return passed, failed, version


def as_judged(finding: Finding, settings: Settings) -> tuple[Finding, Settings]:
    """A resource of a named service (`services`) is judged as the same resource of a one-service stack, under
    that service's settings: `aws_lambda_function.api-deploy-verify-function` as `...deploy-verify-function` with
    api's strategy and size. Its logical names are `<service>-<base>` (program/naming.py); the longest service name
    that prefixes it wins, so `api-v2-...` is never api's. Anything else (a shared resource) is judged as it is."""
    kind, _, name = finding.resource.partition(".")
    for service in sorted(settings.services, key=lambda s: len(s.name), reverse=True):
        if name.startswith(f"{service.name}-"):
            return Finding(finding.check_id, f"{kind}.{name[len(service.name) + 1 :]}", finding.check_name), service.settings
    return finding, settings


def judge(settings: Settings, passed: int, failed: Sequence[Finding], exceptions: Sequence[Exception_]) -> ScanResult:
    """Each failure excepted or not by what the stack is (its settings, a service's for its own resources), never by
    its name."""
    result = ScanResult(stack=settings.stack, passed=passed, failed=list(failed))
    for finding in failed:
        judged, judged_settings = as_judged(finding, settings)
        match = next((e for e in exceptions if e.matches(judged, judged_settings)), None)
        if match is None:
            result.unexcepted.append(finding)
        else:
            result.excepted.append((finding, match))
    return result


def scan(result: StackResult, exceptions: Sequence[Exception_] | None = None) -> ScanResult:
    """Convert, scan and judge one evaluated stack."""
    start = time.monotonic()
    passed, failed, version = run_checkov(to_plan(result))
    judged = judge(stack_settings(result), passed, failed, load_exceptions() if exceptions is None else exceptions)
    judged.seconds = time.monotonic() - start
    judged.checkov_version = version
    return judged


def stale_exceptions(exceptions: Sequence[Exception_], results: Sequence[ScanResult]) -> list[Exception_]:
    """Exceptions that match no failure in any of the scanned stacks (to be removed from the file)."""
    used = {e for r in results for _, e in r.excepted}
    return [e for e in exceptions if e not in used]
