"""components/settings/ is a package of small modules by concern, imported only as `components.settings`."""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import components.settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DIR = ROOT / "components" / "settings"
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(SETTINGS_DIR.glob("*.py"))


def test_no_file_of_the_settings_package_exceeds_the_line_budget():
    files = sorted(p for p in SETTINGS_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert len(files) >= 10
    too_long = {p.name: n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}


def test_the_settings_modules_import_each_other_without_a_cycle():
    graph = {}
    for path in _modules():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components.settings."):
                imported.add(node.module.removeprefix("components.settings."))
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path.name}: relative import"
            assert not (isinstance(node, ast.ImportFrom) and node.module == "components.settings"), f"{path.name} imports the package it is part of"
        graph[path.stem] = imported
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order[-1] == "__init__"


def test_every_name_imported_from_components_settings_is_exported_there():
    """Callers import from `components.settings` only; every name they use is in its __all__."""
    sources = [ROOT / "__main__.py", *(p for folder in ("components", "offline", "policy", "tools", "tests") for p in (ROOT / folder).rglob("*.py"))]
    used: dict[str, str] = {}
    for path in sources:
        where = str(path.relative_to(ROOT))
        if where.startswith("components/settings/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "components.settings":
                used.update({alias.name: where for alias in node.names})
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("components.settings."):
                raise AssertionError(f"{where} imports {node.module}; import from components.settings")
        used.update({name: where for name in re.findall(r"settings_module\.(\w+)", path.read_text())})
    assert len(used) >= 20  # the scan reaches the callers
    missing = {name: where for name, where in used.items() if name not in components.settings.__all__}
    assert missing == {}
    assert all(hasattr(components.settings, name) for name in components.settings.__all__)
