"""A stack of three services (issue: many services in one stack), evaluated whole under the recording mocks on ECS
and on EKS: the shared parts once, and every per-service resource wired to its own service (pipeline, source filter,
registry, build, image record, deploy target, alarms, notifications, dashboard section), none to another's."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from components.settings import Routing
from offline.changes import physical_name, plan_change
from offline.mocks import ORGANIZATION, StackResult, evaluate_stack
from offline.mocks import _key_id as mock_key_id

PROJECT, STACK = "container-cicd", "dev"
# (name, routing, priority): the first is named like the stack's serviceName ("app"), the listener's default.
SERVICES = (("app", None, None), ("api", Routing(paths=("/api/*",)), 20), ("admin", Routing(hosts=("admin.example.com",)), 30))


def services_config(entries=SERVICES, builds: bool = True) -> list[dict]:
    """The `services` key of the stack file for `entries`: in a building stack each its appPath and source filter
    under services/<name>."""
    config = []
    for name, routing, priority in entries:
        entry: dict = {"name": name} | ({"appPath": f"services/{name}", "sourceFilePaths": [f"services/{name}/**"]} if builds else {})
        if routing is not None:
            entry |= {k: list(v) for k, v in (("hosts", routing.hosts), ("paths", routing.paths)) if v} | {"priority": priority}
        config.append(entry)
    return config


def evaluate_services(evaluate, overrides: dict, entries=SERVICES) -> StackResult:
    """Pulumi.dev.yaml with `overrides` and the `services` entries (evaluated once per test run)."""
    return evaluate(STACK, services=services_config(entries), **overrides)


@pytest.fixture(scope="module")
def ecs(evaluate) -> StackResult:
    return evaluate_services(evaluate, {})


@pytest.fixture(scope="module")
def eks(evaluate) -> StackResult:
    return evaluate_services(evaluate, {"deployTarget": "eks"})


@pytest.fixture(scope="module")
def promoting(ecs) -> StackResult:
    """Pulumi.prod.yaml (EKS, promoteFrom: dev) with the same services, promoting from dev with them."""
    return evaluate_stack("prod", {"services": services_config(builds=False)}, stack_outputs={f"{ORGANIZATION}/{PROJECT}/dev": ecs.outputs})


def prefix(service: str) -> str:
    return f"{PROJECT}-{STACK}-{service}"


def of_type(result: StackResult, type_: str) -> dict[str, dict]:
    """The resources of `type_` by logical name: their inputs."""
    return {r.name: r.inputs for r in result.of_type(type_)}


def pipeline_of(result: StackResult, service: str) -> dict:
    return next(r.inputs for r in result.of_type("aws:codepipeline/pipeline:Pipeline") if r.inputs["name"] == f"{prefix(service)}-pipeline")


def actions(pipeline: dict) -> dict[str, dict]:
    return {action["name"]: action for stage in pipeline["stages"] for action in stage["actions"]}


@pytest.mark.parametrize("stack", ["ecs", "eks"])
def test_each_service_has_its_own_pipeline_build_and_registry(stack, request):
    result: StackResult = request.getfixturevalue(stack)
    repositories = {r.inputs["name"] for r in result.of_type("aws:ecr/repository:Repository")}
    assert repositories == {prefix(name) for name, _, _ in SERVICES}
    assert {r.inputs["name"] for r in result.of_type("aws:codepipeline/pipeline:Pipeline")} == {f"{prefix(name)}-pipeline" for name, _, _ in SERVICES}
    builds = {r.inputs["name"]: r.inputs for r in result.of_type("aws:codebuild/project:Project")}
    for name, _, _ in SERVICES:
        pipeline = actions(pipeline_of(result, name))
        # Its Build action runs its own build project, which builds its appPath and pushes to its own registry.
        project = pipeline["BuildImage"]["configuration"]["ProjectName"]
        assert project == f"{prefix(name)}-build"
        variables = yaml.safe_load(builds[project]["source"]["buildspec"])["env"]["variables"]
        assert variables["APP_PATH"] == f"services/{name}"
        assert variables["REPOSITORY_URI"].split("/")[-1] == prefix(name)
        # One monorepo: every pipeline reads the stack's one repository (the single service's, adopted) and branch.
        assert pipeline["Source"]["configuration"]["RepositoryName"] == prefix("app")
        assert pipeline["Source"]["configuration"]["BranchName"] == "main"
        # Its deploy, record, release and publish steps are its own.
        assert {pipeline[a]["configuration"]["ProjectName"] for a in ("RecordImage", "MarkKnownGood", "MarkVerified") if a in pipeline} <= {
            f"{prefix(name)}-{step}" for step in ("record", "release", "publish")
        }
    assert [r.inputs["repositoryName"] for r in result.of_type("aws:codecommit/repository:Repository")] == [prefix("app")]


def test_ecs_services_share_one_cluster_each_with_its_own_service_and_task_definition(ecs):
    clusters = ecs.of_type("aws:ecs/cluster:Cluster")
    # The stack's cluster, named as a stack of one service names it, and no service's child: removing a service keeps it.
    assert [(c.name, c.inputs["name"], c.parent_urn) for c in clusters] == [("deploy-cluster", f"{prefix('app')}-cluster", clusters[0].parent_urn)]
    assert "EcsTarget" not in clusters[0].urn
    cluster_arn = f"arn:aws:ecs:us-east-1:123456789012:cluster/{prefix('app')}-cluster"
    services = {r.inputs["name"]: r.inputs for r in ecs.of_type("aws:ecs/service:Service")}
    assert set(services) == {f"{prefix(name)}-service" for name, _, _ in SERVICES}
    for name, _, _ in SERVICES:
        service = services[f"{prefix(name)}-service"]
        assert service["cluster"] == cluster_arn
        assert service["taskDefinition"].split("/")[-1] == f"{prefix(name)}-task:1"
        # It rolls back on its own alarms only.
        assert service["alarms"]["alarmNames"] and all(alarm.startswith(f"{prefix(name)}-alarm-") for alarm in service["alarms"]["alarmNames"])
        deploy = actions(pipeline_of(ecs, name))["DeployToEcs"]["configuration"]
        assert (deploy["ClusterName"], deploy["ServiceName"]) == (f"{prefix('app')}-cluster", f"{prefix(name)}-service")
    families = sorted(r.inputs["family"] for r in ecs.of_type("aws:ecs/taskDefinition:TaskDefinition"))
    assert families == sorted(f"{prefix(name)}-task" for name, _, _ in SERVICES)


def rules_by_name(result: StackResult) -> dict[str, dict]:
    return {r.name: json.loads(r.inputs["eventPattern"]) for r in result.of_type("aws:cloudwatch/eventRule:EventRule")}


def test_ecs_deployment_failures_of_a_shared_cluster_are_reported_per_service(ecs):
    rules = rules_by_name(ecs)
    for name, _, _ in SERVICES:
        pattern = rules[f"{name}-notifications-deployment-failed"]
        # Its own service's ARN, not a prefix every service of the shared cluster matches.
        assert pattern["resources"] == [f"arn:aws:ecs:us-east-1:123456789012:service/{prefix('app')}-cluster/{prefix(name)}-service"]


@pytest.mark.parametrize("stack", ["ecs", "eks"])
def test_one_topic_and_each_service_routes_its_own_pipeline_and_registry(stack, request):
    result: StackResult = request.getfixturevalue(stack)
    assert [t.inputs["name"] for t in result.of_type("aws:sns/topic:Topic")] == [f"{prefix('app')}-delivery"]
    rules = rules_by_name(result)
    for name, _, _ in SERVICES:
        pipeline = f"{prefix(name)}-pipeline"
        for suffix in ("pipeline-failed", "pipeline-executions", "approval-needed", "image-blocked"):
            assert rules[f"{name}-notifications-{suffix}"]["detail"]["pipeline"] == [pipeline], suffix
        assert rules[f"{name}-notifications-image-findings"]["detail"]["repository-name"] == [prefix(name)]
        for suffix in ("deploy-succeeded", "execution-failed"):
            assert rules[f"{name}-dashboard-{suffix}"]["detail"]["pipeline"] == [pipeline]
    targets = {r.name: r.inputs["arn"] for r in result.of_type("aws:cloudwatch/eventTarget:EventTarget") if "-notifications-" in r.name}
    assert len(targets) == len([n for n in rules if "-notifications-" in n]) and set(targets.values()) == {f"arn:aws:sns:us-east-1:123456789012:{prefix('app')}-delivery"}


@pytest.mark.parametrize("stack", ["ecs", "eks"])
def test_alarms_and_dashboard_sections_are_per_service(stack, request):
    result: StackResult = request.getfixturevalue(stack)
    composite = {r.inputs["alarmName"]: r.inputs["alarmRule"] for r in result.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")}
    assert set(composite) == {f"{prefix(name)}-alarm-service-unhealthy" for name, _, _ in SERVICES}
    for name, _, _ in SERVICES:
        watched = [part.split('"')[1] for part in composite[f"{prefix(name)}-alarm-service-unhealthy"].split("ALARM(")[1:]]
        assert watched and all(alarm.startswith(f"{prefix(name)}-alarm-") for alarm in watched)
    [dashboard] = result.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == f"{prefix('app')}-delivery"
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    headings = [w["properties"]["markdown"] for w in widgets if w["type"] == "text" and w["properties"]["markdown"].startswith("# ")]
    assert headings == [f"# {name}" for name, _, _ in SERVICES]
    # Each section's deployment panels read its own records (the Service dimension is the service's prefix).
    body = json.dumps(widgets)
    assert all(f'"Service", "{prefix(name)}"' in body for name, _, _ in SERVICES)


def test_codecommit_pushes_start_only_the_pipelines_whose_files_changed(ecs):
    [router] = [r for r in ecs.of_type("aws:lambda/function:Function") if r.name == "path-router-function"]
    routes = json.loads(router.inputs["environment"]["variables"]["ROUTES"])
    assert routes == {f"{prefix(name)}-pipeline": [f"services/{name}/**"] for name, _, _ in SERVICES}
    # No pipeline starts on every push by a rule of its own: the router's one rule on the branch.
    starts = [name for name, pattern in rules_by_name(ecs).items() if pattern.get("source") == ["aws.codecommit"]]
    assert starts == ["path-router-on-push"]


def test_eks_services_share_one_cluster_each_in_its_own_namespace(eks):
    clusters = eks.of_type("aws:eks/cluster:Cluster")
    assert [c.name for c in clusters] == ["eks-cluster"] and "EksTarget" not in clusters[0].urn
    cluster_name = clusters[0].inputs["name"]
    steps = {r.inputs["name"]: r.inputs for r in eks.of_type("aws:codebuild/project:Project")}
    entries = eks.of_type("aws:eks/accessEntry:AccessEntry")
    assert len(entries) == len(SERVICES) and {e.inputs["clusterName"] for e in entries} == {cluster_name}
    for name, _, _ in SERVICES:
        buildspec = yaml.safe_load(steps[f"{prefix(name)}-deploy"]["source"]["buildspec"])
        variables = buildspec["env"]["variables"]
        assert variables["CLUSTER_NAME"] == cluster_name
        items = json.loads(variables["MANIFESTS"])["items"]
        # Its namespace, its Deployment, its image record; nothing of another service.
        assert {item["metadata"]["name"] for item in items if item["kind"] == "Namespace"} == {prefix(name)}
        assert {item["metadata"].get("namespace") for item in items if item["kind"] != "Namespace"} == {prefix(name)}
        text = json.dumps(buildspec)
        assert f"/{STACK}/{name}/deployed-image" in text and f"{prefix(name)}-alarm-" in text
        assert not any(f"/{STACK}/{other}/" in text or f"{prefix(other)}-alarm-" in text for other, _, _ in SERVICES if other != name)


MIGRATED = (("app", None, None), ("api", Routing(paths=("/api/*",)), 20))


def mock_autonames_as_before(change) -> dict[str, str]:
    """The mocks name a resource without a name of its own `<logical name>-mock`; the engine keeps the name in the
    state for a resource it matched through an alias. So the names of `change`'s kept resources, new -> old."""
    return {new.name: old.name for old, new in [*change.updated, *((old, new) for old, new, _ in change.replaced)] if new.name != old.name}


def as_before(value, renamed: dict[str, str]):
    """`value` with the mocks' names (and KMS key ids) of renamed resources as they were before."""
    text = json.dumps(value)
    for new, old in sorted(renamed.items(), key=lambda item: -len(item[0])):
        text = re.sub(rf"(?<![\w-]){re.escape(new)}-mock", f"{old}-mock", text).replace(mock_key_id(new), mock_key_id(old))
    return json.loads(text)


@pytest.mark.parametrize("target", ["ecs", "eks"])
def test_moving_a_stack_to_services_keeps_every_resource_of_its_service(target, dev, evaluate):
    """`services: [{name: <serviceName>}, {name: api, paths: [/api/*]}]` on a stack of one service: the entry named
    like serviceName adopts every former resource (same URN, or an alias to it), under the same physical name; on EKS
    the stack's cluster adopts the cluster the single service's target created."""
    overrides = {} if target == "ecs" else {"deployTarget": "eks"}
    before = dev if target == "ecs" else evaluate(STACK, **overrides)
    after = evaluate_services(evaluate, overrides, MIGRATED)
    change = plan_change(before, after)
    renamed = mock_autonames_as_before(change)
    # Replaced only in the mocks' eyes: what differs is a name the engine keeps.
    assert [(old.urn, k) for old, new, reasons in change.replaced for k in reasons if old.inputs.get(k) != as_before(new.inputs.get(k), renamed)] == []
    kept = {old.urn: new for old, new in [*change.updated, *((old, new) for old, new, _ in change.replaced)]}
    moved = [old.urn for old in before.resources if old.urn in kept and physical_name(old) != as_before_name(physical_name(kept[old.urn]), renamed)]
    assert moved == []
    # What goes: the pipeline's own start rule on every push; the path router starts it now, on pushes to its files.
    assert sorted(r.name for r in change.deleted) == ["pipeline-start", "pipeline-start-role", "pipeline-start-role-policy", "pipeline-start-target"]
    # What is new is the second service's, its listener rule (named by its priority) and the path router; the first
    # service stays the listener's default, with its target group.
    created = sorted(r.name for r in change.created if r.custom)
    assert created and all(name.startswith(("api-", "path-router-")) for name in created if name != "deploy-lb-rule-20"), created
    assert [r.inputs["priority"] for r in change.created if r.type == "aws:lb/listenerRule:ListenerRule"] == [20]


def as_before_name(name: tuple | None, renamed: dict[str, str]) -> tuple | None:
    return None if name is None else (name[0], tuple(as_before(list(name[1]), renamed)))


def test_eks_services_open_each_container_port_once(eks):
    """EKS pods of every service carry the cluster's security group: one rule pair per port, owned by the stack's
    cluster (EC2 refuses the same rule twice; removing a service must not close a port the others use)."""
    rules = [
        (r.type, r.inputs["securityGroupId"], r.inputs.get("referencedSecurityGroupId"), r.inputs["fromPort"])
        for r in eks.resources
        if r.type.startswith("aws:vpc/securityGroup") and r.inputs.get("referencedSecurityGroupId")
    ]
    assert len(rules) == len(set(rules))
    pods = [r for r in eks.resources if r.name.endswith(("-alb-to-pods", "-pods-from-alb"))]
    assert sorted(r.name for r in pods) == ["eks-alb-to-pods", "eks-pods-from-alb"]
    assert all("EksCluster" in r.urn for r in pods)


TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{}/0123456789abcdef"


def target_groups(result: StackResult) -> dict[str, str]:
    """Each service's target group's physical name, by service (the tag-less name carries its prefix)."""
    names = [r.inputs["name"] for r in result.of_type("aws:lb/targetGroup:TargetGroup")]
    return {name: next(tg for tg in names if tg.startswith(f"{prefix(name)}-")) for name, _, _ in SERVICES}


@pytest.mark.parametrize("stack", ["ecs", "eks"])
def test_the_load_balancer_routes_each_service_to_its_own_target_group(stack, request):
    result: StackResult = request.getfixturevalue(stack)
    groups = target_groups(result)
    assert len(set(groups.values())) == len(SERVICES) == len(result.of_type("aws:lb/targetGroup:TargetGroup"))
    rules = {r.inputs["priority"]: r.inputs for r in result.of_type("aws:lb/listenerRule:ListenerRule")}
    expected = {}
    for name, routing, priority in SERVICES:
        if routing is None:
            continue
        conditions = [{"hostHeader": {"values": list(routing.hosts)}}] if routing.hosts else [{"pathPattern": {"values": list(routing.paths)}}]
        expected[priority] = (conditions, [{"type": "forward", "targetGroupArn": TARGET_GROUP_ARN.format(groups[name])}])
    assert {priority: (rule["conditions"], rule["actions"]) for priority, rule in rules.items()} == expected
    # Requests no rule takes go to the default service, "app".
    [listener] = result.of_type("aws:lb/listener:Listener")
    assert listener.inputs["defaultActions"] == [{"type": "forward", "targetGroupArn": TARGET_GROUP_ARN.format(groups["app"])}]
    # Each service's alarms watch its own target group.
    for name, _, _ in SERVICES:
        dimensions = [
            q["metric"]["dimensions"].get("TargetGroup")
            for alarm in result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            if alarm.inputs["name"].startswith(f"{prefix(name)}-alarm-")
            for q in alarm.inputs.get("metricQueries") or [{"metric": {"dimensions": alarm.inputs.get("dimensions") or {}}}]
            if q.get("metric")
        ]
        assert {d for d in dimensions if d} == {f"targetgroup/{groups[name]}/0123456789abcdef"}, name


def test_each_ecs_service_registers_in_its_own_target_group(ecs):
    groups = target_groups(ecs)
    for service in ecs.of_type("aws:ecs/service:Service"):
        name = service.inputs["name"].removeprefix(f"{PROJECT}-{STACK}-").removesuffix("-service")
        assert [lb["targetGroupArn"] for lb in service.inputs["loadBalancers"]] == [TARGET_GROUP_ARN.format(groups[name])]


def test_each_eks_service_binds_its_own_target_group_tagged_for_the_shared_cluster(eks):
    groups = target_groups(eks)
    [cluster] = eks.of_type("aws:eks/cluster:Cluster")
    for group in eks.of_type("aws:lb/targetGroup:TargetGroup"):
        assert group.inputs["tags"]["eks:eks-cluster-name"] == cluster.inputs["name"]
    steps = {r.inputs["name"]: r.inputs for r in eks.of_type("aws:codebuild/project:Project")}
    for name, _, _ in SERVICES:
        buildspec = yaml.safe_load(steps[f"{prefix(name)}-deploy"]["source"]["buildspec"])
        bindings = [item for item in json.loads(buildspec["env"]["variables"]["MANIFESTS"])["items"] if item["kind"] == "TargetGroupBinding"]
        assert [b["spec"]["targetGroupARN"] for b in bindings] == [TARGET_GROUP_ARN.format(groups[name])]


def test_a_building_stack_exports_each_services_contract_and_a_promoting_one_promotes_each_from_its_namesake(ecs, promoting):
    contracts = ecs.outputs["promotions"]
    assert set(contracts) == {name for name, _, _ in SERVICES}
    assert {name: c["repositoryName"] for name, c in contracts.items()} == {name: prefix(name) for name, _, _ in SERVICES}
    assert {name: c["pipelineName"] for name, c in contracts.items()} == {name: f"{prefix(name)}-pipeline" for name, _, _ in SERVICES}
    # prod's pipeline of each service collects what dev's same-named service verified, from its registry: every resource
    # of the service names dev's same-named service's pipeline, registry and images, and no other service's (the
    # records bucket is dev's stack's, named from its serviceName).
    assert promoting.of_type("aws:ecr/repository:Repository") == []
    for name, _, _ in SERVICES:
        own = [r for r in promoting.resources if r.name.startswith(f"{name}-")]
        named = {m for r in own for m in re.findall(rf"{PROJECT}-dev-(\w+)-(?!records)", json.dumps(r.inputs))}
        assert named == {name}, name
        collector = next(r for r in own if r.type == "aws:lambda/function:Function" and "collector" in r.name)
        assert f"{PROJECT}-dev-{name}" in json.dumps(collector.inputs)


def test_on_a_connection_each_pipeline_is_triggered_by_pushes_to_its_own_files(evaluate):
    """GitHub (a CodeConnections connection): one connection for the monorepo, and each pipeline's V2 trigger filters
    the branch's pushes by its service's sourceFilePaths; no path router."""
    result = evaluate_services(evaluate, {"sourceProvider": "github", "sourceRepository": "acme/monorepo"})
    assert len(result.of_type("aws:codeconnections/connection:Connection")) == 1
    assert result.of_type("aws:lambda/function:Function") == [] or all("path-router" not in r.name for r in result.of_type("aws:lambda/function:Function"))
    for name, _, _ in SERVICES:
        [trigger] = pipeline_of(result, name)["triggers"]
        [push] = trigger["gitConfiguration"]["pushes"]
        assert push["filePaths"] == {"includes": [f"services/{name}/**"]}
        assert push["branches"] == {"includes": ["main"]}


@pytest.mark.parametrize("stack", ["ecs", "eks"])
def test_per_service_resources_carry_their_services_tag(stack, request):
    """Cost allocation per service: each service's pipeline, registry, build, target group and deploy resources are
    tagged with its name; the shared ones with the stack's serviceName."""
    result: StackResult = request.getfixturevalue(stack)
    for name, _, _ in SERVICES:
        tagged = [
            r
            for r in result.resources
            if r.type
            in ("aws:codepipeline/pipeline:Pipeline", "aws:ecr/repository:Repository", "aws:codebuild/project:Project", "aws:lb/targetGroup:TargetGroup", "aws:ecs/service:Service")
            and prefix(name) in json.dumps(r.inputs.get("name"))
        ]
        assert tagged and {r.inputs["tags"]["service"] for r in tagged} == {name}, name


@pytest.mark.parametrize("stack", ["ecs", "eks", "promoting"])
def test_three_services_meet_the_policy_pack(stack, request):
    from policy.rules import run_rules, subjects

    result: StackResult = request.getfixturevalue(stack)
    assert run_rules(subjects(result.resources)) == []


@pytest.mark.parametrize("stack", ["ecs", "eks"])
def test_three_services_name_nothing_they_do_not_wait_for(stack, request):
    """What tests/test_dependencies.py checks of the shipped stacks: a resource that names another (the shared
    cluster, another service's rule) depends on it."""
    from tests.test_dependencies import named_without_dependency

    assert named_without_dependency(request.getfixturevalue(stack)) == []
