"""Every Mermaid diagram a user sees parses with the real Mermaid parser (npm `mermaid`, headless).

README.md, every page of docs/, and the offline plan's diagrams of the shipped stacks (and of a change
to each target). Node.js and the pinned packages come from `scripts/npm-deps`; CI runs it first, so
there the parser is always present. Elsewhere the test says how to install it instead of passing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from offline.plan import architecture_mermaid, pipeline_mermaid, plan_diagrams
from offline.plan.diagrams import to_mermaid

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "scripts" / "mermaid-check.mjs"
BLOCK = re.compile(r"^```mermaid\n(.*?)^```", re.MULTILINE | re.DOTALL)


def markdown_diagrams() -> list[dict[str, str]]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = []
    for page in pages:
        for i, text in enumerate(BLOCK.findall(page.read_text())):
            found.append({"name": f"{page.relative_to(ROOT)}#{i + 1}", "text": text})
    return found


def parse(diagrams: list[dict[str, str]]) -> tuple[int, list[str]]:
    if not (ROOT / "node_modules" / "mermaid").is_dir() or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("the Mermaid parser is not installed: .ci/run must run scripts/npm-deps before the tests")
        pytest.skip("Mermaid parser not installed: run ./scripts/npm-deps (Node.js 18+ with npm)")
    proc = subprocess.run(["node", str(CHECKER)], input=json.dumps(diagrams), capture_output=True, text=True, cwd=ROOT, timeout=120)
    return proc.returncode, proc.stdout.splitlines()


def test_every_diagram_in_the_docs_and_the_plan_parses(dev, prod, evaluate):
    diagrams = markdown_diagrams()
    assert any(d["name"] == "README.md#1" for d in diagrams)  # the collector finds the README's diagram
    stacks = (("dev", dev), ("prod", prod), ("dev-eks", evaluate("dev", deployTarget="eks")), ("dev-canary", evaluate("dev", deploymentStrategy="canary")))
    for label, result in stacks:
        diagrams.append({"name": f"plan {label} pipeline", "text": pipeline_mermaid(result)})
        diagrams.append({"name": f"plan {label} architecture", "text": architecture_mermaid(result)})
        for name, graph in plan_diagrams(result).items():
            if name not in ("pipeline", "architecture"):
                diagrams.append({"name": f"plan {label} {name}", "text": to_mermaid(graph)})
    assert any(d["name"] == "plan prod promotion" for d in diagrams)  # prod promotes from dev
    code, lines = parse(diagrams)
    assert [line for line in lines if not line.startswith("ok ")] == []
    assert code == 0 and len(lines) == len(diagrams)


def test_the_parser_rejects_what_mermaid_rejects():
    """Guards the test above: an unquoted `|` inside a node label is a Mermaid syntax error."""
    code, lines = parse([{"name": "bad", "text": "flowchart LR\n  target[ECS on Fargate  |  EKS]"}])
    assert code == 1 and lines[0].startswith("FAIL bad: Parse error on line 2")
