"""The code's layout: one home per concern, no file outgrows a reviewable size, and no concern reaches
into another's internals (a name with a leading underscore is a module's own business)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("components", "functions", "offline", "policy", "program", "tools")
MAX_LINES = 400
# No exceptions: every module stays readable in one sitting.
OVERSIZE_ALLOWED: tuple[str, ...] = ()
# The concerns under components/, each a sub-package whose modules mirror its type tokens
# (container-cicd:pipeline:*, container-cicd:network:*, ...); the shared modules stay at the top.
CONCERNS = {
    "delivery": {"source", "artifacts", "build", "buildspec", "pipeline", "registry", "image_record", "release", "path_router"},
    "network": {"vpc", "loadbalancer", "access_logs", "waf", "traffic_shift", "attach", "egress", "dns"},
    "promotion": {"contract", "scripts", "publish", "share", "inbox", "collector", "check", "downstream", "origin", "rescan"},
    "safety": {"alarms", "notifications", "audit", "dashboard", "dora", "supply_panels"},
    "supply": {"signing", "notation", "records", "verify", "gate"},
}
SHARED = {"naming", "iam", "kms", "contracts", "workload", "aws_context", "buckets", "logs", "lambdas", "settings"}


def python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def concern(module: str) -> str:
    """A module's home: its package; a module directly in components/ (a shared one) is its own."""
    path = module_file(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return module if package == "components" else package


def imported_module(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if is_package else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_reaches(path: Path, text: str | None = None) -> list[str]:
    """`from <module> import _name` and `<module alias>._name`, where <module> is a project module of
    another concern. `text`: the module's code, if not the file's."""
    importer = module_name(path)
    tree = ast.parse(path.read_text() if text is None else text)
    reaches: list[tuple[str, str, int]] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and module_file(alias.name):
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = imported_module(importer, path.name == "__init__.py", node)
            if not module_file(source):
                continue  # a third-party module
            for alias in node.names:
                if module_file(f"{source}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif private(alias.name):
                    reaches.append((source, alias.name, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases and private(node.attr):
            reaches.append((aliases[node.value.id], node.attr, node.lineno))
    here = concern(importer)
    return [f"{path.relative_to(ROOT)}:{line}: {source}.{name}" for source, name, line in reaches if concern(source) != here]


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_over_the_limit(path):
    relative = path.relative_to(ROOT).as_posix()
    if relative.startswith(OVERSIZE_ALLOWED):
        return
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{relative} has {lines} lines (at most {MAX_LINES}): split it by what its parts do"


def test_no_concern_imports_another_concerns_private_names():
    assert [reach for path in python_files() for reach in private_reaches(path)] == []


def test_the_check_sees_a_private_reach():
    """The scan is not vacuous: a module of one concern taking another's private name is caught, by
    name or through the module; one taking its own concern's private name is not."""
    alarms = ROOT / "components" / "safety" / "alarms.py"
    code = (
        "from components.delivery.build import _probe\nfrom components.delivery import pipeline\npipeline._x\n"
        "from components.safety.dashboard import _own\nfrom .notifications import _own_too\n"
    )
    assert private_reaches(alarms, code) == [
        "components/safety/alarms.py:1: components.delivery.build._probe",
        "components/safety/alarms.py:3: components.delivery.pipeline._x",
    ]


def test_components_are_grouped_by_concern():
    """Every module under components/ is in its concern's package or is a shared top-level module;
    the deploy targets are packages under components/deploy/."""
    top = {p.stem for p in (ROOT / "components").glob("*.py")} - {"__init__"}
    top |= {p.name for p in (ROOT / "components").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert top == SHARED | set(CONCERNS) | {"deploy"}
    for package, modules in CONCERNS.items():
        assert {p.stem for p in (ROOT / "components" / package).glob("*.py")} - {"__init__"} == modules
    assert {p.name for p in (ROOT / "components" / "deploy").iterdir() if (p / "__init__.py").is_file()} == {"ecs", "eks"}
