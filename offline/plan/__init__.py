"""See what a stack would build, with no AWS account and no Pulumi CLI.

    python -m offline.plan <stack> [--set key=value ...] [--out DIR] [--no-checkov]

Runs the real program for Pulumi.<stack>.yaml (plus overrides) under offline/mocks.py, checks every
registered resource with the policy pack (policy/rules/), and writes DIR/plan.md (default
plan-out/<stack>/plan.md): the effective settings, the pipeline and its gates, the deploy target,
what deploying needs (of the machine and of people), the idle cost, policy results, diagrams, outputs,
counts and the component tree; also DIR/<diagram>.mmd and DIR/<diagram>.dot, and SVGs when Graphviz
`dot` is on PATH. Ids, ARNs and URLs in the report are the mocks' placeholders. The same inputs give
the same bytes in every file.

It also exports the stack as a Terraform plan (offline/tfplan.py) and scans it with checkov
(offline/checkov_scan.py); a checkov failure not excepted in policy/checkov-exceptions.yaml counts as a
policy violation. `--no-checkov` skips that scan.

Exit codes (see docs/plan.md): 0 no findings; 1 the program failed for another reason;
2 settings error; 3 policy violations or checkov failures not excepted; 64 usage error.

Modules: sections.py (the report's sections), supply.py (the supply-chain gate's section), diagrams.py (one graph
model, written as Mermaid and DOT).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from offline import checkov_scan, cost
from offline.mocks import ORGANIZATION, ROOT, StackResult, evaluate_stack
from offline.plan import promotion
from offline.plan.canary import canary_section
from offline.plan.change import change_section, change_warnings
from offline.plan.checks import checkov_section, policy_section, sorted_violations
from offline.plan.diagrams import Graph, architecture_graph, architecture_mermaid, pipeline_graph, pipeline_mermaid, services_graphs, to_dot, to_mermaid
from offline.plan.dora import dora_section
from offline.plan.sections import (
    component_tree,
    configuration_section,
    deploy_section,
    deploy_time_section,
    human_section,
    md,
    pipeline_resource,
    pipeline_section,
    show,
)
from offline.plan.services import has_services, mermaid_notes, services_report, sharing_report
from offline.plan.supply import supply_section
from offline.stackfile import PROJECT, file_problems, settings_problems, stack_config
from policy.rules import RULES, Violation, run_rules, subjects

__all__ = [
    "EXIT_OK",
    "EXIT_PROGRAM_ERROR",
    "EXIT_SETTINGS_ERROR",
    "EXIT_POLICY_VIOLATIONS",
    "EXIT_USAGE",
    "architecture_mermaid",
    "component_tree",
    "deploy_section",
    "deploy_time_section",
    "evaluate_stack",
    "human_section",
    "main",
    "parse_overrides",
    "pipeline_mermaid",
    "pipeline_section",
    "render_files",
    "render_report",
]

EXIT_OK = 0
EXIT_PROGRAM_ERROR = 1
EXIT_SETTINGS_ERROR = 2
EXIT_POLICY_VIOLATIONS = 3
EXIT_USAGE = 64


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2, which means "settings error" here
        raise UsageError(message)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="python -m offline.plan", description="Plan a stack offline: no AWS credentials, no Pulumi CLI.")
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key as `pulumi config set KEY VALUE` would: the value is a string (arrays as JSON, e.g. '[\"10.0.0.0/8\"]'); an empty value removes the key",
    )
    parser.add_argument(
        "--from",
        dest="deployed",
        nargs="*",
        action="extend",
        default=None,
        metavar="KEY=VALUE",
        help="plan the change from the deployed configuration: the stack file with these overrides (none: the stack file as it is) "
        "to the one planned (the stack file with --set); the report adds what each step does to production traffic, and warnings",
    )
    parser.add_argument("--out", type=Path, help="report directory (default: plan-out/<stack>)")
    parser.add_argument("--no-checkov", action="store_true", help="skip the checkov scan (about 5 s a stack); the report says it was not run")
    return parser.parse_args(argv)


def parse_overrides(sets: Sequence[str]) -> dict[str, Any]:
    """`key=value` pairs, each value the string `pulumi config set key value` would store: the
    settings read it by the key's type (`3` for an integer, `true` for a boolean, JSON for an array),
    so `--set manualApproval=on` is the string 'on', as on the command line."""
    overrides: dict[str, Any] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set desiredCount=3")
        overrides[key.strip()] = value if value != "" else None
    return overrides


# ----------------------------------------------------------------------------------------------


def render_report(
    result: StackResult,
    overrides: Mapping[str, Any],
    violations: Sequence[Violation],
    mermaid: Mapping[str, str],
    image_notes: Sequence[str],
    stack_file: Mapping[str, Any],
    checkov: checkov_scan.ScanResult | None = None,
    deployed: StackResult | None = None,
) -> str:
    counts = result.count_by_type()
    custom = sum(1 for r in result.resources if r.custom)
    lines = [
        f"# Offline plan: stack `{result.stack}`",
        "",
        f"Evaluated `Pulumi.{result.stack}.yaml` under offline mocks (no AWS account, no Pulumi CLI). "
        "Ids, ARNs and URLs are placeholders; a real `pulumi preview` also needs credentials.",
        "",
        "## Summary",
        "",
        f"- Resources: {len(result.resources)} ({custom} cloud resources, {len(result.resources) - custom} components) of {len(counts)} types",
        f"- Policy pack: {'PASS' if not violations else f'FAIL ({len(violations)} violations)'}",
        f"- checkov: {'not run' if checkov is None else 'PASS' if not checkov.unexcepted else f'FAIL ({len(checkov.unexcepted)} not excepted)'}",
        f"- Overrides: {', '.join(f'`{k}={v}`' if v is not None else f'`{k}` removed' for k, v in overrides.items()) or 'none'}",
        promotion.summary_row(result),
        "",
        *services_report(result),
        *(["## Change from the deployed configuration", "", *change_section(deployed, result), ""] if deployed is not None else []),
        "## Configuration",
        "",
        *configuration_section(result, stack_file, overrides),
        "",
        "## Pipeline",
        "",
        *pipeline_section(result),
        "",
        "## Supply chain",
        "",
        *supply_section(result),
        "",
        "## Deploy target",
        "",
        *deploy_section(result),
        "",
        "## Canary analysis",
        "",
        *canary_section(result),
        "",
        "## What `pulumi up` needs",
        "",
        *deploy_time_section(result),
        "",
        "## Delivery metrics (DORA)",
        "",
        *dora_section(result),
        "",
        "## Needs a person at deploy time",
        "",
        *human_section(result),
        "",
        "## Monthly cost while idle",
        "",
        cost.estimate(result).markdown().rstrip(),
        *sharing_report(result),
        "",
        "## Policy pack",
        "",
        *policy_section(violations, result),
        "",
        "## checkov",
        "",
        *checkov_section(checkov),
        "",
        "## Diagrams",
        "",
        "### Pipeline",
        "",
        "```mermaid",
        mermaid["pipeline"].rstrip(),
        "```",
        "",
        "### Architecture",
        "",
        "```mermaid",
        mermaid["architecture"].rstrip(),
        "```",
        "",
        *(["### Promotion", "", "```mermaid", mermaid["promotion"].rstrip(), "```", ""] if "promotion" in mermaid else []),
        *image_notes,
        "",
        "## Stack outputs",
        "",
        "| Output | Value (mock) |",
        "|---|---|",
        *[f"| `{k}` | {md(show(v))} |" for k, v in sorted(result.outputs.items())],
        "",
        "## Resource counts by type",
        "",
        "| Type | Count |",
        "|---|---|",
        *[f"| `{t}` | {n} |" for t, n in counts.items()],
        "",
        "## Component tree",
        "",
        *component_tree(result),
        "",
    ]
    return "\n".join(lines)


def plan_diagrams(result: StackResult) -> dict[str, Graph]:
    """The plan's diagrams by file name stem, in the order the report shows them; a promoting stack's
    promotion path last. A stack with `services` draws each service's part in a subgraph of its own."""
    found = services_graphs(result) if has_services(result) else {"pipeline": pipeline_graph(result), "architecture": architecture_graph(result)}
    if promotion.promotes(result):
        found["promotion"] = promotion.promotion_graph(result)
    return found


def diagram_files(result: StackResult) -> dict[str, str]:
    """`<name>.mmd` and `<name>.dot` of every diagram, by file name."""
    files = {}
    for name, graph in plan_diagrams(result).items():
        files[f"{name}.mmd"] = to_mermaid(graph)
        files[f"{name}.dot"] = to_dot(graph)
    return files


def render_images(out: Path, names: Sequence[str]) -> list[str]:
    """SVGs of the written `.dot` files via Graphviz when `dot` is on PATH; the report says which exist."""
    dot = shutil.which("dot")
    if dot is None:
        return [
            "Graphviz `dot` is not on PATH: no SVG written (the Mermaid diagrams above render on GitHub/GitLab; "
            f"{', '.join(f'`{n}.dot`' for n in names)} render with any Graphviz)."
        ]
    notes = []
    for name in names:
        src, svg = out / f"{name}.dot", out / f"{name}.svg"
        done = subprocess.run([dot, "-Tsvg", str(src), "-o", str(svg)], capture_output=True, text=True, check=False)
        notes.append(f"`{svg.name}` written by Graphviz." if done.returncode == 0 else f"Graphviz failed on `{src.name}`: {done.stderr.strip()}")
    return notes


def render_files(
    result: StackResult,
    overrides: Mapping[str, Any],
    violations: Sequence[Violation],
    stack_file: Mapping[str, Any],
    out: Path | None = None,
    checkov: checkov_scan.ScanResult | None = None,
    deployed: StackResult | None = None,
) -> dict[str, str]:
    """Every text file of the plan, by name: the diagrams' `.mmd` and `.dot`, and `plan.md`. With `out`,
    writes them there (and SVGs, when Graphviz is installed) before rendering the report that names them."""
    files = diagram_files(result)
    names = list(dict.fromkeys(name.rsplit(".", 1)[0] for name in files))
    if out is not None:
        for name, text in files.items():
            (out / name).write_text(text)
        image_notes = render_images(out, names)
    else:
        image_notes = []
    mermaid = {name: files[f"{name}.mmd"] for name in names}
    image_notes = [*mermaid_notes(mermaid), *image_notes]
    files["plan.md"] = render_report(result, overrides, violations, mermaid, image_notes, stack_file, checkov, deployed)
    if out is not None:
        (out / "plan.md").write_text(files["plan.md"])
    return files


# The program's refusals of a value (or of an unknown key), which say again what a stack-file problem of the
# same key says with the value as typed; its other problems of that key (set for the other target) stay.
_ABOUT_THE_VALUE = (" is not valid;", " is not supported;", ": unknown config key;")


def _settings_problems(stack: str, overrides: Mapping[str, Any]) -> list[str]:
    """The settings' problems with the stack's config (as `load_settings` would read it), without running the program."""
    try:
        return settings_problems(stack, stack_config(stack, overrides), ORGANIZATION)
    except yaml.YAMLError:  # not YAML: file_problems says where
        return []


def _key_of(problem: str) -> str:
    """The key a settings problem names first, without this project's namespace."""
    return problem.removeprefix(f"{PROJECT}:").split(":", 1)[0]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        overrides = parse_overrides(args.sets)
        deployed_overrides = parse_overrides(args.deployed) if args.deployed is not None else None
        if not (ROOT / f"Pulumi.{args.stack}.yaml").exists():
            raise UsageError(f"no stack file Pulumi.{args.stack}.yaml in {ROOT}")
    except UsageError as e:
        print(f"usage error: {e}", file=sys.stderr)
        return EXIT_USAGE

    from components.promotion.contract import PromotionError
    from components.settings import SettingsError, settings_error

    # What only the stack file's text shows (offline/stackfile.py) comes with the settings' own problems, in one
    # settings error that names each key once (a value refused as typed is not refused again as the program saw
    # it); the program is not run on such a file.
    problems = file_problems(ROOT / f"Pulumi.{args.stack}.yaml")
    if problems:
        flagged = {_key_of(p) for p in problems}
        problems += [p for p in _settings_problems(args.stack, overrides) if not (_key_of(p) in flagged and any(w in p for w in _ABOUT_THE_VALUE))]
        print(f"settings error in stack {args.stack}: {settings_error(problems)}", file=sys.stderr)
        return EXIT_SETTINGS_ERROR
    deployed = None
    try:
        result = evaluate_stack(args.stack, overrides)
        if deployed_overrides is not None:
            try:
                deployed = evaluate_stack(args.stack, deployed_overrides)
            except SettingsError as e:
                raise SettingsError(f"the deployed configuration (--from): {e}") from e
    except (SettingsError, PromotionError) as e:  # PromotionError: promoteFrom names a stack whose contract does not fit
        print(f"settings error in stack {args.stack}: {e}", file=sys.stderr)
        return EXIT_SETTINGS_ERROR
    except Exception as e:  # noqa: BLE001 - any other failure of the program is reported, not a traceback
        print(f"the program failed for stack {args.stack}: {e.__class__.__name__}: {e}", file=sys.stderr)
        return EXIT_PROGRAM_ERROR

    violations = sorted_violations(run_rules(subjects(result.resources)))
    out: Path = args.out or (ROOT / "plan-out" / args.stack)
    out.mkdir(parents=True, exist_ok=True)
    checkov = None if args.no_checkov else checkov_scan.scan(result)
    render_files(result, overrides, violations, stack_config(args.stack), out, checkov, deployed)
    report = out / "plan.md"

    pipeline = pipeline_resource(result)
    stages = " → ".join(s.get("name", "?") for s in (pipeline.inputs.get("stages") or [])) if pipeline else "none"
    print(f"plan {args.stack}: {len(result.resources)} resources of {len(result.count_by_type())} types; pipeline: {stages}")
    print(f"report: {report}")
    if deployed is not None:
        warnings = change_warnings(deployed, result)
        for title in warnings:
            print(f"warning: {title} (see the report's change section)", file=sys.stderr)
        if not warnings:
            print("change: something healthy is behind every production listener at every step")
    if violations:
        print(f"policy: {len(violations)} violation(s):", file=sys.stderr)
        for v in violations:
            print(f"  {v}", file=sys.stderr)
    else:
        print(f"policy: PASS ({len(RULES)} rules)")
    if checkov is not None:
        summary = f"{checkov.passed} passed, {len(checkov.failed)} failed, {len(checkov.excepted)} excepted ({checkov.seconds:.1f} s)"
        if checkov.unexcepted:
            print(f"checkov: FAIL, {len(checkov.unexcepted)} failure(s) neither fixed nor excepted in policy/checkov-exceptions.yaml; {summary}:", file=sys.stderr)
            for f in checkov.unexcepted:
                print(f"  {f.check_id} {f.resource}: {f.check_name}", file=sys.stderr)
        else:
            print(f"checkov: PASS; {summary}")
    if violations or (checkov is not None and checkov.unexcepted):
        return EXIT_POLICY_VIOLATIONS
    return EXIT_OK
