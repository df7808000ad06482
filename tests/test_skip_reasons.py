"""Every skipped test says why, and the summary line shows it: pytest runs with `-rs` (pyproject.toml
addopts), and each skip in the test code (`pytest.skip`, `pytest.mark.skip`, `pytest.mark.skipif`,
`pytest.importorskip`) carries a non-empty reason, so `-rs` never prints "unconditional skip" or a bare
condition."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_DIRS = ("tests", "app/tests")


def _name(node: ast.expr) -> str:
    """`pytest.mark.skipif` for the call's function (attribute chains only)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _reason(call: ast.Call, positional: int) -> ast.expr | None:
    """The reason argument: the `reason` keyword (`msg` for pytest.skip's old spelling), or the
    positional argument at index `positional`."""
    for kw in call.keywords:
        if kw.arg in ("reason", "msg"):
            return kw.value
    return call.args[positional] if len(call.args) > positional else None


# Which argument holds the reason, by the function that skips.
SKIPPERS = {"pytest.skip": 0, "pytest.mark.skip": 0, "pytest.mark.skipif": 1, "pytest.importorskip": None}


def skips_without_reason(source: str, filename: str) -> list[str]:
    """`file:line name` of every skip in `source` whose reason is missing or blank, in line order."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and _name(node.func) in SKIPPERS:
            name, position = _name(node.func), SKIPPERS[_name(node.func)]
            reason = next((kw.value for kw in node.keywords if kw.arg == "reason"), None) if position is None else _reason(node, position)
            if reason is None or (isinstance(reason, ast.Constant) and not str(reason.value).strip()):
                found.append((node.lineno, f"{filename}:{node.lineno} {name}"))
        # `@pytest.mark.skip` without a call has no reason at all.
        for d in getattr(node, "decorator_list", []):
            if isinstance(d, ast.Attribute) and _name(d) == "pytest.mark.skip":
                found.append((d.lineno, f"{filename}:{d.lineno} pytest.mark.skip"))
    return [text for _, text in sorted(found)]


def test_every_skip_in_the_tests_gives_a_reason():
    files = [p for d in TEST_DIRS for p in sorted((ROOT / d).glob("*.py"))]
    assert len(files) > 50
    missing = [m for p in files for m in skips_without_reason(p.read_text(), str(p.relative_to(ROOT)))]
    assert missing == []


def test_the_check_finds_each_kind_of_skip_without_a_reason():
    source = """
import pytest
pytest.skip()
pytest.skip("")
pytest.importorskip("boto3")
@pytest.mark.skip
def test_a(): ...
@pytest.mark.skip()
def test_b(): ...
@pytest.mark.skipif(True)
def test_c(): ...
@pytest.mark.skipif(True, reason="   ")
def test_d(): ...
"""
    assert skips_without_reason(source, "t.py") == [
        "t.py:3 pytest.skip",
        "t.py:4 pytest.skip",
        "t.py:5 pytest.importorskip",
        "t.py:6 pytest.mark.skip",
        "t.py:8 pytest.mark.skip",
        "t.py:10 pytest.mark.skipif",
        "t.py:12 pytest.mark.skipif",
    ]
    reasoned = """
import pytest
pytest.skip("needs Node.js")
pytest.skip(reason="needs Node.js")
pytest.importorskip("boto3", reason="boto3 is a dev requirement")
@pytest.mark.skip(reason="x")
def test_a(): ...
@pytest.mark.skipif(True, reason="y")
def test_b(): ...
@pytest.mark.skipif(True, "z")
def test_c(): ...
"""
    assert skips_without_reason(reasoned, "t.py") == []


def test_the_summary_line_lists_each_skip_with_its_reason():
    """`-rs` in addopts: `./scripts/test` and a bare `pytest` both end with `SKIPPED [1] file:line: reason`."""
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "-rs" in addopts
