"""URNs and inputs are a contract: a refactoring must not rename, re-parent, retype or change any resource.

For each variant (dev, prod, dev on EKS, prod on ECS) the committed snapshots hold
- `snapshots/urns-<variant>.txt`: every resource's URN and type, sorted by URN;
- `snapshots/inputs-<variant>.jsonl`: every resource's inputs, one JSON line per URN (secret inputs
  replaced by a marker).
A difference fails with the first differing lines. A deliberate change regenerates them with
`UPDATE_URN_SNAPSHOTS=1 ./scripts/test tests/test_urn_contract.py` and says why in its commit.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from offline.mocks import StackResult

SNAPSHOTS = Path(__file__).parent / "snapshots"
VARIANTS = ("dev", "prod", "dev-eks", "prod-ecs")
SECRET = "[secret]"


@pytest.fixture(scope="module")
def variants(dev, prod, prod_ecs, evaluate) -> dict[str, StackResult]:
    return {"dev": dev, "prod": prod, "dev-eks": evaluate("dev", deployTarget="eks"), "prod-ecs": prod_ecs}


def urn_lines(result: StackResult) -> str:
    return "".join(f"{urn}\t{type_}\n" for urn, type_ in sorted((r.urn, r.type) for r in result.resources))


def input_lines(result: StackResult) -> str:
    lines = []
    for r in sorted(result.resources, key=lambda r: r.urn):
        inputs = {k: (SECRET if k in r.secret_inputs else v) for k, v in r.inputs.items()}
        lines.append(json.dumps({"urn": r.urn, "inputs": inputs}, sort_keys=True, separators=(",", ":")) + "\n")
    return "".join(lines)


def _check(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_URN_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    expected = path.read_text()
    if actual != expected:
        diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "snapshot", "now", lineterm="", n=0))
        shown = "\n".join(line[:400] for line in diff[:40])
        pytest.fail(f"{path.name} differs from the program ({len(diff)} diff lines):\n{shown}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_urns_and_types_are_unchanged(variants, variant):
    _check(SNAPSHOTS / f"urns-{variant}.txt", urn_lines(variants[variant]))


@pytest.mark.parametrize("variant", VARIANTS)
def test_inputs_are_unchanged(variants, variant):
    _check(SNAPSHOTS / f"inputs-{variant}.jsonl", input_lines(variants[variant]))


def test_no_resource_has_a_secret_input_the_snapshot_would_hide(variants):
    """The marker is there for later secrets; today none exists, so the snapshots cover every input."""
    assert {r.urn: r.secret_inputs for v in variants.values() for r in v.resources if r.secret_inputs} == {}


def test_snapshots_tell_the_variants_apart(variants):
    """The four variants really differ (the target and production change what exists)."""
    assert len({urn_lines(v) for v in variants.values()}) == len(VARIANTS)
