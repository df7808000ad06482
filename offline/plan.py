"""See what a stack would build, with no AWS account and no Pulumi CLI.

    python -m offline.plan <stack> [--set key=value ...] [--out DIR]

Runs the real program for Pulumi.<stack>.yaml (plus overrides) under offline/mocks.py, checks every
registered resource with the policy pack (policy/rules.py), and writes DIR/plan.md (default
plan-out/<stack>/plan.md): component tree, resource counts, pipeline and deploy-target settings,
policy results and Mermaid diagrams (also DIR/pipeline.mmd and DIR/architecture.mmd; SVGs when
Graphviz `dot` is on PATH). Ids, ARNs and URLs in the report are the mocks' placeholders.

Exit codes (see docs/plan.md): 0 no findings; 1 the program failed for another reason;
2 settings error; 3 policy violations; 64 usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from offline.mocks import PROJECT, ROOT, Resource, StackResult, evaluate_stack
from policy.rules import RULES, Violation, run_rules, subjects

EXIT_OK = 0
EXIT_PROGRAM_ERROR = 1
EXIT_SETTINGS_ERROR = 2
EXIT_POLICY_VIOLATIONS = 3
EXIT_USAGE = 64

PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
DEPLOY_COMPONENT_PREFIX = f"{PROJECT}:deploy:"

# Settings worth reading in the report, per resource type (dotted paths into the inputs).
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:ecs/cluster:Cluster": ("name", "settings"),
    "aws:ecs/service:Service": (
        "name", "launchType", "desiredCount", "deploymentMinimumHealthyPercent", "deploymentMaximumPercent",
        "deploymentCircuitBreaker", "networkConfiguration.assignPublicIp", "healthCheckGracePeriodSeconds",
    ),
    "aws:ecs/taskDefinition:TaskDefinition": ("family", "cpu", "memory", "runtimePlatform.cpuArchitecture", "requiresCompatibilities"),
    "aws:eks/cluster:Cluster": (
        "name", "version", "vpcConfig.endpointPrivateAccess", "vpcConfig.endpointPublicAccess", "vpcConfig.publicAccessCidrs",
        "enabledClusterLogTypes", "computeConfig.enabled", "computeConfig.nodePools", "accessConfig.authenticationMode",
    ),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("policyArn", "accessScope"),
    "aws:lb/loadBalancer:LoadBalancer": ("name", "internal", "loadBalancerType"),
    "aws:lb/listener:Listener": ("port", "protocol"),
    "aws:lb/targetGroup:TargetGroup": ("name", "port", "protocol", "targetType", "healthCheck.path", "deregistrationDelay"),
    "aws:codebuild/project:Project": ("name", "environment.computeType", "environment.image", "environment.privilegedMode", "buildTimeout"),
}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2, which means "settings error" here
        raise UsageError(message)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="python -m offline.plan", description="Plan a stack offline: no AWS credentials, no Pulumi CLI.")
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key as `pulumi config set KEY VALUE` would: the value is a string "
                             "(arrays as JSON, e.g. '[\"10.0.0.0/8\"]'); an empty value removes the key")
    parser.add_argument("--out", type=Path, help="report directory (default: plan-out/<stack>)")
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
# Report sections


def _get(value: Any, path: str) -> Any:
    for step in path.split("."):
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, separators=(", ", ": ")) + "`"
    return f"`{value}`"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def component_tree(result: StackResult) -> list[str]:
    """Nested Markdown list of resources by parent (components first, then custom resources)."""
    by_ref = {r.ref: r for r in result.resources if r.ref}
    children: dict[str | None, list[Resource]] = {}
    for r in result.resources:
        parent = r.parent_urn if r.parent_urn in by_ref else None
        children.setdefault(parent, []).append(r)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda x: (x.custom, x.type, x.name)):
            kind = "" if r.custom else " (component)"
            lines.append(f"{'  ' * depth}- **{r.name}** `{r.type}`{kind}")
            walk(r.ref, depth + 1)

    walk(None, 0)
    return lines


def _pipeline(result: StackResult) -> Resource | None:
    found = result.of_type(PIPELINE_TYPE)
    return found[0] if found else None


def pipeline_section(result: StackResult) -> list[str]:
    pipeline = _pipeline(result)
    if pipeline is None:
        return ["No CodePipeline pipeline is registered."]
    p = pipeline.inputs
    lines = [
        f"- Name: `{p.get('name')}`",
        f"- Type: `{p.get('pipelineType') or 'V1'}`, execution mode: `{p.get('executionMode') or 'SUPERSEDED'}`",
    ]
    for store in p.get("artifactStores") or []:
        lines.append(f"- Artifact store: `{store.get('location')}` encrypted with `{_get(store, 'encryptionKey.type') or 'aws/s3 default'}`")
    triggers = p.get("triggers") or []
    for t in triggers:
        push = _get(t, "gitConfiguration.pushes") or []
        lines.append(f"- Trigger: `{t.get('providerType')}` on push {_show(push)}")
    for rule in result.of_type("aws:cloudwatch/eventRule:EventRule"):
        pattern = json.loads(rule.inputs.get("eventPattern") or "{}")
        if "aws.codecommit" in (pattern.get("source") or []):
            branches = _get(pattern, "detail.referenceName") or []
            lines.append(f"- Trigger: EventBridge rule `{rule.name}` starts the pipeline on CodeCommit pushes to {_show(branches)}")
    if not triggers and not any("Trigger:" in line for line in lines):
        lines.append("- Trigger: none (start the pipeline manually)")
    lines += ["", "| Stage | Action | Provider | Configuration | On failure / success |", "|---|---|---|---|---|"]
    for stage in p.get("stages") or []:
        gates = []
        if _get(stage, "onFailure.result"):
            gates.append(f"on failure: {_get(stage, 'onFailure.result')}")
        if _get(stage, "onSuccess.condition"):
            rules = [r.get("name") for r in _get(stage, "onSuccess.condition.rules") or []]
            gates.append(f"on success: {', '.join(map(str, rules))} → {_get(stage, 'onSuccess.condition.result')}")
        for action in stage.get("actions") or []:
            config = ", ".join(f"{k}={v}" for k, v in sorted((action.get("configuration") or {}).items()))
            lines.append(
                f"| {_md(stage.get('name'))} | {_md(action.get('name'))} | {_md(action.get('category'))}/{_md(action.get('provider'))} "
                f"| {_md(config)} | {_md('; '.join(gates))} |"
            )
    return lines


def _deploy_component(result: StackResult) -> Resource | None:
    for r in result.resources:
        if r.type.startswith(DEPLOY_COMPONENT_PREFIX):
            return r
    return None


def _descendants(result: StackResult, root: Resource) -> list[Resource]:
    refs = {root.ref}
    found = []
    for r in result.resources:  # registration order: a parent is always registered before its children
        if r.parent_urn in refs:
            refs.add(r.ref)
            found.append(r)
    return found


def deploy_section(result: StackResult) -> list[str]:
    target = _deploy_component(result)
    target_name = result.config.get(f"{PROJECT}:deployTarget", "ecs (default)")
    if target is None:
        return [f"- Deploy target: `{target_name}` (no deploy component registered)"]
    lines = [f"- Deploy target: `{target_name}` — component `{target.name}` `{target.type}`"]
    if "serviceUrl" in result.outputs:
        lines.append(f"- Service URL (mock): `{result.outputs['serviceUrl']}`")
    for r in _descendants(result, target):
        paths = KEY_SETTINGS.get(r.type)
        if not paths:
            continue
        shown = ", ".join(f"{p}={_show(_get(r.inputs, p))}" for p in paths if _get(r.inputs, p) is not None)
        lines.append(f"- `{r.type}` **{r.name}**: {shown}")
        if r.type == "aws:ecs/taskDefinition:TaskDefinition":
            for c in json.loads(r.inputs.get("containerDefinitions") or "[]"):
                ports = [m.get("containerPort") for m in c.get("portMappings") or []]
                lines.append(f"  - container `{c.get('name')}`: image `{c.get('image')}`, ports {ports}, log driver `{_get(c, 'logConfiguration.logDriver')}`")
    for r in _descendants(result, target):
        variables = _get(_buildspec(r), "env.variables") or {}
        if "MANIFESTS" in variables:
            items = json.loads(variables["MANIFESTS"]).get("items") or []
            kinds = ", ".join(f"{i.get('kind')} `{_get(i, 'metadata.name')}`" for i in items)
            lines.append(f"- Workload applied by the deploy project **{r.name}** (`kubectl apply --server-side`, in the VPC): {kinds}")
    return lines


def _buildspec(r: Resource) -> dict:
    if r.type != "aws:codebuild/project:Project":
        return {}
    try:
        return yaml.safe_load(_get(r.inputs, "source.buildspec") or "") or {}
    except yaml.YAMLError:
        return {}


def deploy_time_section(result: StackResult) -> list[str]:
    """What the machine that runs `pulumi up` needs, and what happens after `pulumi up` returns."""
    region = result.config.get("aws:region", "us-east-1")
    lines = [
        "- Pulumi CLI and Python 3 (Pulumi.yaml's runtime creates `venv/` from requirements.txt)",
        f"- AWS credentials for the target account, region `{region}`; nothing else (no Docker: CodeBuild builds the image)",
    ]
    clusters = result.of_type("aws:eks/cluster:Cluster")
    eks = [r for r in result.resources if r.type.startswith(f"{DEPLOY_COMPONENT_PREFIX}EksTarget")]
    if eks:
        projects = [r for r in result.of_type("aws:codebuild/project:Project") if "MANIFESTS" in (_get(_buildspec(r), "env.variables") or {})]
        project = projects[0].inputs.get("name") if projects else "the deploy project"
        lines += [
            "- EKS: no AWS CLI, no kubectl and no network route to the cluster on this machine: Pulumi does not call the "
            "Kubernetes API. The workload is applied by the in-VPC deploy project after `pulumi up` returns; watch it with "
            f"`aws codebuild list-builds-for-project --project-name {project}` (or the CodeBuild console)",
        ]
        if not clusters:
            lines.append("- EKS, existing cluster: its administrators create the workload's namespace first (docs/eks.md)")
    return lines


def policy_section(violations: Sequence[Violation], result: StackResult) -> list[str]:
    types = {r.type for r in result.resources}
    applied = [rule.name for rule in RULES if types & set(rule.resource_types)]
    head = f"{len(RULES)} rules in the pack; {len(applied)} apply to this stack's resource types."
    if not violations:
        return [f"**PASS** — no violations. {head}", "", "Applied: " + ", ".join(f"`{n}`" for n in applied)]
    lines = [f"**FAIL** — {len(violations)} violation(s). {head}", "", "| Rule | Resource | Message |", "|---|---|---|"]
    lines += [f"| `{v.rule}` | `{v.resource_type}` {_md(v.resource_name)} | {_md(v.message)} |" for v in violations]
    return lines


# ----------------------------------------------------------------------------------------------
# Diagrams


def _node_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _label(text: Any) -> str:
    return str(text).replace('"', "'")


def pipeline_mermaid(result: StackResult) -> str:
    pipeline = _pipeline(result)
    lines = ["flowchart LR"]
    if pipeline is None:
        return "\n".join([*lines, '  none["no pipeline"]']) + "\n"
    previous: str | None = None
    for i, stage in enumerate(pipeline.inputs.get("stages") or []):
        sid = f"s{i}_{_node_id(stage.get('name', ''))}"
        lines.append(f'  subgraph {sid}["{_label(stage.get("name"))}"]')
        for j, action in enumerate(stage.get("actions") or []):
            lines.append(f'    {sid}_a{j}["{_label(action.get("name"))}<br/>{_label(action.get("provider"))}"]')
        lines.append("  end")
        if _get(stage, "onFailure.result") == "ROLLBACK" or _get(stage, "onSuccess.condition.result") == "ROLLBACK":
            lines.append(f'  {sid} -. "rollback" .-> {sid}')
        if previous:
            lines.append(f"  {previous} --> {sid}")
        previous = sid
    return "\n".join(lines) + "\n"


# (type, label) of the architecture's building blocks, in drawing order; absent types are skipped.
ARCHITECTURE_NODES: tuple[tuple[str, str], ...] = (
    ("aws:codecommit/repository:Repository", "CodeCommit repository"),
    ("aws:codeconnections/connection:Connection", "Git host connection"),
    ("aws:codepipeline/pipeline:Pipeline", "CodePipeline V2"),
    ("aws:codebuild/project:Project", "CodeBuild project"),
    ("aws:ecr/repository:Repository", "ECR repository"),
    ("aws:s3/bucket:Bucket", "S3 bucket"),
    ("aws:lb/loadBalancer:LoadBalancer", "Application Load Balancer"),
    ("aws:ecs/cluster:Cluster", "ECS cluster"),
    ("aws:ecs/service:Service", "ECS Fargate service"),
    ("aws:eks/cluster:Cluster", "EKS cluster"),
    ("aws:sns/topic:Topic", "SNS topic"),
    ("aws:cloudtrail/trail:Trail", "CloudTrail trail"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "CloudWatch alarm"),
)

ARCHITECTURE_EDGES: tuple[tuple[str, str, str], ...] = (
    ("aws:codecommit/repository:Repository", "aws:codepipeline/pipeline:Pipeline", "source"),
    ("aws:codeconnections/connection:Connection", "aws:codepipeline/pipeline:Pipeline", "source"),
    ("aws:codepipeline/pipeline:Pipeline", "aws:codebuild/project:Project", "runs"),
    ("aws:codepipeline/pipeline:Pipeline", "aws:s3/bucket:Bucket", "artifacts"),
    ("aws:codebuild/project:Project", "aws:ecr/repository:Repository", "pushes image"),
    ("aws:codepipeline/pipeline:Pipeline", "aws:ecs/service:Service", "deploys"),
    ("aws:ecs/cluster:Cluster", "aws:ecs/service:Service", "runs"),
    ("aws:lb/loadBalancer:LoadBalancer", "aws:ecs/service:Service", "routes to"),
    ("aws:lb/loadBalancer:LoadBalancer", "aws:eks/cluster:Cluster", "routes to pods"),
    ("aws:ecr/repository:Repository", "aws:ecs/service:Service", "pulls"),
    ("aws:ecr/repository:Repository", "aws:eks/cluster:Cluster", "pulls"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topic:Topic", "notifies"),
)


def architecture_mermaid(result: StackResult) -> str:
    """One node per building-block type present (with its count), edges only between present nodes."""
    counts = result.count_by_type()
    lines = ["flowchart LR"]
    present: set[str] = set()
    for type_, label in ARCHITECTURE_NODES:
        if type_ in counts:
            suffix = f" ×{counts[type_]}" if counts[type_] > 1 else ""
            lines.append(f'  {_node_id(type_)}["{_label(label)}{suffix}"]')
            present.add(type_)
    for a, b, label in ARCHITECTURE_EDGES:
        if a in present and b in present:
            lines.append(f'  {_node_id(a)} -- "{label}" --> {_node_id(b)}')
    # The EKS deploy action is a CodeBuild project running kubectl, not an ECS action.
    if PIPELINE_TYPE in present and "aws:eks/cluster:Cluster" in present:
        lines.append(f'  {_node_id("aws:codebuild/project:Project")} -. "kubectl apply" .-> {_node_id("aws:eks/cluster:Cluster")}')
    return "\n".join(lines) + "\n"


def _mermaid_to_dot(mermaid: str, name: str) -> str:
    """The same graph for Graphviz: nodes and edges of our own Mermaid output (flat, no subgraphs)."""
    out = [f"digraph {name} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for line in mermaid.splitlines()[1:]:
        line = line.strip()
        node = re.match(r'^(\w+)\["(.*)"\]$', line)
        edge = re.match(r'^(\w+) (?:--|-\.) "(.*)" (?:-->|\.->) (\w+)$', line)
        if node:
            label = node[2].replace("<br/>", "\\n")
            out.append(f'  {node[1]} [label="{label}"];')
        elif edge:
            out.append(f'  {edge[1]} -> {edge[3]} [label="{edge[2]}"];')
        elif re.match(r"^\w+ --> \w+$", line):
            a, b = line.split(" --> ")
            out.append(f"  {a} -> {b};")
    return "\n".join([*out, "}"]) + "\n"


def render_images(out: Path, diagrams: dict[str, str]) -> list[str]:
    """SVGs via Graphviz when `dot` is on PATH; the report says which files exist."""
    dot = shutil.which("dot")
    if dot is None:
        return ["Graphviz `dot` is not on PATH: no SVG written (the Mermaid diagrams above render on GitHub/GitLab)."]
    notes = []
    for name, mermaid in diagrams.items():
        src = out / f"{name}.dot"
        src.write_text(_mermaid_to_dot(mermaid, name))
        svg = out / f"{name}.svg"
        done = subprocess.run([dot, "-Tsvg", str(src), "-o", str(svg)], capture_output=True, text=True, check=False)
        notes.append(f"`{svg.name}` written by Graphviz." if done.returncode == 0 else f"Graphviz failed on `{src.name}`: {done.stderr.strip()}")
    return notes


# ----------------------------------------------------------------------------------------------


def render_report(result: StackResult, overrides: dict[str, Any], violations: Sequence[Violation], diagrams: dict[str, str], image_notes: list[str]) -> str:
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
        f"- Overrides: {', '.join(f'`{k}={v}`' if v is not None else f'`{k}` removed' for k, v in overrides.items()) or 'none'}",
        "",
        "## Configuration",
        "",
        "| Key | Value |",
        "|---|---|",
        *[f"| `{k}` | {_md(_show(v))} |" for k, v in sorted(result.config.items())],
        "",
        "## Pipeline",
        "",
        *pipeline_section(result),
        "",
        "## Deploy target",
        "",
        *deploy_section(result),
        "",
        "## What `pulumi up` needs",
        "",
        *deploy_time_section(result),
        "",
        "## Policy pack",
        "",
        *policy_section(violations, result),
        "",
        "## Diagrams",
        "",
        "### Pipeline",
        "",
        "```mermaid",
        diagrams["pipeline"].rstrip(),
        "```",
        "",
        "### Architecture",
        "",
        "```mermaid",
        diagrams["architecture"].rstrip(),
        "```",
        "",
        *image_notes,
        "",
        "## Stack outputs",
        "",
        "| Output | Value (mock) |",
        "|---|---|",
        *[f"| `{k}` | {_md(_show(v))} |" for k, v in sorted(result.outputs.items())],
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        overrides = parse_overrides(args.sets)
        if not (ROOT / f"Pulumi.{args.stack}.yaml").exists():
            raise UsageError(f"no stack file Pulumi.{args.stack}.yaml in {ROOT}")
    except UsageError as e:
        print(f"usage error: {e}", file=sys.stderr)
        return EXIT_USAGE

    from components.settings import SettingsError

    try:
        result = evaluate_stack(args.stack, overrides)
    except SettingsError as e:
        print(f"settings error in stack {args.stack}: {e}", file=sys.stderr)
        return EXIT_SETTINGS_ERROR
    except Exception as e:  # noqa: BLE001 - any other failure of the program is reported, not a traceback
        print(f"the program failed for stack {args.stack}: {e.__class__.__name__}: {e}", file=sys.stderr)
        return EXIT_PROGRAM_ERROR

    violations = run_rules(subjects(result.resources))
    out: Path = args.out or (ROOT / "plan-out" / args.stack)
    out.mkdir(parents=True, exist_ok=True)
    diagrams = {"pipeline": pipeline_mermaid(result), "architecture": architecture_mermaid(result)}
    for name, text in diagrams.items():
        (out / f"{name}.mmd").write_text(text)
    image_notes = render_images(out, diagrams)
    report = out / "plan.md"
    report.write_text(render_report(result, overrides, violations, diagrams, image_notes))

    pipeline = _pipeline(result)
    stages = " → ".join(s.get("name", "?") for s in (pipeline.inputs.get("stages") or [])) if pipeline else "none"
    print(f"plan {args.stack}: {len(result.resources)} resources of {len(result.count_by_type())} types; pipeline: {stages}")
    print(f"report: {report}")
    if violations:
        print(f"policy: {len(violations)} violation(s):", file=sys.stderr)
        for v in violations:
            print(f"  {v}", file=sys.stderr)
        return EXIT_POLICY_VIOLATIONS
    print(f"policy: PASS ({len(RULES)} rules)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
