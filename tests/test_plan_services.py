"""The plan of a stack with `services` (offline/plan/services.py, the grouped diagrams of offline/plan/diagrams.py):
which service each resource belongs to, the summary table, and a subgraph per service. Pure: small recorded
stacks built here, no evaluation."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from components.settings import PROJECT, DeploymentStrategyKind, Routing, ServiceSettings, parse_settings
from offline.cost import estimate, savings
from offline.mocks import StackResult
from offline.plan import plan_diagrams, render_files
from offline.plan.diagrams import services_architecture_graph, services_graphs, to_dot, to_mermaid
from offline.plan.services import mermaid_notes, owners, route_text, services_section, summary_rows
from offline.recording import Resource
from tests.test_diagrams import parse
from tests.test_examples import example

STACK = f"urn:pulumi:dev::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-dev"
SERVICES = [{"name": "web"}, {"name": "api", "paths": ["/api/*"]}, {"name": "api-v2", "hosts": ["v2.example.com"]}]


def _resource(type_: str, logical: str, parent: Resource | None = None, service: str | None = None, **inputs) -> Resource:
    custom = not type_.startswith(f"{PROJECT}:")
    ref = f"urn:pulumi:dev::{PROJECT}::{type_}::{logical}"
    tags = {"tags": {"service": service}} if service else {}
    outputs = {"arn": inputs.pop("arn")} if "arn" in inputs else {}
    return Resource(type_, logical, ref, parent.ref if parent else STACK, custom, {**tags, **inputs}, outputs=outputs, ref=ref)


def _stages(*names: str) -> list[dict]:
    return [{"name": n, "actions": [{"name": f"{n}-a", "provider": "X"}] * (2 if n == "Deploy" else 1)} for n in names]


WEB_STAGES = _stages("Source", "Build", "Deploy")
ROUTES = json.dumps({"container-cicd-dev-web-pipeline": ["services/web/**", "shared/**"], "container-cicd-dev-other-pipeline": []})


def stack(config: dict | None = None) -> StackResult:
    """web (named like serviceName), api and api-v2: each service's pipeline and deploy components, and shared parts
    whose children belong to services (the target groups under the load balancer)."""
    lb = _resource(f"{PROJECT}:network:LoadBalancer", "deploy-lb")
    web_pipeline = _resource(f"{PROJECT}:delivery:Pipeline", "web-pipeline")
    api_pipeline = _resource(f"{PROJECT}:delivery:Pipeline", "api-pipeline")
    v2_deploy = _resource(f"{PROJECT}:deploy:EcsTarget", "api-v2-deploy")
    resources = [
        lb,
        _resource("aws:lb/loadBalancer:LoadBalancer", "deploy-lb-alb", lb, "web", name="container-cicd-dev-web"),
        _resource("aws:lb/listener:Listener", "deploy-lb-http", lb, "web"),
        _resource("aws:lb/targetGroup:TargetGroup", "deploy-lb-tg-ecs", lb, "web", name="container-cicd-dev-web-tg"),
        _resource("aws:lb/targetGroup:TargetGroup", "deploy-lb-api-tg-ecs", lb, "api", name="container-cicd-dev-api-tg"),
        _resource("aws:lb/targetGroup:TargetGroup", "deploy-lb-api-v2-tg-ecs", lb, "api-v2", name="container-cicd-dev-api-v2-tg", arn="arn:tg/api-v2"),
        # A service's attachment to the load balancer: named after the service, tagged like the stack.
        _resource("aws:lb/listenerRule:ListenerRule", "api-deploy-lb-rule", lb, "web"),
        # A rule named by its priority and tagged like the stack: the service whose target group it forwards to.
        _resource("aws:lb/listenerRule:ListenerRule", "deploy-lb-rule-30", lb, "web", actions=[{"type": "forward", "targetGroupArn": "arn:tg/api-v2"}]),
        _resource("aws:kms/key:Key", "logs-key", None, "web"),
        # The CodeCommit path router: one function for the stack, its routes by pipeline name.
        _resource("aws:lambda/function:Function", "path-router", None, "web", environment={"variables": {"ROUTES": ROUTES}}),
        web_pipeline,
        _resource(
            "aws:codepipeline/pipeline:Pipeline", "web-pipeline-pipeline", web_pipeline, "web", name="container-cicd-dev-web-pipeline", stages=_stages("Source", "Build", "Deploy")
        ),
        api_pipeline,
        _resource(
            "aws:codepipeline/pipeline:Pipeline",
            "api-pipeline-pipeline",
            api_pipeline,
            "api",
            name="container-cicd-dev-api-pipeline",
            stages=[*_stages("Source", "Build"), {**_stages("Deploy")[0], "onFailure": {"result": "ROLLBACK"}}],
            triggers=[{"gitConfiguration": {"pushes": [{"filePaths": {"includes": ["services/api/**"]}}]}}],
        ),
        _resource("aws:iam/role:Role", "api-pipeline-role", api_pipeline),
        v2_deploy,
        _resource("aws:ecs/service:Service", "api-v2-deploy-service", v2_deploy, "api-v2"),
        *(_resource("aws:cloudwatch/metricAlarm:MetricAlarm", f"api-alarms-{m}", None, "api") for m in ("5xx", "cpu")),
        _resource("aws:cloudwatch/compositeAlarm:CompositeAlarm", "api-alarms-unhealthy", None, "api"),
    ]
    config = config if config is not None else {f"{PROJECT}:serviceName": "web", f"{PROJECT}:services": SERVICES}
    return StackResult("dev", config, resources, {}, [])


def test_each_resource_belongs_to_its_service_by_component_name_or_per_service_tag():
    found = {urn.rsplit("::", 1)[1]: owner for urn, owner in owners(stack()).items()}
    assert found == {
        # The load balancer and its listener are shared although tagged like the entry named as serviceName;
        # the target groups under it are their services' (per-service type, tagged).
        "deploy-lb": None,
        "deploy-lb-alb": None,
        "deploy-lb-http": None,
        "deploy-lb-tg-ecs": "web",
        "deploy-lb-api-tg-ecs": "api",
        "deploy-lb-api-v2-tg-ecs": "api-v2",
        "api-deploy-lb-rule": "api",
        "deploy-lb-rule-30": "api-v2",
        "logs-key": None,
        "path-router": None,
        "web-pipeline": "web",
        "web-pipeline-pipeline": "web",
        "api-pipeline": "api",
        "api-pipeline-pipeline": "api",
        "api-pipeline-role": "api",  # untagged: its component's name
        # `api-v2-deploy` starts with `api-` too: the longest service name wins.
        "api-v2-deploy": "api-v2",
        "api-v2-deploy-service": "api-v2",
        "api-alarms-5xx": "api",
        "api-alarms-cpu": "api",
        "api-alarms-unhealthy": "api",
    }


def test_a_stack_without_services_has_no_owners():
    assert set(owners(stack({f"{PROJECT}:serviceName": "web"})).values()) == {None}


@pytest.fixture(scope="module")
def services() -> list[ServiceSettings]:
    base = parse_settings({"serviceName": "web", "sourceProvider": "github", "sourceRepository": "acme/mono"}, PROJECT, "dev")
    assert base.ecs is not None
    canary = replace(base.ecs, strategy=replace(base.ecs.strategy, kind=DeploymentStrategyKind.CANARY))
    api = replace(base, service_name="api", workload=replace(base.workload, desired_count=3), ecs=canary)
    v2 = replace(base, service_name="api-v2", source=replace(base.source, file_paths=("services/v2/**",)))
    return [
        ServiceSettings("web", base, None, None),
        ServiceSettings("api", api, Routing(paths=("/api/*",)), 20),
        ServiceSettings("api-v2", v2, Routing(hosts=("v2.example.com",), paths=("/v2/*", "/v2")), 30),
    ]


def test_routes_in_words():
    assert route_text(ServiceSettings("a", None, None, None)) == "default action"  # type: ignore[arg-type]
    both = ServiceSettings("b", None, Routing(hosts=("x.example.com",), paths=("/b/*",)), 40)  # type: ignore[arg-type]
    assert route_text(both) == "host `x.example.com` and path `/b/*` (priority 40)"


def test_summary_has_one_row_per_service_with_its_own_resources(services):
    rows = [row.markdown() for row in summary_rows(stack(), services)]
    assert rows == [
        "| `web` | default action | rolling | 2 × 0.25 vCPU / 0.5 GB | `container-cicd-dev-web-pipeline` | `services/web/**`, `shared/**` (path router) "
        "| `container-cicd-dev-web-tg` | 0 |",
        "| `api` | path `/api/*` (priority 20) | canary | 3 × 0.25 vCPU / 0.5 GB | `container-cicd-dev-api-pipeline` | `services/api/**` (trigger) "
        "| `container-cicd-dev-api-tg` | 2 + 1 composite |",
        "| `api-v2` | host `v2.example.com` and path `/v2/*`, `/v2` (priority 30) | rolling | 2 × 0.25 vCPU / 0.5 GB | none | every push | `container-cicd-dev-api-v2-tg` | 0 |",
    ]


def test_the_section_says_what_a_request_no_rule_matches_gets(services):
    assert services_section(stack(), services)[-1] == "A request that no rule matches goes to `web` (the listener's default action)."
    routed = [replace(s, routing=s.routing or Routing(paths=("/web/*",)), priority=s.priority or 10) for s in services]
    assert services_section(stack(), routed)[-1] == "No service is the default: a request that no rule matches gets 404 from the load balancer."


def test_pipeline_diagram_has_a_subgraph_per_service_with_its_stages_in_order():
    graph = plan_diagrams(stack())["pipeline"]
    assert [(c.id, c.label) for c in graph.clusters] == [
        ("svc_web", "web: container-cicd-dev-web-pipeline"),
        ("svc_api", "api: container-cicd-dev-api-pipeline"),
        ("svc_api_v2", "api-v2: no pipeline"),
    ]
    assert [n.lines for n in graph.clusters[1].nodes] == [("Source", "1 action"), ("Build", "1 action"), ("Deploy", "2 actions")]
    assert [(e.tail, e.head, e.label) for e in graph.edges if e.tail.startswith("svc_api_")] == [
        ("svc_api_p0_s0", "svc_api_p0_s1", ""),
        ("svc_api_p0_s1", "svc_api_p0_s2", ""),
        ("svc_api_p0_s2", "svc_api_p0_s2", "rollback"),
    ]
    text = to_mermaid(graph)
    assert '  subgraph svc_api["api: container-cicd-dev-api-pipeline"]' in text and text.count("subgraph ") == 3
    assert "subgraph cluster_svc_api {" in to_dot(graph)


def test_architecture_diagram_draws_shared_parts_once_and_each_services_own_in_its_subgraph():
    graph = services_architecture_graph(stack(), {"api": "path /api/* (priority 20)"})
    assert [n.lines for n in graph.nodes] == [("Application Load Balancer",), ("Lambda function (verifier, smoke-test hook, canary judge)",)]
    clusters = {c.id: [n.lines[0] for n in c.nodes] for c in graph.clusters}
    assert clusters == {
        "svc_web": ["CodePipeline V2"],
        "svc_api": ["CodePipeline V2", "Listener rules: production, test listener (ECS sets the weights)", "CloudWatch alarm ×2"],
        "svc_api_v2": ["ECS Fargate service", "Listener rules: production, test listener (ECS sets the weights)"],
    }


def test_a_stack_without_services_keeps_its_single_service_diagrams():
    plain = stack({f"{PROJECT}:serviceName": "web"})
    graph = plan_diagrams(plain)["pipeline"]
    # The first pipeline by registration, its stages as clusters of actions: the single-service drawing.
    assert [c.label for c in graph.clusters] == ["Source", "Build", "Deploy"]


def test_the_grouped_diagrams_parse_with_mermaid():
    graphs = services_graphs(stack(), {"api": "path /api/* (priority 20)"})
    code, lines = parse([{"name": f"services {name}", "text": to_mermaid(graph)} for name, graph in graphs.items()])
    assert [line.split(" (")[0] for line in lines] == ["ok services pipeline", "ok services architecture"] and code == 0


# ----------------------------------------------------------------------------------------------
# The services example (examples/Pulumi.services.yaml), evaluated through the real program


def test_the_example_plan_has_one_row_per_service_and_what_sharing_saves():
    result = example("services")
    report = render_files(result, {}, [], {})["plan.md"]
    section = report.split("## Services\n\n", 1)[1].split("\n## ", 1)[0]
    prefix = "container-cicd-services"
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[:5] for row in rows] == [
        ["| `orders`", "path `/orders`, `/orders/*` (priority 10)", "rolling", "1 × 0.25 vCPU / 0.5 GB", f"`{prefix}-orders-pipeline`"],
        ["| `api`", "path `/api/*` (priority 20)", "rolling", "2 × 0.25 vCPU / 0.5 GB", f"`{prefix}-api-pipeline`"],
        ["| `admin`", "host `admin.example.com` (priority 30)", "rolling", "1 × 0.5 vCPU / 1 GB", f"`{prefix}-admin-pipeline`"],
    ]
    assert all(row.endswith(" | 5 + 1 composite |") for row in rows)
    # Each service's own target group, attached to the one load balancer.
    # (orders adopts the stack's own names: its target group is the load balancer's first, named as before.)
    groups = [result.named(name).inputs["name"] for name in ("deploy-lb-tg-ecs", "api-deploy-lb-tg-ecs", "admin-deploy-lb-tg-ecs")]
    assert groups[1:] == [f"{prefix}-api-tg", f"{prefix}-admin-tg"]
    assert [row.split(" | ")[6] for row in rows] == [f"`{g}`" for g in groups]
    # CodeCommit: the path router starts each pipeline on its own service's files.
    assert [row.split(" | ")[5] for row in rows] == [
        "`services/orders/**`, `shared/**` (path router)",
        "`services/api/**`, `shared/**` (path router)",
        "`services/admin/**` (path router)",
    ]
    assert section.rstrip().endswith("No service is the default: a request that no rule matches gets 404 from the load balancer.")
    sharing = report.split("### What 3 services save by sharing\n\n", 1)[1].split("\n## ", 1)[0]
    assert "| **Total** | **66.07** | **198.21** | **132.14** |" in sharing


def test_the_examples_shared_parts_cost_what_a_single_service_stack_pays_for_them(dev):
    """What docs/services.md's table assumes: a stack with services pays for one network, load balancer and cluster."""
    shared = {s.item: s.shared for s in savings(estimate(example("services")), 3).items}
    assert shared == {s.item: s.shared for s in savings(estimate(dev), 3).items}
    # Each service's tasks at its own size and count: orders 1 and api 2 of the smaller size, admin 1 of the larger.
    tasks = {line.item: line.quantity for line in estimate(example("services")).lines if line.item.startswith("Fargate task")}
    assert tasks == {"Fargate task (0.25 vCPU, 0.5 GB, x86_64)": 3, "Fargate task (0.5 vCPU, 1 GB, x86_64)": 1}


def test_the_examples_diagrams_group_by_service_and_parse():
    graphs = plan_diagrams(example("services"))
    assert [c.label for c in graphs["pipeline"].clusters] == [f"{s}: container-cicd-services-{s}-pipeline" for s in ("orders", "api", "admin")]
    assert [c.label for c in graphs["architecture"].clusters] == ["orders", "api", "admin"]
    assert "Application Load Balancer" in [n.lines[0] for n in graphs["architecture"].nodes]
    code, lines = parse([{"name": f"example {name}", "text": to_mermaid(graph)} for name, graph in graphs.items()])
    assert [line.split(" (")[0] for line in lines] == ["ok example pipeline", "ok example architecture"] and code == 0


def test_a_diagram_mermaid_would_refuse_is_named_with_the_way_to_read_it():
    edges = "".join(f"  a{i} --> b{i}\n" for i in range(501))
    assert mermaid_notes({"pipeline": "flowchart LR\n  a --> b\n", "architecture": f"flowchart LR\n{edges}"}) == [
        f"The architecture diagram has {len(edges) + 13} characters and 501 edges, over what Mermaid draws by default "
        "(50000 characters, 500 edges): read `architecture.dot` with Graphviz instead."
    ]
    assert mermaid_notes({"architecture": "flowchart LR\n" + "  %% x\n" * 8000}) != []
