"""What the plan shows of promotion between stacks: a Summary row for every stack, and for a promoting
stack the promotion path as a diagram (the upstream's verified image, through the collector and the
inbox, to this stack's Check and deploy stages). Read from the recorded resources and outputs only."""

from __future__ import annotations

from components.promotion.contract import CONTRACT_OUTPUT, EXECUTION_TAG_PREFIX, INBOX_KEY, VERIFIED_TAG_PREFIX
from offline.mocks import PROJECT, Resource, StackResult
from offline.plan.diagrams import Cluster, Edge, Graph, Node

PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
PROMOTED_TYPE = f"{PROJECT}:promotion:Promoted"
FUNCTION_TYPE = "aws:lambda/function:Function"
RULE_TYPE = "aws:cloudwatch/eventRule:EventRule"
TAGS = f"{VERIFIED_TAG_PREFIX}(commit), {EXECUTION_TAG_PREFIX}(execution id)"


def _first(result: StackResult, type_: str, name_suffix: str = "") -> Resource | None:
    found = sorted((r for r in result.resources if r.type == type_ and r.name.endswith(name_suffix)), key=lambda r: r.urn)
    return found[0] if found else None


def promotes(result: StackResult) -> bool:
    return _first(result, PROMOTED_TYPE) is not None


def _collector_env(result: StackResult) -> dict[str, str]:
    function = _first(result, FUNCTION_TYPE, "-collector-function")
    return dict((function.inputs.get("environment") or {}).get("variables") or {}) if function else {}


def summary_row(result: StackResult) -> str:
    """One Summary line: where the stack's images come from, and what it offers stacks that promote from it."""
    if promotes(result):
        upstream = str(result.outputs.get("promotesFrom", "?"))
        short = upstream.rsplit("/", 1)[-1]
        return (
            f"- Promotion: promotes from `{short}` (`{upstream}`): deploys by digest only images `{short}`'s pipeline deployed and verified "
            f"(tags {TAGS}); no source repository, build project or registry of its own"
        )
    contract = result.outputs.get(CONTRACT_OUTPUT) or {}
    accounts = list(contract.get("downstreamAccounts") or [])
    shared = f"accounts {', '.join(f'`{a}`' for a in accounts)} may pull its images and receive its pipeline's events" if accounts else "no other account is granted access"
    return (
        f"- Promotion: builds its images; its `Publish` stage tags each image it deployed and verified ({TAGS}) for stacks that promote "
        f"from it (output `{CONTRACT_OUTPUT}`); promoting stacks in this account need no grant, {shared}"
    )


def trigger_line(rule: Resource, pattern: dict) -> str | None:
    """The Pipeline section's trigger line for a rule that starts the pipeline on the inbox object."""
    if "aws.s3" not in (pattern.get("source") or []):
        return None
    bucket = ((pattern.get("detail") or {}).get("bucket") or {}).get("name") or ["?"]
    return f"- Trigger: EventBridge rule `{rule.name}` starts the pipeline when `{INBOX_KEY}` is written to the promotion inbox `{bucket[0]}`"


def promotion_graph(result: StackResult) -> Graph:
    """The promotion path of a promoting stack, from the upstream's pipeline to this stack's deploy stages."""
    env = _collector_env(result)
    function = _first(result, FUNCTION_TYPE, "-collector-function")
    rule = _first(result, RULE_TYPE, "-collector-on-upstream")
    pipeline = _first(result, PIPELINE_TYPE)
    stages = list((pipeline.inputs.get("stages") or []) if pipeline else [])
    source = ((stages[0].get("actions") or [{}])[0].get("configuration") or {}) if stages else {}
    nodes = (
        Node("upstream", ("Upstream pipeline", env.get("UPSTREAM_PIPELINE", "?"), str(result.outputs.get("promotesFrom", "")))),
        Node("registry", ("Upstream ECR repository", env.get("UPSTREAM_REPOSITORY", "?"), TAGS)),
        Node("rule", ("EventBridge rule", rule.name if rule else "?")),
        Node("collector", ("Lambda collector", str(function.inputs.get("name") if function else "?"))),
        Node("inbox", ("S3 promotion inbox", f"{source.get('S3Bucket', '?')}/{source.get('S3ObjectKey', INBOX_KEY)}")),
    )
    stage_nodes = tuple(Node(f"stage{i}", (str(s.get("name")), ", ".join(str(a.get("name")) for a in s.get("actions") or []))) for i, s in enumerate(stages))
    cluster = Cluster("pipeline", f"This stack's pipeline {pipeline.inputs.get('name') if pipeline else ''}".strip(), stage_nodes or (Node("stage_none", ("no pipeline",)),))
    check = next((n.id for n, s in zip(stage_nodes, stages, strict=True) if s.get("name") == "Check"), None)
    edges = [
        Edge("upstream", "registry", "Publish tags the deployed digest"),
        Edge("upstream", "rule", "execution SUCCEEDED"),
        Edge("rule", "collector", "invokes"),
        Edge("collector", "inbox", f"writes {INBOX_KEY}"),
    ]
    if stage_nodes:
        edges.append(Edge("inbox", stage_nodes[0].id, "Object Created starts"))
        edges += [Edge(a.id, b.id) for a, b in zip(stage_nodes, stage_nodes[1:], strict=False)]
    edges.append(Edge("collector", "registry", "DescribeImages", dashed=True))
    if check:
        edges.append(Edge(check, "registry", "re-checks the tags", dashed=True))
    return Graph("promotion", nodes=nodes, clusters=(cluster,), edges=tuple(edges))
