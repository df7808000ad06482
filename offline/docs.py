"""The generated parts of the project's documents, so they cannot drift from the code: the config
reference in README.md and docs/config.md and Pulumi.yaml's `config:` block (all from settings.KEYS),
and what the shipped stacks cost in README.md (offline/cost.py over the evaluated stack files).

    python -m offline.docs          # rewrite the generated parts
    python -m offline.docs --check  # exit 1 when one of the files is out of date
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import yaml

from components.settings import KEYS, DeployTargetKind

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONFIG_DOC = ROOT / "docs" / "config.md"
PULUMI_YAML = ROOT / "Pulumi.yaml"
CONFIG_BLOCK = "\nconfig:\n"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
COST_START, COST_END = "<!-- cost:start -->", "<!-- cost:end -->"
COST_STACKS = ("dev", "prod")


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
        # As a stack file would hold it (a number key's default written as a number: 10, not "10").
        if isinstance(key.pulumi_default, str):
            default = f"`{key.pulumi_default}`" if key.pulumi_default else "(empty)"
        else:
            default = f"`{json.dumps(key.pulumi_default)}`"
        description = key.full_description.replace("|", "\\|")
        lines.append(f"| `{key.name}` | {key.type} | {default} | {used_by} | {description} |")
    return "\n".join(lines)


@functools.cache
def cost_section() -> str:
    """One table of the shipped stacks' idle monthly cost, the items that dominate, the prices' date and sources."""
    from offline import cost
    from offline.mocks import evaluate_stack

    results = {stack: evaluate_stack(stack) for stack in COST_STACKS}
    estimates = {stack: cost.estimate(result) for stack, result in results.items()}
    targets = {"ecs": "ECS on Fargate", "eks": "EKS Auto Mode"}
    shipped = " and ".join(f"`{stack}` ({targets[str(r.config.get('container-cicd:deployTarget', 'ecs'))]})" for stack, r in results.items())
    items = list(dict.fromkeys(line.item for e in estimates.values() for line in e.lines))
    lines = [
        "## What it costs",
        "",
        f"What the shipped stacks {shipped} cost per month while idle, counted from the resources each one"
        " creates at on-demand prices of us-east-1 (offline/cost.py). Cells are USD per month (quantity).",
        "",
        "| Resource | " + " | ".join(f"`{s}`" for s in COST_STACKS) + " |",
        "|---|" + "---:|" * len(COST_STACKS),
    ]
    for item in items:
        cells = []
        for estimate in estimates.values():
            line = next((x for x in estimate.lines if x.item == item), None)
            cells.append(f"{line.monthly:.2f} ({line.quantity:g})" if line else "-")
        lines.append(f"| {item} | " + " | ".join(cells) + " |")
    lines.append("| **Total while idle** | " + " | ".join(f"**{e.total:.2f}**" for e in estimates.values()) + " |")
    lines.append("")
    for stack, estimate in estimates.items():
        top = sorted(estimate.lines, key=lambda x: -x.monthly)[:3]
        share = sum(x.monthly for x in top) / estimate.total
        lines.append(f"- `{stack}`: {'; '.join(x.item for x in top)}: {share:.0%} of the total.")
    notes = list(dict.fromkeys(n for e in estimates.values() for n in e.notes))
    lines += [
        "",
        f"Prices: AWS's public price pages as read {cost.PRICES_READ} ({', '.join(cost.SOURCES.values())});"
        " other regions differ by a few percent. Not included, because they are billed by use:",
        "",
        *(f"- {note}" for note in notes),
    ]
    return "\n".join(lines)


def _replace(text: str, start: str, end: str, body: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def render(readme: str) -> str:
    out = _replace(readme, START, END, config_reference())
    if COST_START in out:
        out = _replace(out, COST_START, COST_END, cost_section())
    return out


def pulumi_config() -> str:
    """Pulumi.yaml's `config:` block: every key's type, documented description and default, in KEYS order."""
    block: dict[str, dict] = {}
    for key in KEYS.values():
        spec: dict = {"type": key.pulumi_type, "description": key.full_description, "default": key.pulumi_default}
        if key.type == "array":
            spec["items"] = {"type": "string"}
        block[key.name] = spec
    return yaml.safe_dump({"config": block}, sort_keys=False, width=float("inf"), allow_unicode=True)


def render_pulumi_yaml(text: str) -> str:
    """Pulumi.yaml with its `config:` block (the file's last) rewritten from KEYS."""
    head, _ = text.split(CONFIG_BLOCK, 1)
    return f"{head}\n{pulumi_config()}"


def main(argv: list[str]) -> int:
    files = {README: render, CONFIG_DOC: render, PULUMI_YAML: render_pulumi_yaml}
    stale = []
    for path, generate in files.items():
        current = path.read_text()
        wanted = generate(current)
        if current != wanted:
            stale.append(path.relative_to(ROOT))
            if "--check" not in argv:
                path.write_text(wanted)
    if "--check" in argv and stale:
        print(f"generated parts of {', '.join(map(str, stale))} are out of date: run `python -m offline.docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
