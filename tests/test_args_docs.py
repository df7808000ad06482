"""Every component argument documents itself (STYLE.md, CDK's `@default - ...` habit): each field of an
`...Args` dataclass has a docstring, and a field with a default says what happens when it is omitted.
The settings dataclasses' defaulted fields follow the same rule. Read from the source with `ast`, so the
check sees the docstrings (which the running dataclasses drop)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "components"
SETTINGS = COMPONENTS / "settings"
OMITTED = "Omitted"


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (isinstance(target, ast.Name) and target.id == "dataclass") or (isinstance(target, ast.Attribute) and target.attr == "dataclass"):
            return True
    return False


def _fields(node: ast.ClassDef):
    """(name, has_default, docstring or None) of each field, in order (KW_ONLY markers skipped)."""
    body = node.body
    for index, statement in enumerate(body):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        if ast.unparse(statement.annotation) in {"KW_ONLY", "dataclasses.KW_ONLY"}:
            continue
        following = body[index + 1] if index + 1 < len(body) else None
        doc = None
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str):
            doc = following.value.value
        yield statement.target.id, statement.value is not None, doc


def problems(source: str, *, settings: bool) -> list[str]:
    """What the rule finds wrong in one module's source: Args fields without a docstring, and defaulted
    fields (of Args, or of any dataclass in a settings module) whose docstring does not say "Omitted"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and _is_dataclass(node)):
            continue
        is_args = node.name.endswith("Args")
        if not (is_args or settings):
            continue
        for name, has_default, doc in _fields(node):
            if is_args and doc is None:
                found.append(f"{node.name}.{name}: no docstring; say what it is")
            elif has_default and (doc is None or OMITTED not in doc):
                found.append(f'{node.name}.{name}: has a default but its docstring does not say what happens when it is omitted ("{OMITTED}: ...")')
    return found


def _modules():
    return sorted(COMPONENTS.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_args_fields_are_documented(path: Path):
    assert problems(path.read_text(), settings=SETTINGS in path.parents) == []


def test_the_scan_reaches_every_components_args():
    """A rename or a new layout would silently shrink the scan."""
    args = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and _is_dataclass(node) and node.name.endswith("Args"):
                args.add(node.name)
    assert {
        "ArtifactStoreArgs",
        "BuildArgs",
        "ImageRecordArgs",
        "PipelineArgs",
        "RegistryArgs",
        "SourceArgs",
        "EcsTargetArgs",
        "EksTargetArgs",
        "LoadBalancerArgs",
        "NetworkArgs",
        "AlarmsArgs",
        "AuditTrailArgs",
        "DashboardArgs",
        "NotificationsArgs",
    } <= args


UNDOCUMENTED = '''
from dataclasses import dataclass, field

@dataclass(frozen=True)
class ThingArgs:
    name: str
    """Physical name."""
    size: int
    colour: str = "red"
    """The colour."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags. Omitted: untagged."""

@dataclass
class Plain:
    free: int = 1
'''


def test_the_rule_catches_a_missing_docstring_and_a_missing_omitted():
    assert problems(UNDOCUMENTED, settings=False) == [
        "ThingArgs.size: no docstring; say what it is",
        'ThingArgs.colour: has a default but its docstring does not say what happens when it is omitted ("Omitted: ...")',
    ]
    # In a settings module every dataclass's defaulted fields are held to it, not only Args.
    assert "Plain.free: has a default" in " ".join(problems(UNDOCUMENTED, settings=True))
