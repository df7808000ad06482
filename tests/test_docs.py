"""The README stays true: its config reference is the KEYS table, its commands exist."""

from __future__ import annotations

import os
from pathlib import Path

from components.settings import KEYS
from offline import docs

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_config_reference_is_generated_from_keys():
    assert docs.render(README) == README, "run `python -m offline.docs` to refresh README.md"


def test_every_key_is_documented_in_the_readme():
    block = README.split(docs.START, 1)[1].split(docs.END, 1)[0]
    for key in KEYS:
        assert f"| `{key}` |" in block


def test_render_replaces_only_the_marked_block():
    text = f"before\n{docs.START}\nstale\n{docs.END}\nafter\n"
    out = docs.render(text)
    assert out.startswith("before\n") and out.endswith("\nafter\n")
    assert "stale" not in out and "| `deployTarget` | string | `ecs` | all |" in out


def test_readme_commands_exist():
    assert "./scripts/test" in README
    assert os.access(ROOT / "scripts" / "test", os.X_OK)
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_readme_cost_block_is_generated_from_the_stacks(dev, prod):
    """The cost tables are offline/cost.py's estimate of the evaluated stack files: a change to a stack
    file or to a price makes this fail until `python -m offline.docs` is run."""
    from offline.cost import PRICES_READ, estimate

    assert README.count(docs.COST_START) == 1 and README.count(docs.COST_END) == 1
    block = README.split(docs.COST_START, 1)[1].split(docs.COST_END, 1)[0]
    assert block.strip() == docs.cost_section()
    totals = [line for line in block.splitlines() if line.startswith("| **Total while idle** |")]
    assert totals == [f"| **Total while idle** | **{estimate(dev).total:.2f}** | **{estimate(prod).total:.2f}** |"]
    assert f"as read {PRICES_READ}" in block


def test_render_rewrites_a_stale_cost_block():
    text = f"{docs.START}\n{docs.END}\nbefore\n{docs.COST_START}\n| NAT gateway | 1.00 (1) |\n{docs.COST_END}\nafter\n"
    out = docs.render(text)
    assert "1.00 (1)" not in out and out.endswith("\nafter\n")
    assert f"{docs.COST_START}\n{docs.cost_section()}\n{docs.COST_END}" in out
