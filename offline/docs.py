"""The README's config reference, generated from settings.KEYS so the two cannot drift.

    python -m offline.docs          # rewrite the block between the config-reference markers
    python -m offline.docs --check  # exit 1 when README.md is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from components.settings import KEYS, DeployTargetKind

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def config_reference() -> str:
    lines = [
        "## Config reference",
        "",
        "Set with `pulumi config set <key> <value>` (arrays: `pulumi config set --path 'key[0]' value`) or in",
        "`Pulumi.<stack>.yaml` under the `container-cicd:` namespace. Every key is validated before anything is",
        "created; a key that is not listed here is an error that names the closest known key.",
        "",
        "| Key | Type | Default | Used by | Description |",
        "|---|---|---|---|---|",
    ]
    for key in KEYS.values():
        used_by = "all" if len(key.targets) == len(DeployTargetKind) else ", ".join(sorted(t.value for t in key.targets))
        if isinstance(key.default, str):
            default = f"`{key.default}`" if key.default else "(empty)"
        else:
            default = f"`{json.dumps(key.default)}`"
        description = key.description.replace("|", "\\|")
        lines.append(f"| `{key.name}` | {key.type} | {default} | {used_by} | {description} |")
    return "\n".join(lines)


def render(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{config_reference()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print("README.md config reference is out of date: run `python -m offline.docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
