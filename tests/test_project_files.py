"""Pulumi.yaml, the stack files and docs/config.md agree with settings.KEYS."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.settings import KEYS, PROJECT, parse_settings
from offline import docs, stackfile

# The generated parts from the session's evaluated stacks instead of evaluating them again.
pytestmark = pytest.mark.usefixtures("docs_from_shared_stacks")

ROOT = Path(__file__).resolve().parent.parent
PULUMI_YAML = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
CONFIG_DOC = (ROOT / "docs" / "config.md").read_text()
STACKS = ("dev", "prod")


def stack_file(stack: str) -> dict:
    return stackfile.load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_project_name_matches_the_settings_namespace():
    assert PULUMI_YAML["name"] == PROJECT
    assert PULUMI_YAML["runtime"]["name"] == "python"


def test_pulumi_yaml_config_block_equals_keys_exactly():
    block = PULUMI_YAML["config"]
    declared = {name: key for name, key in KEYS.items() if key.declared}
    assert list(block) == list(declared), "Pulumi.yaml's config: keys must be KEYS (but services), in the same order"
    assert [name for name in KEYS if name not in declared] == ["services"]
    for name, key in declared.items():
        expected = {"type": key.pulumi_type, "description": key.full_description, "default": key.pulumi_default}
        if key.type == "array":
            expected["items"] = {"type": "string"}
        assert block[name] == expected, name


def test_pulumi_yaml_config_block_is_generated_from_keys():
    """Byte for byte what `python -m offline.docs` writes, so a hand edit of the block cannot survive."""
    text = (ROOT / "Pulumi.yaml").read_text()
    assert docs.render_pulumi_yaml(text) == text, "Pulumi.yaml is out of date; run `python -m offline.docs`"


def test_render_pulumi_yaml_rewrites_only_the_config_block():
    text = "name: x\nruntime: python\nconfig:\n  stale:\n    type: string\n"
    out = docs.render_pulumi_yaml(text)
    assert out.startswith("name: x\nruntime: python\nconfig:\n  deployTarget:\n") and "stale" not in out
    assert yaml.safe_load(out)["config"]["containerPort"]["description"].endswith(" Allowed: 1024 to 65535.")


def test_key_types_are_pulumi_config_types():
    for key in KEYS.values():
        assert key.type in {"string", "integer", "boolean", "array", "number", "objects"}, key.name
        python_type = {"string": str, "integer": int, "boolean": bool, "array": list, "number": float, "objects": list}[key.type]
        assert type(key.default) is python_type, f"{key.name}: default {key.default!r} is not a {key.type}"
        assert key.description.strip() and key.targets, key.name
        # Pulumi config has no decimal type: Pulumi.yaml declares a number key a string, its default too.
        assert key.pulumi_type in {"string", "integer", "boolean", "array"}, key.name
        expected = ("string", f"{key.default:g}") if key.type == "number" else ("array", []) if key.type == "objects" else (key.type, key.default)
        assert (key.pulumi_type, key.pulumi_default) == expected, key.name


def test_number_keys_are_strings_in_pulumi_yaml_and_read_back_as_their_default():
    numbers = {name: spec for name, spec in PULUMI_YAML["config"].items() if KEYS[name].type == "number"}
    assert numbers == {
        "canaryPercent": {"type": "string", "description": KEYS["canaryPercent"].full_description, "default": "10"},
        "linearStepPercent": {"type": "string", "description": KEYS["linearStepPercent"].full_description, "default": "25"},
        "canaryErrorFloorPercent": {"type": "string", "description": KEYS["canaryErrorFloorPercent"].full_description, "default": "0.5"},
    }
    settings = parse_settings({name: spec["default"] for name, spec in numbers.items()}, PROJECT, "dev")
    assert (settings.ecs.strategy.canary_percent, settings.ecs.strategy.linear_step_percent) == (10.0, 25.0)
    canary = parse_settings({"deploymentStrategy": "canary", **{name: spec["default"] for name, spec in numbers.items()}}, PROJECT, "dev")
    assert canary.ecs.strategy.judge.error_floor_percent == 0.5


def test_pulumi_yaml_defaults_are_valid_settings():
    """The CLI passes every Pulumi.yaml default to the program: together they must parse."""
    defaults = {name: spec["default"] for name, spec in PULUMI_YAML["config"].items()}
    parse_settings(defaults, PROJECT, "dev")


def test_docs_config_table_is_generated_from_keys():
    assert docs.render(CONFIG_DOC) == CONFIG_DOC, "docs/config.md is out of date; regenerate it with the command in the file"


def test_every_key_is_a_row_of_docs_config_table():
    table = CONFIG_DOC.split(docs.START, 1)[1].split(docs.END, 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(KEYS)
    for row, key in zip(rows, KEYS.values(), strict=True):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1] == key.type
        used_by = "all" if len(key.targets) == 2 else ", ".join(sorted(t.value for t in key.targets))
        assert cells[3] == used_by, key.name
        assert cells[4] == key.full_description, key.name


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_use_only_known_keys(stack):
    for full in stack_file(stack):
        namespace, key = full.split(":", 1)
        assert namespace in {PROJECT, "aws"}, full
        if namespace == PROJECT:
            assert key in KEYS, f"Pulumi.{stack}.yaml: unknown key {full}"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_parse_as_settings(stack):
    raw = {k.split(":", 1)[1]: v for k, v in stack_file(stack).items() if k.startswith(f"{PROJECT}:")}
    settings = parse_settings(raw, PROJECT, stack)
    assert settings.stack == stack
    assert settings.production is (stack == "prod")


def test_prod_is_the_stricter_stack():
    dev, prod = (parse_settings({k.split(":", 1)[1]: v for k, v in stack_file(s).items() if k.startswith(f"{PROJECT}:")}, PROJECT, s) for s in STACKS)
    assert prod.production and not dev.production
    assert prod.log_retention_days >= dev.log_retention_days
    # Production survives the loss of one task or AZ.
    assert prod.workload.desired_count >= 2


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_evaluate_whole(stack, dev, prod):
    """The whole program runs from the unmodified stack file (the `dev`/`prod` fixtures load the YAML)."""
    result = {"dev": dev, "prod": prod}[stack]
    assert result.config == {**stack_file(stack)}
    assert len([r for r in result.resources if r.custom]) > 30
    assert set(result.outputs) >= {"pipelineName", "pipelineConsoleUrl", "sourceLocation", "repositoryUrl", "serviceUrl"}


def test_scripts_test_refuses_an_old_python_before_installing_anything(tmp_path):
    """On Python 3.10 the install would take hundreds of MB before an ImportError: refuse at once. The script
    runs from a copy of the project without a .venv, with a stand-in Python that logs every call: it is asked
    for its version only; no virtualenv is created and nothing is installed."""
    import shutil
    import subprocess

    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "test", project / "scripts" / "test")
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        shutil.copy2(ROOT / name, project / name)
    calls = tmp_path / "calls"
    fake = tmp_path / "python3.10"
    fake.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> {calls}\nif [ "$1" = "-V" ]; then echo "Python 3.10.14"; exit 0; fi\nexit 1\n')
    fake.chmod(0o755)
    proc = subprocess.run(["bash", str(project / "scripts" / "test")], env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake)}, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"container-cicd needs Python 3.11 or newer; {fake} is Python 3.10.14. Set PYTHON=python3.11 (or newer) and run again.")
    assert calls.read_text().splitlines() == ["-c import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)", "-V"]
    assert sorted(p.name for p in project.iterdir()) == ["constraints.txt", "requirements-dev.txt", "requirements.txt", "scripts"]


def test_the_program_refuses_an_old_python_first():
    source = (ROOT / "__main__.py").read_text()
    guard = source.index("if sys.version_info < (3, 11):")
    assert guard < source.index("import pulumi")


def test_pyright_config_parses_and_checks_the_program_not_the_tests():
    """A malformed pyrightconfig.json makes pyright fall back to its defaults silently."""
    import json
    import re

    text = (ROOT / "pyrightconfig.json").read_text()
    config = json.loads(re.sub(r"//[^\n]*", "", text))
    assert config["include"] == ["components", "functions", "offline", "policy", "program", "tools", "__main__.py"]
    assert config["typeCheckingMode"] in ("standard", "strict") and "tests" in config["exclude"]


def test_requires_python_is_declared_and_matches_the_checks():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "sys.version_info >= (3, 11)" in (ROOT / "scripts" / "test").read_text()
    assert "sys.version_info < (3, 11)" in (ROOT / "__main__.py").read_text()
