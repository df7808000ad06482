"""Shared fixtures: whole stacks evaluated once per session under the recording mocks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline.mocks import StackResult, evaluate_stack  # noqa: E402


@pytest.fixture(scope="session")
def dev() -> StackResult:
    """Pulumi.dev.yaml, evaluated whole."""
    return evaluate_stack("dev")


@pytest.fixture(scope="session")
def prod() -> StackResult:
    """Pulumi.prod.yaml, evaluated whole."""
    return evaluate_stack("prod")


@pytest.fixture(scope="session")
def evaluate():
    """Evaluate a stack file with overrides: evaluate('dev', sourceProvider='github', ...)."""
    cache: dict = {}

    def run(stack: str, **overrides) -> StackResult:
        key = (stack, tuple(sorted((k, repr(v)) for k, v in overrides.items())))
        if key not in cache:
            cache[key] = evaluate_stack(stack, overrides)
        return cache[key]

    return run
