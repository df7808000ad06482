"""Every example value the docs show a user is one the settings accept, read the way the CLI reads it.

Examples: `pulumi config set KEY VALUE` commands, `python -m offline.plan ... --set KEY=VALUE`
commands, `container-cicd:` lines of YAML snippets, and the `e.g. '...'` examples in key descriptions.
Each command line (or YAML block) is applied on top of the stack file it names (dev by default).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from components.settings import KEYS, PROJECT, parse_settings
from offline import stackfile
from offline.plan import parse_overrides

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*.md"))]
FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]*pulumi config set [^`\n]*)`")


def stack_raw(stack: str) -> dict:
    config = stackfile.load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}


def command_groups(text: str) -> list[list[str]]:
    """Commands run together: the lines of one fenced block (continuations joined, comments
    dropped), in order; an inline command on its own."""
    groups = []
    for block in FENCE.findall(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        groups.append([line.split(" #", 1)[0].strip() for line in joined.splitlines()])
    groups += [[line] for line in INLINE.findall(text)]
    return groups


def _is_template(command: str) -> bool:
    return "<" in command or re.search(r"config set key |--set key=", command, re.IGNORECASE) is not None


def examples() -> list[tuple[str, str, dict]]:
    """(where, stack, overrides) of every example: each command applied after the ones before it in its block."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for group in command_groups(text):
            overrides: dict = {}
            for line in group:
                changed, target = False, "dev"
                for command in re.split(r"&&|;", line):
                    if _is_template(command) or not ("pulumi config" in command or "offline.plan" in command):
                        continue
                    words = shlex.split(command)
                    if "--stack" in words[:-1] and words[:2] == ["pulumi", "config"]:
                        # `pulumi config set KEY VALUE --stack prod`: the stack it names.
                        at = words.index("--stack")
                        target, words = words[at + 1], words[:at] + words[at + 2 :]
                    if words[:3] == ["pulumi", "config", "set"] and "--path" not in words:
                        overrides[words[3]] = words[4]
                        changed = True
                    elif words[:3] == ["pulumi", "config", "rm"]:
                        overrides[words[3]] = None
                    elif "offline.plan" in words:
                        stack = words[words.index("offline.plan") + 1]
                        sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
                        if sets:
                            found.append((f"{page.relative_to(ROOT)}: {command.strip()}", stack, parse_overrides(sets)))
                if changed:
                    found.append((f"{page.relative_to(ROOT)}: {line.strip()}", target, dict(overrides)))
        for block in FENCE.findall(text):
            if f"{PROJECT}:" in block and ":" in block.split(f"{PROJECT}:", 1)[1]:
                doc = stackfile.load(block)
                config = doc.get("config", doc) if isinstance(doc, dict) else {}
                overrides = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}
                if overrides:
                    found.append((f"{page.relative_to(ROOT)}: YAML {sorted(overrides)}", "dev", overrides))
    return found


EXAMPLES = examples()


def test_the_docs_show_examples():
    assert len(EXAMPLES) >= 5, EXAMPLES


@pytest.mark.parametrize(("where", "stack", "overrides"), EXAMPLES, ids=[e[0][:90] for e in EXAMPLES])
def test_every_documented_example_is_accepted(where, stack, overrides):
    raw = stack_raw(stack)
    for key, value in overrides.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    if raw.get("deployTarget") == "eks" and stack == "dev":
        raw.pop("ecsCpu", None), raw.pop("ecsMemory", None)
    parse_settings(raw, PROJECT, stack)


DESCRIPTION_EXAMPLE = re.compile(r"e\.g\. '([^']+)'")


@pytest.mark.parametrize("key", [k for k, spec in KEYS.items() if DESCRIPTION_EXAMPLE.search(spec.description)])
def test_examples_in_key_descriptions_are_accepted(key):
    raw = stack_raw("dev")
    for value in DESCRIPTION_EXAMPLE.findall(KEYS[key].description):
        raw[key] = value
        if key == "sourceRepository":
            raw["sourceProvider"] = "github"
        parse_settings(raw, PROJECT, "dev")


def test_a_stack_file_reads_yes_as_a_string_and_the_settings_refuse_it():
    raw = stack_raw("dev") | {k.split(":", 1)[1]: v for k, v in stackfile.load("container-cicd:production: yes").items()}
    assert raw["production"] == "yes"
    with pytest.raises(ValueError, match=r"^production: 'yes' is not valid; expected true or false"):
        parse_settings(raw, PROJECT, "dev")
