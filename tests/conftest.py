"""Shared fixtures: whole stacks evaluated once per session under the recording mocks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.settings import KEYS, DeployTargetKind  # noqa: E402
from offline import stackfile  # noqa: E402
from offline.mocks import StackResult, evaluate_stack  # noqa: E402


@pytest.fixture(autouse=True)
def _fake_registry_requests_are_valid():
    """After each test: every request a stand-in registry (tests/fake_registry.py) received is valid."""
    yield
    from tests import fake_registry

    fake_registry.assert_logged_requests_valid()


@pytest.fixture(scope="session")
def dev() -> StackResult:
    """Pulumi.dev.yaml, evaluated whole."""
    return evaluate_stack("dev")


@pytest.fixture(scope="session")
def prod() -> StackResult:
    """Pulumi.prod.yaml, evaluated whole."""
    return evaluate_stack("prod")


@pytest.fixture(scope="session")
def prod_building() -> StackResult:
    """Pulumi.prod.yaml as a stack that builds (promoteFrom removed): production's source, registry and
    build, which prod itself (it promotes from dev) does not have."""
    return evaluate_stack("prod", {"promoteFrom": None})


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


def ecs_overrides(stack: str) -> dict:
    """deployTarget ecs, with the stack file's keys that only another target uses removed."""
    config = stackfile.load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    namespaced = (full.split(":", 1) for full in config)
    drop = {key: None for ns, key in namespaced if ns == "container-cicd" and key in KEYS and DeployTargetKind.ECS not in KEYS[key].targets}
    return {"deployTarget": "ecs", **drop}


@pytest.fixture(scope="session")
def ecs_config():
    """`ecs_overrides`, for test modules (conftest is not importable from them)."""
    return ecs_overrides


@pytest.fixture(scope="session")
def prod_ecs(evaluate) -> StackResult:
    """Pulumi.prod.yaml moved to the ECS target (prod itself runs on EKS)."""
    return evaluate("prod", **ecs_overrides("prod"))
