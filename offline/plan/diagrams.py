"""The plan's diagrams as one graph model, written as Mermaid (embedded in plan.md) and as Graphviz DOT.

Both texts come from the same `Graph`, so they show the same nodes, clusters and edges: the DOT is not
a translation of the Mermaid text. Everything is drawn in a declared order (pipeline stages and
actions as the pipeline declares them, architecture blocks as `ARCHITECTURE_NODES` and the deploy target's
report list them), never
in the order the program happened to register resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from components.deploy.report import ArchitectureEdge, TargetReport
from offline.mocks import PROJECT, StackResult
from offline.plan.services import PIPELINE_TYPE, named_services, owners, stack_services
from offline.plan.services import routes as service_routes
from program.targets import module_of_type

DEPLOY_COMPONENT_PREFIX = f"{PROJECT}:deploy:"


@dataclass(frozen=True)
class Node:
    id: str
    lines: tuple[str, ...]
    """The label, one entry per line."""


@dataclass(frozen=True)
class Cluster:
    id: str
    label: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Edge:
    tail: str
    """A node id, or a cluster id (the edge then starts at the cluster's border)."""
    head: str
    label: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: tuple[Node, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    edges: tuple[Edge, ...] = ()


def _node_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _text(value: Any) -> str:
    # Both languages quote labels with ": keep it out of the text.
    return str(value).replace('"', "'")


# ----------------------------------------------------------------------------------------------
# The graphs


def _pipeline_stages(result: StackResult) -> list[dict] | None:
    found = result.of_type(PIPELINE_TYPE)
    return list(found[0].inputs.get("stages") or []) if found else None


def pipeline_graph(result: StackResult) -> Graph:
    """One cluster per stage holding its actions (joined in their run order), stages chained in order; a
    dashed self-edge marks a stage that rolls back (on failure, or when its on-success condition fails)."""
    stages = _pipeline_stages(result)
    if stages is None:
        return Graph("pipeline", nodes=(Node("none", ("no pipeline",)),))
    clusters: list[Cluster] = []
    edges: list[Edge] = []
    for i, stage in enumerate(stages):
        sid = f"s{i}_{_node_id(stage.get('name', ''))}"
        actions = stage.get("actions") or []
        nodes = tuple(Node(f"{sid}_a{j}", (str(a.get("name")), str(a.get("provider")))) for j, a in enumerate(actions))
        clusters.append(Cluster(sid, str(stage.get("name")), nodes or (Node(f"{sid}_empty", ("no actions",)),)))
        if clusters[-2:-1]:
            edges.append(Edge(clusters[-2].id, sid))
        # Actions run in runOrder groups (default 1): each group starts when the one before it succeeded.
        orders = sorted({int(a.get("runOrder") or 1) for a in actions})
        groups = [[n.id for n, a in zip(nodes, actions, strict=True) if int(a.get("runOrder") or 1) == o] for o in orders]
        edges += [Edge(a, b) for before, after in zip(groups, groups[1:], strict=False) for a in before for b in after]
    for cluster, stage in zip(clusters, stages, strict=True):
        onfailure = (stage.get("onFailure") or {}).get("result")
        onsuccess = ((stage.get("onSuccess") or {}).get("condition") or {}).get("result")
        if "ROLLBACK" in (onfailure, onsuccess):
            edges.append(Edge(cluster.id, cluster.id, "rollback", dashed=True))
    return Graph("pipeline", clusters=tuple(clusters), edges=tuple(edges))


# (type, label) of the shared building blocks, in drawing order; the stack's deploy target draws its own
# blocks between the two groups (TargetReport.architecture_nodes). Absent types are skipped.
ARCHITECTURE_NODES: tuple[tuple[str, str], ...] = (
    ("aws:codecommit/repository:Repository", "CodeCommit repository"),
    ("aws:codeconnections/connection:Connection", "Git host connection"),
    ("aws:codepipeline/pipeline:Pipeline", "CodePipeline V2"),
    ("aws:codebuild/project:Project", "CodeBuild project"),
    ("aws:ecr/repository:Repository", "ECR repository"),
    ("aws:signer/signingProfile:SigningProfile", "AWS Signer profile"),
    ("aws:s3/bucket:Bucket", "S3 bucket"),
    ("aws:lb/loadBalancer:LoadBalancer", "Application Load Balancer"),
)
ARCHITECTURE_NODES_AFTER_TARGET: tuple[tuple[str, str], ...] = (
    ("aws:sns/topic:Topic", "SNS topic"),
    ("aws:cloudtrail/trail:Trail", "CloudTrail trail"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "CloudWatch alarm"),
)

ARCHITECTURE_EDGES: tuple[ArchitectureEdge, ...] = (
    ArchitectureEdge("aws:codecommit/repository:Repository", "aws:codepipeline/pipeline:Pipeline", "source"),
    ArchitectureEdge("aws:codeconnections/connection:Connection", "aws:codepipeline/pipeline:Pipeline", "source"),
    ArchitectureEdge("aws:codepipeline/pipeline:Pipeline", "aws:codebuild/project:Project", "runs"),
    ArchitectureEdge("aws:codepipeline/pipeline:Pipeline", "aws:s3/bucket:Bucket", "artifacts"),
    ArchitectureEdge("aws:codebuild/project:Project", "aws:ecr/repository:Repository", "pushes image"),
    ArchitectureEdge("aws:codebuild/project:Project", "aws:signer/signingProfile:SigningProfile", "signs, verifies"),
)
ARCHITECTURE_EDGES_AFTER_TARGET: tuple[ArchitectureEdge, ...] = (ArchitectureEdge("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topic:Topic", "notifies"),)


def _target_report(result: StackResult) -> TargetReport:
    components = sorted((r for r in result.resources if r.type.startswith(DEPLOY_COMPONENT_PREFIX)), key=lambda r: r.urn)
    module = module_of_type(components[0].type) if components else None
    return module.report if module else TargetReport()


def architecture_graph(result: StackResult) -> Graph:
    """One node per building-block type present (with its count), edges only between present nodes:
    solid ones in declared order, then dashed ones (control paths such as a kubectl step)."""
    counts = result.count_by_type()
    report = _target_report(result)
    declared = (*ARCHITECTURE_NODES, *report.architecture_nodes, *ARCHITECTURE_NODES_AFTER_TARGET)
    nodes = []
    for type_, label in declared:
        if type_ in counts:
            suffix = f" ×{counts[type_]}" if counts[type_] > 1 else ""
            nodes.append(Node(_node_id(type_), (f"{label}{suffix}",)))
    present = {type_ for type_, _ in declared if type_ in counts}
    drawn = [e for e in (*ARCHITECTURE_EDGES, *report.architecture_edges, *ARCHITECTURE_EDGES_AFTER_TARGET) if e.tail in present and e.head in present]
    edges = [Edge(_node_id(e.tail), _node_id(e.head), e.label, dashed=e.dashed) for e in sorted(drawn, key=lambda e: e.dashed)]
    return Graph("architecture", nodes=tuple(nodes), edges=tuple(edges))


# ----------------------------------------------------------------------------------------------
# Writers


def _mermaid_node(node: Node) -> str:
    return f'{node.id}["{"<br/>".join(_text(line) for line in node.lines)}"]'


def _mermaid_edge(edge: Edge) -> str:
    if edge.dashed:
        arrow = f'-. "{_text(edge.label)}" .->' if edge.label else "-.->"
    else:
        arrow = f'-- "{_text(edge.label)}" -->' if edge.label else "-->"
    return f"{edge.tail} {arrow} {edge.head}"


def to_mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    lines += [f"  {_mermaid_node(n)}" for n in graph.nodes]
    for cluster in graph.clusters:
        lines.append(f'  subgraph {cluster.id}["{_text(cluster.label)}"]')
        lines += [f"    {_mermaid_node(n)}" for n in cluster.nodes]
        lines.append("  end")
    lines += [f"  {_mermaid_edge(e)}" for e in graph.edges]
    return "\n".join(lines) + "\n"


def _dot_label(lines: tuple[str, ...]) -> str:
    return "\\n".join(_text(line).replace("\\", "\\\\") for line in lines)


def to_dot(graph: Graph) -> str:
    """Graphviz DOT. DOT has no edges between clusters: such an edge runs from the tail cluster's last
    node to the head cluster's first node and is clipped at both borders (`compound=true` with
    `ltail`/`lhead`); a cluster's edge to itself is drawn on its first node (Graphviz cannot clip an
    edge at the cluster it starts and ends in)."""
    first = {c.id: c.nodes[0].id for c in graph.clusters}
    last = {c.id: c.nodes[-1].id for c in graph.clusters}
    out = [f"digraph {graph.name} {{", "  rankdir=LR;"]
    if graph.clusters:
        out.append("  compound=true;")
    out.append("  node [shape=box, style=rounded];")
    out += [f'  {n.id} [label="{_dot_label(n.lines)}"];' for n in graph.nodes]
    for cluster in graph.clusters:
        out.append(f"  subgraph cluster_{cluster.id} {{")
        out.append(f'    label="{_dot_label((cluster.label,))}";')
        out += [f'    {n.id} [label="{_dot_label(n.lines)}"];' for n in cluster.nodes]
        out.append("  }")
    for edge in graph.edges:
        attributes = []
        if edge.label:
            attributes.append(f'label="{_dot_label((edge.label,))}"')
        if edge.dashed:
            attributes.append("style=dashed")
        if edge.tail != edge.head:
            if edge.tail in first:
                attributes.append(f"ltail=cluster_{edge.tail}")
            if edge.head in first:
                attributes.append(f"lhead=cluster_{edge.head}")
        tail = first[edge.tail] if edge.tail == edge.head and edge.tail in first else last.get(edge.tail, edge.tail)
        head = first.get(edge.head, edge.head)
        out.append(f"  {tail} -> {head}" + (f" [{', '.join(attributes)}]" if attributes else "") + ";")
    return "\n".join([*out, "}"]) + "\n"


def pipeline_mermaid(result: StackResult) -> str:
    return to_mermaid(pipeline_graph(result))


def architecture_mermaid(result: StackResult) -> str:
    return to_mermaid(architecture_graph(result))


# ----------------------------------------------------------------------------------------------
# A stack with `services`: each service's part in a subgraph of its own


def _service_cluster_id(service: str) -> str:
    return f"svc_{_node_id(service)}"


def services_pipeline_graph(result: StackResult) -> Graph:
    """One cluster per service (in the stack file's order) holding its pipeline's stages, chained in order, each
    with its number of actions; a dashed self-edge marks a stage that rolls back. Actions are in the report's
    Pipeline section: twenty pipelines' actions in one drawing would be unreadable."""
    owner = owners(result)
    clusters: list[Cluster] = []
    edges: list[Edge] = []
    for service in named_services(result.config):
        cid = _service_cluster_id(service)
        pipelines = sorted((r for r in result.of_type(PIPELINE_TYPE) if owner[r.urn] == service), key=lambda r: r.urn)
        nodes: list[Node] = []
        for p, pipeline in enumerate(pipelines):
            stages = list(pipeline.inputs.get("stages") or [])
            for i, stage in enumerate(stages):
                actions = len(stage.get("actions") or [])
                node = Node(f"{cid}_p{p}_s{i}", (str(stage.get("name")), f"{actions} action{'s' if actions != 1 else ''}"))
                if i:
                    edges.append(Edge(nodes[-1].id, node.id))
                nodes.append(node)
                onfailure = (stage.get("onFailure") or {}).get("result")
                onsuccess = ((stage.get("onSuccess") or {}).get("condition") or {}).get("result")
                if "ROLLBACK" in (onfailure, onsuccess):
                    edges.append(Edge(node.id, node.id, "rollback", dashed=True))
        label = f"{service}: {', '.join(str(p.inputs.get('name') or p.name) for p in pipelines) or 'no pipeline'}"
        clusters.append(Cluster(cid, label, tuple(nodes) or (Node(f"{cid}_none", ("no pipeline",)),)))
    return Graph("pipeline", clusters=tuple(clusters), edges=tuple(edges))


def services_architecture_graph(result: StackResult, routes: dict[str, str] | None = None) -> Graph:
    """The shared building blocks outside any cluster, and each service's own blocks (with their counts) in a
    cluster of its own. An edge of the declared ones joins a service's block to its own blocks, or to a shared
    block when the service has none of that type; the load balancer's edge to a service is labelled with the
    service's route (`routes`, by service name) when given."""
    owner = owners(result)
    report = _target_report(result)
    declared = (*ARCHITECTURE_NODES, *report.architecture_nodes, *ARCHITECTURE_NODES_AFTER_TARGET)
    labels = dict(declared)
    counts: dict[str | None, dict[str, int]] = {}
    for r in result.resources:
        if r.type in labels:
            by_type = counts.setdefault(owner[r.urn], {})
            by_type[r.type] = by_type.get(r.type, 0) + 1

    # A service's node ids are short (its cluster's id and the type's place in `declared`): Mermaid refuses a diagram
    # over 50,000 characters (its maxTextSize), and a stack may have as many services as the load balancer takes.
    position = {t: i for i, (t, _) in enumerate(declared)}

    def node_id(scope: str | None, type_: str) -> str:
        return _node_id(type_) if scope is None else f"{_service_cluster_id(scope)}_{position[type_]}"

    def nodes_of(scope: str | None) -> tuple[Node, ...]:
        present = counts.get(scope, {})
        return tuple(Node(node_id(scope, t), (f"{label}{f' ×{present[t]}' if present[t] > 1 else ''}",)) for t, label in declared if t in present)

    services = named_services(result.config)
    clusters = tuple(Cluster(_service_cluster_id(s), s, nodes_of(s) or (Node(f"{_service_cluster_id(s)}_none", ("no own resources",)),)) for s in services)
    shared = counts.get(None, {})
    declared_edges = sorted((*ARCHITECTURE_EDGES, *report.architecture_edges, *ARCHITECTURE_EDGES_AFTER_TARGET), key=lambda e: e.dashed)
    edges = [Edge(_node_id(e.tail), _node_id(e.head), e.label, dashed=e.dashed) for e in declared_edges if e.tail in shared and e.head in shared]
    for s in services:
        own = counts.get(s, {})
        for e in declared_edges:
            if e.tail not in own and e.head not in own:
                continue
            tail = node_id(s, e.tail) if e.tail in own else node_id(None, e.tail) if e.tail in shared else None
            head = node_id(s, e.head) if e.head in own else node_id(None, e.head) if e.head in shared else None
            if tail is None or head is None:
                continue
            label = routes[s] if routes and s in routes and e.tail == "aws:lb/loadBalancer:LoadBalancer" and e.tail in shared else e.label
            edges.append(Edge(tail, head, label, dashed=e.dashed))
    return Graph("architecture", nodes=nodes_of(None), clusters=clusters, edges=tuple(edges))


def services_graphs(result: StackResult, routes: dict[str, str] | None = None) -> dict[str, Graph]:
    """The pipeline and architecture diagrams of a stack with `services` (its load balancer edges labelled with
    `routes`, by service name; omitted: each service's route as the stack file gives it)."""
    routes = service_routes(stack_services(result)) if routes is None else routes
    return {"pipeline": services_pipeline_graph(result), "architecture": services_architecture_graph(result, routes)}
