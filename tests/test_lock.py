"""The lock: constraints.txt pins every package the tests install, the requirement files apply it, and the
interpreter running these tests has exactly those versions (CI's fresh venv proves the two agree)."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# Seeded into every venv by `python -m venv`; not installed from the requirement files.
TOOLING = {"pip", "setuptools", "wheel"}


def requirement_lines(path: Path) -> list[str]:
    """Requirement specifiers of a pip requirements file (comments and `-r`/`-c` options left out)."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            lines.append(line)
    return lines


def requirements() -> list[Requirement]:
    return [Requirement(line) for name in ("requirements.txt", "requirements-dev.txt") for line in requirement_lines(ROOT / name)]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in requirement_lines(ROOT / "constraints.txt"):
        req = Requirement(line)
        [spec] = req.specifier
        assert spec.operator == "==" and not req.extras and not req.marker, f"constraints.txt: {line!r} is not an exact pin"
        name = canonicalize_name(req.name)
        assert name not in found, f"constraints.txt pins {name} twice"
        found[name] = spec.version
    return found


def installed_closure() -> set[str]:
    """Every distribution the requirement files pull in, walked through the installed metadata."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(req, frozenset(req.extras)) for req in requirements()]
    while todo:
        req, extras = todo.pop()
        key = (canonicalize_name(req.name), extras)
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.distribution(req.name).requires or []:
            dep = Requirement(text)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in environments):
                todo.append((dep, frozenset(dep.extras)))
    return {name for name, _ in seen} - TOOLING


def test_both_venvs_read_the_lock():
    """Pulumi's runtime installs requirements.txt; the test venv installs requirements-dev.txt, which includes it."""
    assert "-c constraints.txt" in (ROOT / "requirements.txt").read_text().splitlines()
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()


def test_every_requirement_has_a_pin_inside_its_range():
    locked = pins()
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} has no pin in constraints.txt: run scripts/lock"
        assert req.specifier.contains(locked[name], prereleases=True), f"constraints.txt: {name}=={locked[name]} is outside {req}"


def test_installed_versions_are_the_pins():
    locked = pins()
    closure = installed_closure()
    wrong = {name: (metadata.version(name), locked.get(name)) for name in closure if metadata.version(name) != locked.get(name)}
    assert wrong == {}, "installed != pinned (installed, pin); reinstall with ./scripts/test or rerun scripts/lock"
    assert set(locked) - closure == set(), "constraints.txt pins packages nothing requires: rerun scripts/lock"


# ------------------------------------------------------------------------------------------
# scripts/lock and scripts/test, run against stand-in interpreters
# ------------------------------------------------------------------------------------------


def stand_in(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_lock_writes_sorted_normalised_pins_without_tooling(tmp_path):
    freeze = "PyYAML==6.0.2\nzope.interface==7.0\npip==24.0\nsetuptools==70.0\nWheel==0.43\nAttrs==24.2.0\n-e git+https://example.invalid/x#egg=x\nlocal @ file:///tmp/local\n"
    (tmp_path / "freeze.txt").write_text(freeze)
    python = stand_in(tmp_path / "python", f'[ "$*" = "-m pip freeze --exclude-editable --disable-pip-version-check" ] && cat {tmp_path / "freeze.txt"}\n')
    out = tmp_path / "constraints.txt"
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run([str(ROOT / "scripts" / "lock"), "--installed", str(python), "--output", str(out)], check=True, env=env, capture_output=True, timeout=60)
    lines = out.read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == ["attrs==24.2.0", "pyyaml==6.0.2", "zope-interface==7.0"]
    assert any("scripts/lock" in line for line in lines if line.startswith("#"))  # says how to regenerate
    # The committed lock has the same shape.
    committed = (ROOT / "constraints.txt").read_text().splitlines()
    assert committed[:3] == lines[:3]
    body = [line for line in committed if not line.startswith("#")]
    names = [line.split("==")[0] for line in body]
    assert names == sorted(names) and all(name == canonicalize_name(name) for name in names)


@pytest.fixture()
def project_copy(tmp_path) -> Path:
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test", tmp_path / "scripts" / "test")
    stand_in(tmp_path / ".venv" / "bin" / "python", f'echo "$*" >> {tmp_path / "calls.log"}\n')
    return tmp_path


def run_test_script(project: Path) -> list[str]:
    log = project / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run(["bash", str(project / "scripts" / "test"), "-q"], check=True, capture_output=True, timeout=60)
    return log.read_text().splitlines()


def test_a_changed_lock_reinstalls_the_test_venv(project_copy):
    install = "-m pip install --quiet --disable-pip-version-check -r requirements-dev.txt"
    assert run_test_script(project_copy) == [install, "-m pytest -n auto --dist loadfile --no-loadscope-reorder -q"]
    assert run_test_script(project_copy) == ["-m pytest -n auto --dist loadfile --no-loadscope-reorder -q"]  # unchanged: no reinstall
    with (project_copy / "constraints.txt").open("a") as lock:
        lock.write("# changed\n")
    assert run_test_script(project_copy) == [install, "-m pytest -n auto --dist loadfile --no-loadscope-reorder -q"]
