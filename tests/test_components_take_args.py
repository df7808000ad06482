"""Components take their own arguments, as pulumi-awsx components and CDK constructs do: no module under
components/ (but the settings package itself) has a function, method or class that takes the stack's `Settings`.
Reading `Settings` into a component's arguments is the program's business (program/args.py, program/origin.py);
offline/ may read it too (the plan shows the settings).

A module "takes Settings" when `Settings` (or a name it is imported as, or a module-level alias whose value names
it, such as `Factory = Callable[[str, Settings], X]`) appears in
- the annotation of a parameter of a function or method it defines, or
- the annotation of a field in a class body (a dataclass's or NamedTuple's fields are its constructor's
  parameters; a Protocol's attributes are what its implementers are handed).
A return annotation does not count: handing out settings is not taking them.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "components"

# The deploy targets' adapters from Settings, which move out of components/ into program/ with the load-balancer
# attach (the registry of targets, each target's from_settings, target_group_tags, traffic_shift_args and the
# helpers only they use), and the targets' plan reports (offline plan code kept beside each target, so nothing
# outside the target's package names it; their `resolved_note` takes the parsed settings). Empty this as they move:
# an entry whose module no longer takes Settings fails test_the_allowlist_is_not_stale.
ALLOWED = {
    "components/deploy/report.py": "TargetReport.resolved_note (the offline plan's configuration notes)",
    "components/deploy/ecs/report.py": "_resolved_note (the offline plan's configuration notes)",
    "components/deploy/eks/report.py": "_resolved_note (the offline plan's configuration notes)",
}


def _names(tree: ast.Module) -> set[str]:
    """The names `Settings` goes by in a module: itself, what it is imported as, and aliases that name it."""
    names = {"Settings"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {alias.asname for alias in node.names if alias.name == "Settings" and alias.asname is not None}
    changed = True
    while changed:  # an alias of an alias
        changed = False
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in names and value is not None and _mentions(value, names):
                    names.add(target.id)
                    changed = True
    return names


def _mentions(annotation: ast.expr | None, names: set[str]) -> bool:
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in names:
            return True
        if isinstance(node, ast.Attribute) and node.attr in names:
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation
            try:
                if _mentions(ast.parse(node.value, mode="eval").body, names):
                    return True
            except SyntaxError:
                continue
    return False


def takers(text: str) -> list[str]:
    """`line: name` of every function, method or class of the module's code that takes Settings."""
    tree = ast.parse(text)
    names = _names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
            taken = [a.arg for a in every if a is not None and _mentions(a.annotation, names)]
            found += [f"{node.lineno}: {node.name}({arg})" for arg in taken]
        elif isinstance(node, ast.ClassDef):
            fields = [s for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and _mentions(s.annotation, names)]
            found += [f"{s.lineno}: {node.name}.{s.target.id}" for s in fields if isinstance(s.target, ast.Name)]
    return sorted(found, key=lambda entry: int(entry.split(":")[0]))


def component_modules() -> list[Path]:
    return sorted(p for p in COMPONENTS.rglob("*.py") if "settings" not in p.relative_to(COMPONENTS).parts[:1])


def test_no_component_takes_the_stack_settings():
    found = {}
    for path in component_modules():
        relative = path.relative_to(ROOT).as_posix()
        if relative not in ALLOWED and (taken := takers(path.read_text())):
            found[relative] = taken
    assert found == {}, "components take their own arguments; read Settings in program/ (program/args.py) and pass what the component needs"


def test_the_allowlist_is_not_stale():
    stale = [module for module in ALLOWED if not (ROOT / module).is_file() or not takers((ROOT / module).read_text())]
    assert stale == [], "these modules take no Settings any more: remove them from ALLOWED"


def test_the_scan_sees_every_way_of_taking_settings():
    """The scan is not vacuous: each way a component could take Settings is found, and what only looks like it
    (another settings type, a return annotation, a name containing Settings) is not."""
    code = """
from collections.abc import Callable
from dataclasses import dataclass
from components.settings import Settings, WorkloadSettings
from components.settings import Settings as Stack
import components.settings as settings_module

Factory = Callable[[str, Settings], int]
Later = Factory | None

def plain(settings: Settings) -> int: ...
def keyword(*, settings: Stack | None = None): ...
def quoted(settings: "Settings"): ...
def through_module(s: settings_module.Settings): ...
def through_alias(make: Later): ...
async def variadic(*many: Settings, **more: Settings): ...

@dataclass(frozen=True)
class Args:
    workload: WorkloadSettings
    factory: Factory
    settings: Settings | None = None

class Component:
    def __init__(self, name: str, args: Args, settings: "list[Settings]"): ...
    def view(self) -> Settings: ...

def fine(workload: WorkloadSettings, settings_count: int, stack_settings: dict) -> Settings: ...
"""
    assert takers(code) == [
        "11: plain(settings)",
        "12: keyword(settings)",
        "13: quoted(settings)",
        "14: through_module(s)",
        "15: through_alias(make)",
        "16: variadic(many)",
        "16: variadic(more)",
        "21: Args.factory",
        "22: Args.settings",
        "25: __init__(settings)",
    ]
