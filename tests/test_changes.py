"""A change of configuration on a deployed stack: what `pulumi up` creates, replaces and deletes.

Each case evaluates the stack before and after the change and plans the update the way the engine
does (offline/changes.py): replacements are created before the originals are deleted, so no
created or replacing resource may take a physical name a resource of the old configuration still
holds; no deletion may be refused (protected resources, ALB deletion protection) unless the docs
give the step that clears it; and nothing stateful is lost.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from offline.changes import NOT_ANALYSED_PREFIXES, REPLACE_ONLY, STATEFUL, Change, plan_change
from offline.interruptions import interruptions
from offline.mocks import Resource, StackResult
from offline.plan.change import change_section, change_warnings
from offline.plan.sections import stack_settings
from offline.traffic import Live, plan_traffic

ROOT = Path(__file__).resolve().parent.parent
EXISTING_VPC = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"],
    "privateSubnetIds": ["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"],
}
EKS = {"deployTarget": "eks"}
PORT = {"containerPort": 9000}
CANARY = {"deploymentStrategy": "canary"}

# (label, stack, config before, config after). Overrides on top of the stack file.
CASES = [
    ("dev ecs -> eks", "dev", {}, EKS),
    ("dev eks -> ecs", "dev", EKS, {}),
    ("dev ecs port", "dev", {}, PORT),
    ("dev eks port", "dev", EKS, {**EKS, **PORT}),
    ("dev created -> existing vpc", "dev", {}, EXISTING_VPC),
    ("dev existing -> created vpc", "dev", EXISTING_VPC, {}),
    ("dev eks created -> existing vpc", "dev", EKS, {**EKS, **EXISTING_VPC}),
    ("prod eks -> ecs", "prod", {}, "ecs"),
    ("prod ecs -> eks", "prod", "ecs", {}),
    ("prod eks port", "prod", {}, PORT),
    ("prod ecs port", "prod", "ecs", "ecs+port"),
    ("prod created -> existing vpc", "prod", {}, {**EXISTING_VPC, "natGateways": None}),
    ("prod existing -> created vpc", "prod", {**EXISTING_VPC, "natGateways": None}, {}),
    ("dev rolling -> canary", "dev", {}, CANARY),
    ("dev canary -> rolling", "dev", CANARY, {}),
    ("dev canary -> linear", "dev", CANARY, {"deploymentStrategy": "linear"}),
    ("dev canary created -> existing vpc", "dev", CANARY, {**CANARY, **EXISTING_VPC, "testListenerCidrs": ["198.51.100.1/32"]}),
    ("dev canary -> rolling, production on the alternate target group", "dev", CANARY, {}),
    ("dev canary -> linear, production on the alternate target group", "dev", CANARY, {"deploymentStrategy": "linear"}),
]

# What AWS holds and the stack state does not (offline/traffic.py, Live): a blue-green, canary or linear
# deployment before the change left production traffic on the alternate target group.
LIVE = {label: Live(production_on_alternate=True) for label, *_ in CASES if label.endswith("production on the alternate target group")}

# Changes that leave an ignored input naming a replaced resource, and the docs give the step that avoids
# it. None today: the listener rules' actions belong to ECS (ignore_changes), and no change of the
# configuration replaces the target groups they name without replacing the rules too.
DOCUMENTED_STALE: dict[str, list[str]] = {}

# What a production stack's change may still need a person for, and the docs give the step:
# a load balancer cannot move to another VPC, and AWS refuses to delete the old one while its
# deletion protection is on (docs/safety.md, "Changes that replace the load balancer").
DOCUMENTED_BLOCKERS = {
    "prod created -> existing vpc": ["ALB deletion protection"],
    "prod existing -> created vpc": ["ALB deletion protection"],
}

# Resources every change must keep in place: the artifacts and their key, the pipeline (its execution
# history) and the notification topic's key; in a building stack the code, the images, the build and its
# logs; in a promoting one (prod) the promotion inbox (the promotions it received).
MUST_KEEP = {"artifacts-bucket", "artifacts-key", "pipeline-pipeline", "notifications-key"}
MUST_KEEP_BUILDING = {"source-repo", "registry-repo", "build-project", "build-logs"}
MUST_KEEP_PROMOTING = {"promotion-inbox-bucket", "promotion-inbox-versioning"}


@pytest.fixture(scope="module")
def changes(evaluate, ecs_config) -> dict[str, tuple[Change, object, object]]:
    def config(stack: str, spec) -> dict:
        if spec == "ecs":
            return ecs_config(stack)
        if spec == "ecs+port":
            return {**ecs_config(stack), **PORT}
        return spec

    planned = {}
    for label, stack, before, after in CASES:
        old = evaluate(stack, **config(stack, before))
        new = evaluate(stack, **config(stack, after))
        planned[label] = (plan_change(old, new), old, new)
    return planned


# The changes of CASES that interrupt production traffic in one `pulumi up`, by the explicit list the offline
# plan warns about (offline/interruptions.py; docs/safety.md, "Traffic during a configuration change").
DOCUMENTED_INTERRUPTIONS = {
    "dev ecs -> eks": ["Switching deployTarget from ecs to eks in one `pulumi up`"],
    "dev eks -> ecs": ["Switching deployTarget from eks to ecs in one `pulumi up`"],
    "prod eks -> ecs": ["Switching deployTarget from eks to ecs in one `pulumi up`"],
    "prod ecs -> eks": ["Switching deployTarget from ecs to eks in one `pulumi up`"],
    "dev eks port": ["Changing containerPort from 8080 to 9000 on EKS"],
    "prod eks port": ["Changing containerPort from 8080 to 9000 on EKS"],
    "dev created -> existing vpc": ["Moving the stack to another VPC"],
    "dev existing -> created vpc": ["Moving the stack to another VPC"],
    "dev eks created -> existing vpc": ["Moving the stack to another VPC"],
    "prod created -> existing vpc": ["Moving the stack to another VPC"],
    "prod existing -> created vpc": ["Moving the stack to another VPC"],
    "dev canary created -> existing vpc": ["Moving the stack to another VPC"],
    # Safe while production is on the primary target group, which the plan cannot see: it always warns.
    "dev canary -> rolling": ["Leaving canary for a rolling update while production traffic is on the alternate target group"],
    "dev canary -> rolling, production on the alternate target group": ["Leaving canary for a rolling update while production traffic is on the alternate target group"],
}


@pytest.mark.parametrize("label", [c[0] for c in CASES])
def test_something_healthy_is_behind_every_production_listener_at_every_step_unless_documented(changes, label):
    """At every step of `pulumi up` (and of the EKS deploy project's run after it), each production listener
    forwards only to target groups with something healthy registered in them, unless the change is one of the
    documented interruptions, which the offline plan's change section then warns about."""
    change, old, new = changes[label]
    gaps = [str(g) for g in plan_traffic(old, new, change, LIVE.get(label, Live())).gaps]
    documented = [i.title for i in interruptions(stack_settings(old), stack_settings(new), old, new)]
    assert documented == DOCUMENTED_INTERRUPTIONS.get(label, [])
    if not documented:
        assert gaps == []
    report = "\n".join(change_section(old, new))
    assert [line.removeprefix("### Warning: ") for line in report.splitlines() if line.startswith("### Warning: ")] == documented
    assert change_warnings(old, new) == documented


def test_every_documented_interruption_is_seen_by_the_model_under_the_live_state_it_names(changes):
    """The list holds nothing the model finds harmless: each entry has gaps (canary -> rolling: with production
    left on the alternate target group)."""
    for label in DOCUMENTED_INTERRUPTIONS:
        if label == "dev canary -> rolling":
            continue
        change, old, new = changes[label]
        assert plan_traffic(old, new, change, LIVE.get(label, Live())).gaps, label


@pytest.mark.parametrize("label", [c[0] for c in CASES])
def test_no_replacement_takes_a_name_the_old_configuration_holds(changes, label):
    change, old, _ = changes[label]
    assert change.collisions(old) == []


@pytest.mark.parametrize("label", [c[0] for c in CASES])
def test_no_deletion_is_refused_unless_documented(changes, label):
    change, _, _ = changes[label]
    blocked = [b.split(":", 1)[0] for b in change.blocked_deletions()]
    assert blocked == DOCUMENTED_BLOCKERS.get(label, [])


def test_documented_blockers_say_how_to_clear_them():
    safety = (ROOT / "docs" / "safety.md").read_text()
    assert "## Changes that replace the load balancer" in safety
    assert "aws elbv2 modify-load-balancer-attributes" in safety and "deletion_protection.enabled,Value=false" in safety


# A created EKS cluster goes with its target (a switch) or its VPC (a replacement under a new name):
# it holds no state of ours (the workload is re-created from the stack by the deploy step, the image
# comes from the registry), nor does the trigger parameter (a digest of the manifests).
EKS_DISPOSABLE = ("aws:eks/cluster:Cluster::deploy-cluster", "aws:ssm/parameter:Parameter::deploy-spec")
EKS_GOES = {"dev eks -> ecs", "dev eks created -> existing vpc", "prod eks -> ecs", "prod created -> existing vpc", "prod existing -> created vpc"}
# Outside production the control-plane log group goes with its cluster: its name is fixed by EKS, and a
# kept group would stop the next cluster of that name (components/deploy/eks/cluster.py). Production keeps it.
NON_PRODUCTION_DISPOSABLE = ("aws:cloudwatch/logGroup:LogGroup::deploy-control-plane-logs",)


@pytest.mark.parametrize("label", [c[0] for c in CASES])
def test_nothing_stateful_is_lost(changes, label):
    change, _, _ = changes[label]
    lost = change.lost_state()
    stack = next(c[1] for c in CASES if c[0] == label)
    disposable = [urn for urn in lost if urn.endswith(EKS_DISPOSABLE + (NON_PRODUCTION_DISPOSABLE if stack == "dev" else ()))]
    assert [urn for urn in lost if urn not in disposable] == []
    if label in EKS_GOES:
        assert any(urn.endswith(EKS_DISPOSABLE[0]) for urn in disposable), label
        if stack == "dev":
            assert any(urn.endswith(NON_PRODUCTION_DISPOSABLE) for urn in disposable), label


# A change followed by another: what the first leaves in AWS (kept log groups, a group EKS created) still
# holds its name when the second runs. (label, stack, configs in order.)
SEQUENCES = [
    ("dev eks -> ecs -> eks", "dev", [EKS, {}, EKS]),
    ("prod eks -> ecs -> eks", "prod", [{}, "ecs", {}]),
    ("dev eks -> destroy -> up", "dev", [EKS, None, EKS]),
    ("prod eks -> destroy -> up", "prod", [{}, None, {}]),
]
# Production keeps the control-plane log group, so a cluster of the same name comes back only after the
# documented step (docs/eks.md, "Control-plane logs"): import the kept group, or delete it.
DOCUMENTED_RETURN_COLLISIONS = {
    "prod eks -> ecs -> eks": ["deploy-control-plane-logs"],
    "prod eks -> destroy -> up": ["deploy-control-plane-logs"],
}


@pytest.mark.parametrize("label", [s[0] for s in SEQUENCES])
def test_what_a_change_leaves_in_aws_blocks_no_later_change_unless_documented(label, evaluate, ecs_config):
    from offline.mocks import StackResult

    stack, configs = next((s[1], s[2]) for s in SEQUENCES if s[0] == label)
    empty = StackResult(stack=stack, config={}, resources=[], outputs={}, invokes=[])
    results = [empty if c is None else evaluate(stack, **(ecs_config(stack) if c == "ecs" else c)) for c in configs]
    left: list = []
    found = []
    for before, after in zip(results, results[1:], strict=False):
        change = plan_change(before, after)
        found += change.collisions(before, left)
        left += change.left_in_aws(before)
    assert sorted({c.split(" ", 2)[1] for c in found}) == DOCUMENTED_RETURN_COLLISIONS.get(label, [])


def test_a_stack_deployed_before_the_control_plane_log_group_meets_the_group_eks_created(prod):
    """The first `pulumi up` of a cluster that already logs: EKS created `/aws/eks/<cluster>/cluster` on
    its own, so the stack's new group is refused ("already exists") until it is imported (docs/eks.md)."""
    group = prod.named("deploy-control-plane-logs")
    earlier = replace(prod, resources=[replace(r, depends_on=tuple(d for d in r.depends_on if d != group.ref)) for r in prod.resources if r is not group])
    change = plan_change(earlier, prod)
    assert [r.name for r in change.created] == ["deploy-control-plane-logs"]
    cluster = prod.one("aws:eks/cluster:Cluster")
    assert change.collisions(earlier) == [f"aws:cloudwatch/logGroup:LogGroup deploy-control-plane-logs takes ('/aws/eks/{cluster.inputs['name']}/cluster',), held by {cluster.urn}"]


def test_the_documented_control_plane_log_group_steps_are_in_the_docs(prod):
    eks = (ROOT / "docs" / "eks.md").read_text()
    group = prod.named("deploy-control-plane-logs")
    component = next(r for r in prod.resources if r.ref == group.parent_urn)
    assert "### Control-plane logs" in eks
    parent = component.urn.replace(":prod:", ":<stack>:")
    assert f"pulumi import aws:cloudwatch/logGroup:LogGroup {group.name} /aws/eks/<cluster name>/cluster --parent 'deploy={parent}' --protect=false" in eks
    assert "aws logs delete-log-group --log-group-name /aws/eks/<cluster name>/cluster" in eks


@pytest.mark.parametrize("label", [c[0] for c in CASES])
def test_the_code_images_artifacts_and_build_are_kept_in_place(changes, label):
    change, _, _ = changes[label]
    kept = {old.name for old, new in change.updated if old.urn == new.urn}
    stack = next(c[1] for c in CASES if c[0] == label)
    assert MUST_KEEP | (MUST_KEEP_PROMOTING if stack == "prod" else MUST_KEEP_BUILDING) <= kept


@pytest.mark.parametrize("label", [c[0] for c in CASES])
def test_no_ignored_input_keeps_naming_a_replaced_resource_unless_documented(changes, label):
    change, _, _ = changes[label]
    stale = sorted({s.split(": ignored", 1)[0].rsplit("::", 1)[-1] for s in change.stale_ignored()})
    assert stale == DOCUMENTED_STALE.get(label, [])


def test_a_strategy_switch_adds_or_removes_only_the_strategys_resources(changes):
    change, _, _ = changes["dev rolling -> canary"]
    created = sorted(r.urn.rsplit("::", 1)[-1] for r in change.created)
    assert created == STRATEGY_RESOURCES
    assert change.replaced == [] and change.deleted == []
    updated = {new.urn.rsplit("::", 1)[-1] for old, new in change.updated if old.inputs != new.inputs}
    # The pipeline: the verifier's UserParameters name the strategy (its deployment records do). The verifier: it
    # checks the deployment as long as the deploy action waits, deploymentTimeoutMinutes, whose default follows the strategy.
    expected = {"deploy-service", "alarms-unhealthy-targets", "alarms-latency-p95", "alarms-5xx-rate", "dashboard-dashboard", "pipeline-pipeline"}
    assert updated == {*expected, "deploy-verify-function"}
    back, _, _ = changes["dev canary -> rolling"]
    assert sorted(r.urn.rsplit("::", 1)[-1] for r in back.deleted) == STRATEGY_RESOURCES
    assert back.created == [] and back.replaced == []
    # The hooks' log groups stay in CloudWatch (retain_on_delete): their records outlive the strategy.
    logs = [r for r in back.deleted if r.type == "aws:cloudwatch/logGroup:LogGroup"]
    assert len(logs) == 2 and all(log.retain_on_delete for log in logs) and back.lost_state() == []


STRATEGY_RESOURCES = sorted(
    [
        "deploy-canary-judge-function",
        "deploy-canary-judge-logs",
        "deploy-canary-judge-role",
        "deploy-canary-judge-role-policy",
        "deploy-hook-role",
        "deploy-hook-role-policy",
        "deploy-lb-alb-in-test-hook-0",
        "deploy-lb-production-rule",
        "deploy-lb-role",
        "deploy-lb-role-policy",
        "deploy-lb-test",
        "deploy-lb-test-rule",
        "deploy-lb-tg-alt",
        "deploy-smoke-test-function",
        "deploy-smoke-test-logs",
        "deploy-smoke-test-out",
        "deploy-smoke-test-role",
        "deploy-smoke-test-role-policy",
        "deploy-smoke-test-sg",
    ]
)


@pytest.mark.parametrize("label", [c[0] for c in CASES])
def test_no_load_balancer_is_moved_to_another_vpc_in_place(changes, label):
    change, _, _ = changes[label]
    assert change.moved_in_place() == []


def test_a_target_switch_keeps_the_network_and_the_load_balancer(changes):
    for label in ("dev ecs -> eks", "dev eks -> ecs", "prod eks -> ecs", "prod ecs -> eks"):
        change, _, _ = changes[label]
        kept = {new.urn.rsplit("::", 1)[-1] for _, new in change.updated}
        assert {"deploy-network-vpc", "deploy-lb-alb", "deploy-lb-http"} <= kept, label
        # Nothing is replaced: each target has its own target group, named for it; the new target's is
        # created, the old one's deleted with the old target.
        assert change.replaced == [], label
        old_kind, new_kind = ("ecs", "eks") if label.endswith("eks") else ("eks", "ecs")
        assert f"deploy-lb-tg-{new_kind}" in {r.name for r in change.created}, label
        assert f"deploy-lb-tg-{old_kind}" in {r.name for r in change.deleted}, label


@pytest.mark.parametrize("label", ["dev ecs port", "dev eks port", "prod eks port", "prod ecs port"])
def test_a_port_change_keeps_the_target_group_and_replaces_the_port_rules_new_before_old(changes, label):
    """Targets register with their own port, so the target groups stay (and what is registered in them);
    the security group rules that open the port are replaced, the new one created first."""
    change, _, _ = changes[label]
    assert [old.type for old, _, _ in change.replaced if old.type == "aws:lb/targetGroup:TargetGroup"] == []
    replaced = {new.name: reasons for old, new, reasons in change.replaced if "SecurityGroup" in new.type}
    rules = ("deploy-alb-to-pods", "deploy-pods-from-alb") if "eks" in label else ("deploy-alb-to-service", "deploy-service-from-alb")
    assert replaced == {rule: ["fromPort", "toPort"] for rule in rules}
    assert all(not new.delete_before_replace for _, new, _ in change.replaced)


def test_the_default_configuration_keeps_the_names_stacks_already_have(dev, prod_ecs):
    """Stacks deployed before names carried a variant keep their load balancer and target group."""
    assert dev.one("aws:lb/loadBalancer:LoadBalancer").inputs["name"] == "container-cicd-dev-app-alb"
    assert dev.one("aws:lb/targetGroup:TargetGroup").inputs["name"] == "container-cicd-dev-app-tg"
    assert prod_ecs.one("aws:lb/loadBalancer:LoadBalancer").inputs["name"] == "container-cicd-prod-app-alb"


def test_the_network_and_load_balancer_answer_to_their_urns_under_either_target(dev, prod):
    """Moved out of the deploy target: aliases name both old parents, so a stack deployed with the
    network inside its target keeps the VPC and ALB instead of replacing them."""
    for result, stack in ((dev, "dev"), (prod, "prod")):
        for name, type_ in (("deploy-network", "container-cicd:network:Network"), ("deploy-lb", "container-cicd:network:LoadBalancer")):
            component = result.named(name)
            assert component.urn == f"urn:pulumi:{stack}::container-cicd::{type_}::{name}"
            assert set(component.aliases) == {
                f"urn:pulumi:{stack}::container-cicd::container-cicd:deploy:EcsTarget${type_}::{name}",
                f"urn:pulumi:{stack}::container-cicd::container-cicd:deploy:EksTarget${type_}::{name}",
            }


def test_every_resource_type_has_its_replace_only_inputs_declared(dev, prod, evaluate):
    """A new resource type cannot slip past the change analysis unclassified."""
    results = [
        dev,
        prod,
        evaluate("dev", **EKS),
        evaluate("dev", sourceProvider="github", sourceRepository="o/r"),
        evaluate("dev", auditTrail="on", notificationEmails=["team@example.com"]),
        evaluate("dev", promoteToAccounts=["210987654321"]),
        evaluate("dev", deploymentStrategy="canary"),
    ]
    types = {r.type for result in results for r in result.resources if r.custom}
    unknown = sorted(t for t in types if t not in REPLACE_ONLY and not t.startswith(NOT_ANALYSED_PREFIXES))
    assert unknown == []
    assert STATEFUL <= set(REPLACE_ONLY)


# ------------------------------------------------------------------------------------------
# The analysis itself: each check fires on the mistake it exists for.
# ------------------------------------------------------------------------------------------


def _resource(urn_name: str, type_: str, inputs: dict, **extra):
    from offline.mocks import Resource

    urn = f"urn:pulumi:dev::container-cicd::{type_}::{urn_name}"
    return Resource(type=type_, name=urn_name, urn=urn, parent_urn=None, custom=True, inputs=inputs, ref=urn, **extra)


def _stack(*resources):
    from offline.mocks import StackResult

    return StackResult(stack="dev", config={}, resources=list(resources), outputs={}, invokes=[])


def test_analysis_catches_a_replacement_under_the_same_name():
    tg = "aws:lb/targetGroup:TargetGroup"
    before = _stack(_resource("tg", tg, {"name": "x-tg", "port": 8080}))
    after = _stack(_resource("tg", tg, {"name": "x-tg", "port": 9000}))
    change = plan_change(before, after)
    assert [reasons for _, _, reasons in change.replaced] == [["port"]]
    assert change.collisions(before) == ["aws:lb/targetGroup:TargetGroup tg takes ('x-tg',), held by urn:pulumi:dev::container-cicd::aws:lb/targetGroup:TargetGroup::tg"]


def test_analysis_catches_a_new_urn_under_a_held_name_and_allows_delete_before_replace():
    alb = "aws:lb/loadBalancer:LoadBalancer"
    before = _stack(_resource("a", alb, {"name": "x-alb", "enableDeletionProtection": True}))
    after = _stack(_resource("b", alb, {"name": "x-alb"}))
    change = plan_change(before, after)
    assert len(change.collisions(before)) == 1
    assert change.blocked_deletions() == ["ALB deletion protection: urn:pulumi:dev::container-cicd::aws:lb/loadBalancer:LoadBalancer::a"]
    tg = "aws:lb/targetGroup:TargetGroup"
    before = _stack(_resource("tg", tg, {"name": "x-tg", "port": 8080}))
    after = _stack(_resource("tg", tg, {"name": "x-tg", "port": 9000}, delete_before_replace=True))
    assert plan_change(before, after).collisions(before) == []


def test_analysis_reports_protected_and_lost_state_and_honours_retain_on_delete():
    logs = "aws:cloudwatch/logGroup:LogGroup"
    before = _stack(_resource("l", logs, {"name": "/x"}, protect=True), _resource("k", "aws:kms/key:Key", {"deletionWindowInDays": 30}))
    change = plan_change(before, _stack())
    assert change.blocked_deletions() == ["protected: urn:pulumi:dev::container-cicd::aws:cloudwatch/logGroup:LogGroup::l"]
    assert change.lost_state() == ["urn:pulumi:dev::container-cicd::aws:cloudwatch/logGroup:LogGroup::l"]
    kept = _stack(_resource("l", logs, {"name": "/x"}, retain_on_delete=True))
    assert plan_change(kept, _stack()).lost_state() == []


def test_analysis_follows_aliases():
    logs = "aws:cloudwatch/logGroup:LogGroup"
    before = _stack(_resource("old", logs, {"name": "/x"}))
    moved = _resource("new", logs, {"name": "/x"}, aliases=("urn:pulumi:dev::container-cicd::aws:cloudwatch/logGroup:LogGroup::old",))
    change = plan_change(before, _stack(moved))
    assert (change.created, change.deleted, len(change.updated)) == ([], [], 1)


def test_an_ignored_input_is_not_an_update():
    """`effective_updates`: what the engine sends; a difference in an ignore_changes path is none."""
    old = _resource("p", "aws:ssm/parameter:Parameter", {"name": "/p", "insecureValue": "a", "description": "d"}, ignore_changes=("insecureValue",))
    same = _resource("p", "aws:ssm/parameter:Parameter", {"name": "/p", "insecureValue": "b", "description": "d"}, ignore_changes=("insecureValue",))
    other = _resource("p", "aws:ssm/parameter:Parameter", {"name": "/p", "insecureValue": "b", "description": "e"}, ignore_changes=("insecureValue",))
    assert plan_change(_stack(old), _stack(same)).effective_updates() == []
    assert [new.inputs["description"] for _, new in plan_change(_stack(old), _stack(other)).effective_updates()] == ["e"]


def test_analysis_holds_the_names_aws_creates_and_what_a_change_leaves_behind():
    """An EKS cluster that logs holds its control-plane log group's name (EKS creates it); a deleted
    resource kept by retain_on_delete, and a group EKS created for a deleted cluster, hold theirs afterwards."""
    cluster, logs = "aws:eks/cluster:Cluster", "aws:cloudwatch/logGroup:LogGroup"
    logging = _resource("c", cluster, {"name": "x", "enabledClusterLogTypes": ["api"]})
    group = _resource("g", logs, {"name": "/aws/eks/x/cluster"})
    assert plan_change(_stack(logging), _stack(logging, group)).collisions(_stack(logging)) == [
        "aws:cloudwatch/logGroup:LogGroup g takes ('/aws/eks/x/cluster',), held by urn:pulumi:dev::container-cicd::aws:eks/cluster:Cluster::c"
    ]
    silent = _resource("c", cluster, {"name": "x"})
    assert plan_change(_stack(silent), _stack(silent, group)).collisions(_stack(silent)) == []
    both = _stack(logging, group)
    assert plan_change(both, both).collisions(both) == []
    kept = _resource("g", logs, {"name": "/aws/eks/x/cluster"}, retain_on_delete=True)
    for before, held_by in ((_stack(logging, group), []), (_stack(logging, kept), ["g"]), (_stack(logging), ["c"])):
        left = plan_change(before, _stack()).left_in_aws(before)
        assert [r.name for _, r in left] == held_by
        assert len(plan_change(_stack(), both).collisions(_stack(), left)) == len(held_by)


def _recorded(type_: str, name: str, parent: Resource | None = None, aliases: tuple[str, ...] = (), **inputs) -> Resource:
    qualified = f"{parent.urn.split('::')[2]}${type_}" if parent else type_
    urn = f"urn:pulumi:dev::container-cicd::{qualified}::{name}"
    custom = not type_.startswith("container-cicd:")
    outputs = {"arn": f"arn:aws:iam::123456789012:role/{name}-mock", "name": f"{name}-mock"} if custom else {}
    return Resource(type_, name, urn, parent.ref if parent else None, custom, inputs, outputs=outputs, ref=urn, id=f"{name}-mock-id" if custom else "", aliases=aliases)


def _renamed_component(name: str, alias_of: str | None = None) -> StackResult:
    """A component `name` (aliased from `alias_of`) with an autonamed role `<name>-role`, the role's policy
    `<name>-role-policy` naming it, and a policy named from the component, not from the role it is under."""
    old_urn = f"urn:pulumi:dev::container-cicd::container-cicd:pipeline:Pipeline::{alias_of}"
    component = _recorded("container-cicd:pipeline:Pipeline", name, aliases=(old_urn,) if alias_of else ())
    role = _recorded("aws:iam/role:Role", f"{name}-role", component)
    policy = _recorded("aws:iam/rolePolicy:RolePolicy", f"{name}-role-policy", role, role=role.id, policy="{}")
    other = _recorded("aws:iam/rolePolicy:RolePolicy", f"{name}-extra", role, role=role.id, policy="{}")
    return StackResult("dev", {}, [component, role, policy, other], {}, [])


def test_a_renamed_component_keeps_its_children_named_from_it_and_their_generated_names():
    """The engine renames a child whose name starts with its parent's along with the parent's alias, and the
    provider keeps an aliased resource's generated name: the role policy naming the role is updated, not
    replaced. A child named from the component but under another child keeps its new name: deleted, created."""
    before, after = _renamed_component("pipeline"), _renamed_component("api-pipeline", alias_of="pipeline")
    change = plan_change(before, after)
    assert sorted(new.name for _, new in change.updated) == ["api-pipeline", "api-pipeline-role", "api-pipeline-role-policy"]
    assert change.replaced == []
    assert [r.name for r in change.created] == ["api-pipeline-extra"] and [r.name for r in change.deleted] == ["pipeline-extra"]
