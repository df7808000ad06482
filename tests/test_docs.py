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
