"""Shared fixtures: whole stacks evaluated once per session under the recording mocks."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.settings import KEYS, DeployTargetKind  # noqa: E402
from offline import stackfile  # noqa: E402
from offline.mocks import GC_THRESHOLDS, ORGANIZATION, PROJECT, StackResult, evaluate_stack, upstream_reference  # noqa: E402
from offline.stackfile import stack_config  # noqa: E402
from tests.shared import read_shared, shared_lock, write_shared  # noqa: E402

# The whole test session allocates as an evaluation does (plans, checkov's graphs): the same thresholds.
gc.set_threshold(*GC_THRESHOLDS)

# The test files that take longest, heaviest first. Under pytest-xdist (scripts/test: one file per worker
# at a time) they start first, so no long file is left running alone at the end; the order of the tests
# themselves does not matter (run them in random order with -p random_order --random-order -p no:xdist).
HEAVY_FIRST = (
    "test_authorization.py",
    "test_plan.py",
    "test_changes.py",
    "test_time_budgets.py",
    "test_gates.py",
    "test_eks_verdict.py",
    "test_revert.py",
    "test_strategy_settings.py",
    "test_ecs_strategy.py",
    "test_eks_deploy.py",
    "test_image_ownership.py",
)


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(HEAVY_FIRST)))


@pytest.fixture(autouse=True)
def _stand_in_requests_are_valid():
    """After each test: every request the stand-in AWS (tests/fake_aws.py) received is valid."""
    yield
    from tests import fake_aws

    fake_aws.assert_logged_requests_valid()


SHARED_STACKS_PREFIX = "container-cicd-stacks-"


def pytest_configure(config):
    """The controller of an xdist run names the run itself, so it can remove the shared stacks after."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput") and not config.option.testrunuid:
        config.option.testrunuid = uuid.uuid4().hex


def pytest_sessionfinish(session):
    run = getattr(session.config.option, "testrunuid", None)
    if run and not hasattr(session.config, "workerinput"):
        shutil.rmtree(Path(tempfile.gettempdir()) / f"{SHARED_STACKS_PREFIX}{run}", ignore_errors=True)


# Evaluated stacks of this process, by stack and resolved config (read-only: every test shares them).
_RESULTS: dict[str, StackResult] = {}


def shared_evaluate(stack: str, overrides: dict) -> StackResult:
    """evaluate_stack, once per test run for all pytest-xdist workers: the first worker to evaluate a
    stack file with this config leaves the result (plain data) in the run's directory, and the other
    worker reads it instead of evaluating again (about half a second a stack). The key is the stack and
    the config the overrides resolve to, so `deployTarget=ecs` on dev is dev itself; the source cannot
    change during a run. A promoting stack reads its upstream's outputs from the same cache."""
    config = stack_config(stack, overrides)
    key = hashlib.sha256(json.dumps([stack, config], sort_keys=True, default=repr).encode()).hexdigest()
    if key in _RESULTS:
        return _RESULTS[key]
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    path = Path(tempfile.gettempdir()) / f"{SHARED_STACKS_PREFIX}{run}" / f"{key}.pickle"
    if run:
        path.parent.mkdir(exist_ok=True)
        if (shared := read_shared(path)) is not None:
            _RESULTS[key] = shared
            return shared
    upstream = upstream_reference(config)
    outputs = None
    if upstream and upstream.startswith(f"{ORGANIZATION}/{PROJECT}/") and (ROOT / f"Pulumi.{upstream.rsplit('/', 1)[-1]}.yaml").exists():
        # Before this stack's lock is taken: a worker holds one lock at a time, so two never wait for each other.
        outputs = {upstream: shared_evaluate(upstream.rsplit("/", 1)[-1], {}).outputs}
    with shared_lock(path if run else None):
        if run and (shared := read_shared(path)) is not None:  # the other worker evaluated it while this one waited
            _RESULTS[key] = shared
            return shared
        result = _RESULTS[key] = evaluate_stack(stack, overrides, stack_outputs=outputs)
        # What lives now (the modules an evaluation imports, the cached results) lives for the session: the
        # collector stops scanning it again in every full collection (a quarter of an evaluation's time).
        gc.collect()
        gc.freeze()
        if run:
            write_shared(path, result)
    return result


@pytest.fixture(scope="session")
def dev(evaluate) -> StackResult:
    """Pulumi.dev.yaml, evaluated whole."""
    return evaluate("dev")


@pytest.fixture(scope="session")
def prod(evaluate) -> StackResult:
    """Pulumi.prod.yaml, evaluated whole."""
    return evaluate("prod")


@pytest.fixture(scope="session")
def prod_building() -> StackResult:
    """Pulumi.prod.yaml as a stack that builds (promoteFrom removed): production's source, registry and
    build, which prod itself (it promotes from dev) does not have."""
    return shared_evaluate("prod", {"promoteFrom": None})


@pytest.fixture(scope="session")
def evaluate():
    """Evaluate a stack file with overrides: evaluate('dev', sourceProvider='github', ...)."""

    def run(stack: str, **overrides) -> StackResult:
        return shared_evaluate(stack, overrides)

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


@pytest.fixture
def docs_from_shared_stacks(dev, prod, monkeypatch):
    """offline/docs.py's generated parts (cost facts, the outputs table) from the session's evaluated
    stacks instead of evaluating them again."""
    from offline import doc_numbers, docs

    monkeypatch.setattr(doc_numbers, "cost_results", lambda: {"dev": dev, "prod": prod})
    variants = docs.OUTPUT_VARIANTS.items()
    monkeypatch.setattr(docs, "exported_outputs", lambda: {kind: dict(shared_evaluate(stack, dict(overrides)).outputs) for kind, (stack, overrides) in variants})
    doc_numbers.cost_estimates.cache_clear()
    yield
    doc_numbers.cost_estimates.cache_clear()
