"""The generated parts of the project's documents, so they cannot drift from the code: the config
reference in README.md and docs/config.md and Pulumi.yaml's `config:` block (all from settings.KEYS),
what the shipped stacks cost and the outputs they export in README.md (offline/cost.py over the
evaluated stack files), and the inline facts of every page (offline/doc_numbers.py).

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
from offline import doc_numbers

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONFIG_DOC = ROOT / "docs" / "config.md"
PULUMI_YAML = ROOT / "Pulumi.yaml"
CONFIG_BLOCK = "\nconfig:\n"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
COST_START, COST_END = "<!-- cost:start -->", "<!-- cost:end -->"
OUTPUTS_START, OUTPUTS_END = "<!-- outputs:start -->", "<!-- outputs:end -->"
EKS_VERSIONS_START, EKS_VERSIONS_END = "<!-- eks-versions:start -->", "<!-- eks-versions:end -->"


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

    results, estimates = doc_numbers.cost_results(), doc_numbers.cost_estimates()
    targets = {"ecs": "ECS on Fargate", "eks": "EKS Auto Mode"}
    shipped = " and ".join(f"`{stack}` ({targets[str(r.config.get('container-cicd:deployTarget', 'ecs'))]})" for stack, r in results.items())
    items = list(dict.fromkeys(line.item for e in estimates.values() for line in e.lines))
    lines = [
        "## What it costs",
        "",
        f"What the shipped stacks {shipped} cost per month while idle, counted from the resources each one"
        " creates at on-demand prices of us-east-1 (offline/cost.py). Cells are USD per month (quantity).",
        "",
        "| Resource | " + " | ".join(f"`{s}`" for s in doc_numbers.COST_STACKS) + " |",
        "|---|" + "---:|" * len(doc_numbers.COST_STACKS),
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


SERVICES_COST_START, SERVICES_COST_END = "<!-- services-cost:start -->", "<!-- services-cost:end -->"
# The stack sizes the savings are shown for: the services example's, and the benchmark's.
SERVICES_COST_COUNTS = (3, 20)


def services_cost_section() -> str:
    """What the shipped stacks' shared parts save when several services share them (offline/cost.py `savings`):
    a table per stack for the first of SERVICES_COST_COUNTS, one sentence for the others."""
    from offline import cost

    first, *others = SERVICES_COST_COUNTS
    lines = []
    for stack, estimate in doc_numbers.cost_estimates().items():
        target = str(doc_numbers.cost_results()[stack].config.get("container-cicd:deployTarget", "ecs"))
        lines += [f"`{stack}` ({target}) with {first} services:", "", cost.savings(estimate, first).markdown().rstrip(), ""]
        more = [f"{n} services save {cost.savings(estimate, n).saved:.2f}" for n in others]
        if more:
            lines += [f"With the same stack-wide settings, {', '.join(more)} a month.", ""]
    return "\n".join(lines).rstrip()


# The kinds of stack whose exported outputs differ, each as a stack file with overrides. Every output the
# program exports in one of them must be described in OUTPUTS (outputs_section raises otherwise).
OUTPUT_VARIANTS: dict[str, tuple[str, dict]] = {
    "building": ("dev", {}),
    "promoting": ("prod", {}),
    "connection": ("dev", {"sourceProvider": "github", "sourceRepository": "acme/orders"}),
    "existing cluster": (
        "dev",
        {
            "deployTarget": "eks",
            "eksClusterName": "platform",
            "vpcId": "vpc-0a1b2c3d4e5f60718",
            "publicSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            "privateSubnetIds": ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"],
        },
    ),
    "switching": ("dev", {"nextDeployTarget": "eks"}),
    "service domain": (
        "dev",
        {"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789", "serviceDomain": "app.example.com"},
    ),
}
# Where an output that not every stack exports appears, by the variants that export it.
OUTPUT_WHEN = {
    frozenset(OUTPUT_VARIANTS): "every stack",
    frozenset(OUTPUT_VARIANTS) - {"promoting"}: "a building stack",
    frozenset({"promoting"}): "a promoting stack (`promoteFrom`)",
    frozenset({"existing cluster"}): "an existing EKS cluster (`eksClusterName`)",
    frozenset({"switching"}): "during a switch (`nextDeployTarget`)",
    frozenset({"service domain"}): "a stack with `serviceDomain`",
}
# What each exported output holds, in the order of the table.
OUTPUTS = {
    "serviceUrl": "The service's URL: `https://` with `certificateArn`, else `http://`; its host is `serviceDomain` when set, else the load balancer's DNS name.",
    "pipelineName": "The pipeline's name (`aws codepipeline get-pipeline-state --name ...`).",
    "pipelineConsoleUrl": "The pipeline in the AWS console.",
    "sourceLocation": "Where the pipeline's source is. A building stack on CodeCommit: the repository's HTTPS clone URL,"
    " whose last part is the repository name. On a connection (`sourceProvider` github, bitbucket or gitlab): the connection's ARN."
    " A promoting stack: the S3 URL of its promotion inbox object (`s3://<bucket>/promotion.zip`), which the upstream's verified"
    " images arrive in; there is nothing to push to.",
    "repositoryUrl": "The ECR repository the deployed images are in: the stack's own on a building stack; on a promoting stack"
    " the upstream stack's repository, which this stack reads and never writes.",
    "notificationTopicArn": "The SNS topic of pipeline, deployment and alarm notifications.",
    "alarmNames": "The service alarms (the Deploy stage's bake and rollback watch them).",
    "dashboardUrl": "The CloudWatch dashboard of service health and delivery metrics.",
    "recordsBucket": "The bucket of the SBOM and scan verdict of each digest the supply-chain gate scanned (`sbom/<digest>.json`,"
    " `scan/<digest>.json`), which `python -m tools.sbom` searches (docs/supply-chain.md). Expiring with logRetentionDays; not exported while `scanSeverityThreshold` is off.",
    "promotion": "What a promoting stack reads from this one (registry, pipeline, account, region, CPU architecture, the accounts it grants): see docs/promotion.md.",
    "promotesFrom": "The fully qualified name of the stack it promotes from.",
    "clusterAdministratorManifests": "The namespace, role and binding the cluster's administrators apply once before the first deployment (docs/eks.md).",
    "loadBalancerDnsName": "The load balancer's DNS name, which `serviceDomain` must resolve to (the alias record the stack creates with `hostedZoneId`, or one you keep).",
    "nextTargetGroupArn": "The next target's target group: check its targets are healthy before the switch's second step.",
}


@functools.cache
def exported_outputs() -> dict[str, dict[str, object]]:
    """The outputs each kind of stack in OUTPUT_VARIANTS exports, evaluated under mocks."""
    from offline.mocks import evaluate_stack

    return {kind: dict(evaluate_stack(stack, overrides).outputs) for kind, (stack, overrides) in OUTPUT_VARIANTS.items()}


def outputs_section(exported: dict[str, dict[str, object]]) -> str:
    """The table of stack outputs: every output the program exports in one of OUTPUT_VARIANTS, on which
    stacks, and what it holds. An output without an entry in OUTPUTS (or one OUTPUTS describes that no
    stack exports) is an error, so the table cannot miss one."""
    names = {name for outputs in exported.values() for name in outputs}
    if names != set(OUTPUTS):
        raise ValueError(f"stack outputs and offline/docs.py OUTPUTS differ: undocumented {sorted(names - set(OUTPUTS))}, not exported {sorted(set(OUTPUTS) - names)}")
    lines = [
        "Stack outputs (`pulumi stack output <name>`):",
        "",
        "| Output | Exported by | What it holds |",
        "|---|---|---|",
    ]
    for name, text in OUTPUTS.items():
        kinds = frozenset(kind for kind, outputs in exported.items() if name in outputs)
        if kinds not in OUTPUT_WHEN:
            raise ValueError(f"output {name} is exported by {sorted(kinds)}: add that combination to OUTPUT_WHEN")
        lines.append(f"| `{name}` | {OUTPUT_WHEN[kinds]} | {text} |")
    return "\n".join(lines)


def _replace(text: str, start: str, end: str, body: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def eks_versions_section() -> str:
    """The Kubernetes versions' end of standard support (components/settings/constants.py) and which a
    stack may name."""
    from components.settings import EKS_KUBERNETES_VERSIONS, EKS_STANDARD_SUPPORT_ENDS

    lines = ["| Version | End of standard support |", "|---|---|"]
    for version, end in EKS_STANDARD_SUPPORT_ENDS.items():
        lines.append(f"| {version} | {end.isoformat()}{'' if version in EKS_KUBERNETES_VERSIONS else ' (no longer allowed)'} |")
    return "\n".join(lines)


def render(page: str) -> str:
    """`page` with each generated block it has (config reference, costs, outputs, EKS versions) and its
    inline facts rewritten."""
    out = _replace(page, START, END, config_reference()) if START in page else page
    if COST_START in out:
        out = _replace(out, COST_START, COST_END, cost_section())
    if OUTPUTS_START in out:
        out = _replace(out, OUTPUTS_START, OUTPUTS_END, outputs_section(exported_outputs()))
    if SERVICES_COST_START in out:
        out = _replace(out, SERVICES_COST_START, SERVICES_COST_END, services_cost_section())
    if EKS_VERSIONS_START in out:
        out = _replace(out, EKS_VERSIONS_START, EKS_VERSIONS_END, eks_versions_section())
    return doc_numbers.render_facts(out)


def pulumi_config() -> str:
    """Pulumi.yaml's `config:` block: every declared key's type, documented description and default, in KEYS order."""
    block: dict[str, dict] = {}
    for key in (k for k in KEYS.values() if k.declared):
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
    files = {**dict.fromkeys(doc_numbers.pages(ROOT), render), README: render, CONFIG_DOC: render, PULUMI_YAML: render_pulumi_yaml}
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
