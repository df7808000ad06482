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


def test_readme_rows_show_what_each_key_accepts():
    """The documented range is rendered from the key's bounds: the row of a bounded key ends with them."""
    block = README.split(docs.START, 1)[1].split(docs.END, 1)[0]
    rows = {line.split("`")[1]: line for line in block.splitlines() if line.startswith("| `")}
    assert rows["containerPort"].endswith(" Allowed: 1024 to 65535. |")
    assert rows["deployTarget"].endswith(" Allowed: 'ecs' or 'eks'. |")
    assert rows["logRetentionDays"].endswith(" Allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653. |")
    assert rows["vpcCidr"].endswith(" Allowed: a /16 to /24 network. |")
    for name, key in KEYS.items():
        if key.allowed_text:
            assert rows[name].endswith(f" Allowed: {key.allowed_text}. |"), name


def test_check_covers_readme_config_doc_and_pulumi_yaml(tmp_path, monkeypatch, capsys):
    """`python -m offline.docs --check` fails on a stale Pulumi.yaml too; without --check it rewrites it."""
    for name in ("README", "CONFIG_DOC", "PULUMI_YAML"):
        copy = tmp_path / getattr(docs, name).name
        copy.write_text(getattr(docs, name).read_text())
        monkeypatch.setattr(docs, name, copy)
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    # The cost block evaluates both stacks (slow, tested above); the README's own block stands in for it.
    monkeypatch.setattr(docs, "cost_section", lambda: README.split(docs.COST_START, 1)[1].split(docs.COST_END, 1)[0].strip())
    assert docs.main(["--check"]) == 0
    pulumi_yaml = tmp_path / "Pulumi.yaml"
    pulumi_yaml.write_text(pulumi_yaml.read_text().replace(" Allowed: 1024 to 65535.", ""))
    assert docs.main(["--check"]) == 1
    assert capsys.readouterr().err == "generated parts of Pulumi.yaml are out of date: run `python -m offline.docs`\n"
    assert docs.main([]) == 0 and docs.main(["--check"]) == 0
    assert " Allowed: 1024 to 65535." in pulumi_yaml.read_text()


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
