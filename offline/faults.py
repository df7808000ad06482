"""Fault injection: small, named source mutations the test suite must catch, one at a time.

    scripts/faults                 # every fault; one line each: caught / NOT CAUGHT; exit 1 if any is not caught
    scripts/faults NAME [NAME...]  # only these faults

Each fault is applied to a temporary copy of the repository (the working tree is never touched) and the
suite runs there with `-x`, on every core, so a caught fault costs only the time to its first failure. The
URN and input snapshots (tests/test_urn_contract.py) are left out: they notice any change of inputs, so a
fault only they catch has no test of its behaviour, and is reported NOT CAUGHT. A fault whose
`old` text is not in its file exactly once "does not apply": the list is checked against the tree by
tests/test_faults.py, so a refactoring that moves the code must move the fault with it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from offline.fault_catalogue import FAULTS as SINGLE_SERVICE_FAULTS
from offline.fault_catalogue import Fault
from offline.fault_catalogue_services import SERVICES_FAULTS

ROOT = Path(__file__).resolve().parent.parent
# Not copied: the virtualenv (the run uses the project's), VCS data and caches.
IGNORED = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "*.pyc")
# tests/test_faults.py fails on every mutated tree by design (the fault's text is gone): it must not count as a catch.
PYTEST = ("-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", "-n", "auto", "--dist", "loadfile")
PYTEST += ("--ignore=tests/test_faults.py", "--ignore=tests/test_urn_contract.py")


# The catalogue in two parts, each within the layout's size.
FAULTS: tuple[Fault, ...] = (*SINGLE_SERVICE_FAULTS, *SERVICES_FAULTS)

__all__ = ["FAULTS", "Fault", "applies", "inject", "main", "run_suite"]


def applies(fault: Fault, root: Path = ROOT) -> bool:
    path = root / fault.file
    return path.is_file() and path.read_text().count(fault.old) == 1


def inject(fault: Fault, root: Path) -> None:
    """Apply `fault` to the tree at `root` (a copy)."""
    if root.resolve() == ROOT:
        raise ValueError("refusing to mutate the working tree; inject into a copy")
    path = root / fault.file
    path.write_text(path.read_text().replace(fault.old, fault.new, 1))


def run_suite(root: Path) -> int:
    python = ROOT / ".venv" / "bin" / "python"
    return subprocess.run([str(python if python.exists() else sys.executable), *PYTEST], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def main(argv: list[str]) -> int:
    chosen = [f for f in FAULTS if not argv or f.name in argv]
    unknown = set(argv) - {f.name for f in FAULTS}
    if unknown:
        print(f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(f.name for f in FAULTS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        pristine = Path(tmp) / "pristine"
        shutil.copytree(ROOT, pristine, ignore=IGNORED, symlinks=True)
        started = time.monotonic()
        if run_suite(pristine) != 0:
            print("the suite fails without any fault: fix it first (./scripts/test)", file=sys.stderr)
            return 2
        print(f"baseline passes ({time.monotonic() - started:.0f} s); injecting {len(chosen)} fault(s), one at a time")
        missed = 0
        for fault in chosen:
            if not applies(fault, pristine):
                print(f"{fault.name:42} {fault.kind:11} fault does not apply ({fault.file})")
                missed += 1
                continue
            work = Path(tmp) / fault.name
            shutil.copytree(pristine, work, symlinks=True)
            inject(fault, work)
            started = time.monotonic()
            code = run_suite(work)
            # 1: a test failed; 2-4: collection/usage errors also stop a broken change. 0 and 5 (nothing ran) do not.
            caught = code not in (0, 5)
            missed += not caught
            print(f"{fault.name:42} {fault.kind:11} {'caught' if caught else 'NOT CAUGHT'} ({time.monotonic() - started:.0f} s)", flush=True)
            shutil.rmtree(work)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
