"""No import cycles in the product: each shared fact lives in the module that owns it, and a module that needs it
imports that module; two modules never need each other.

The graph: one node per product module (every `.py` under components/, functions/, offline/, policy/, program/,
tools/, and `__main__.py`), and an edge from a module to each product module it imports, wherever the import
statement is: at the top, inside a function or method, inside an `if TYPE_CHECKING:` block, or in a package's
`__init__.py`. A function-level import only postpones the cycle to the first call, and a TYPE_CHECKING-only
import is still a dependency of the module's meaning (its annotations name the other module's types), so both
count. Resolution:
- `import a.b.c` depends on `a.b.c` (the longest prefix that is a product module);
- `from a.b import c` depends on `a.b.c` when `c` is a submodule (it is the same import as `import a.b.c`), and
  on the package `a.b` (its `__init__`) when `c` is a name the package defines or re-exports;
- relative imports (`from .x import y`, `from .. import y`) resolve against the importing module's package.
Importing `a.b.c`, in either spelling, also runs the `__init__` of `a` and `a.b` first; that implied edge is left
out, because every package whose `__init__` re-exports its modules would otherwise be "in a cycle" with each of
them that imports a sibling, a pattern Python resolves (a submodule import does not need the package's names). What
breaks at import time, and counts here, is a module taking a NAME from a package whose `__init__` imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("components", "functions", "offline", "policy", "program", "tools")


def module_names(root: Path) -> dict[str, Path]:
    """Every product module under `root`, by dotted name (a package by its own name, `__main__` for the program)."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    if (root / "__main__.py").is_file():
        modules["__main__"] = root / "__main__.py"
    return modules


def _known(name: str, modules: Mapping[str, Path]) -> str | None:
    """`name` or its longest prefix that is a product module; None for a third-party or standard module."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The product modules `module` imports, anywhere in its code."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {target for alias in node.names if (target := _known(alias.name, modules))}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                source = f"{package}.{node.module}" if node.module else package
            else:
                source = node.module or ""
            if (target := _known(source, modules)) is None:
                continue
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else target)
    found.discard(module)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = module_names(root)
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Each strongly connected set of modules, written as one of its cycles (`a -> b -> a`), starting at its
    alphabetically first module. Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    components.append(members)
    return sorted(_one_cycle(sorted(members), graph) for members in components)


def _one_cycle(members: list[str], graph: Mapping[str, Iterable[str]]) -> str:
    """A shortest path from the first member back to itself, inside the strongly connected set."""
    start, inside = members[0], set(members)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child not in inside or child in previous:
                    continue
                previous[child] = node
                if child == start:
                    path = [start]
                    while path[-1] != start or len(path) == 1:
                        path.append(previous[path[-1]])
                    return " -> ".join(reversed(path))
                following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {members}")


def test_the_product_has_no_import_cycles():
    found = cycles(import_graph(ROOT))
    assert found == [], "import cycles (put the shared fact in the module that owns it):\n" + "\n".join(found)


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The walk is not vacuous: a synthetic tree with a cycle through each kind of import is caught, named as
    `a -> b -> a`, and an acyclic chain is not."""
    files = {
        # module-level `from x import y`, y a submodule: a -> b (not the package)
        "components/__init__.py": "",
        "components/a.py": "from components import b\n",
        # an import inside a function: b -> a
        "components/b.py": "def later():\n    import components.a\n",
        # relative imports and a TYPE_CHECKING-only import: c -> d -> c
        "offline/__init__.py": "",
        "offline/c.py": "from .d import thing\n",
        "offline/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from offline.c import other\n",
        # a package __init__ re-exporting a module that takes a name from the package: pkg -> pkg.e -> pkg; its
        # sibling import through the package is no edge to the package
        "tools/__init__.py": "",
        "tools/pkg/__init__.py": "from tools.pkg.e import E\nLIMIT = 1\n",
        "tools/pkg/e.py": "from tools.pkg import helpers\nfrom tools.pkg import LIMIT\n",
        "tools/pkg/helpers.py": "import json\n",
        # ... and `from .. import pkg` in a function imports the package itself: f -> pkg -> pkg.f -> pkg
        "tools/pkg/f.py": "def later():\n    from .. import pkg\n",
        # the program: __main__ -> program.f -> __main__ (absurd, but a cycle)
        "program/__init__.py": "",
        "program/f.py": "import __main__\n",
        "__main__.py": "import program.f\nimport pulumi\n",
        # an acyclic chain: g -> h -> policy (package), and a third-party import
        "policy/__init__.py": "",
        "policy/g.py": "from policy import h\n",
        "policy/h.py": "import policy\nimport pulumi_aws\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["components.a"] == {"components.b"}
    assert graph["offline.c"] == {"offline.d"}
    assert graph["tools.pkg.e"] == {"tools.pkg", "tools.pkg.helpers"}
    assert graph["tools.pkg.f"] == {"tools.pkg"}
    assert graph["policy.h"] == {"policy"}
    assert cycles(graph) == [
        "__main__ -> program.f -> __main__",
        "components.a -> components.b -> components.a",
        "offline.c -> offline.d -> offline.c",
        "tools.pkg -> tools.pkg.e -> tools.pkg",
    ]
