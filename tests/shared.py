"""What the pytest-xdist workers of one test run share (tests/conftest.py's stacks, tests/delivery.py's deliveries):
plain data a worker leaves in the run's folder for the other, written atomically, and a lock so that two workers
needing the same value at the same time compute it once."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_shared(path: Path) -> Any:
    """What a worker of this run left at `path`, or None."""
    try:
        return pickle.loads(path.read_bytes())  # noqa: S301 - written by this run's own workers
    except (FileNotFoundError, EOFError, pickle.UnpicklingError):
        return None


def write_shared(path: Path, value: Any) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(pickle.dumps(value))
    partial.replace(path)  # atomic: a reader sees the whole value or none


@contextlib.contextmanager
def shared_lock(path: Path | None) -> Iterator[None]:
    """Held while a worker computes what it leaves at `path`: a worker that needs the same value at the same
    time (both start with the same stacks) waits for it instead of computing it again. The lock goes with its
    process, so a worker that fails leaves none behind. None: no other worker, no lock."""
    if path is None:
        yield
        return
    with path.with_name(f"{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
