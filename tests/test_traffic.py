"""The traffic model itself (offline/traffic.py): each rule of it, on small hand-made stacks.

Every test builds a load balancer, its listener, target groups and registrants by hand, plans a change
between two such stacks (offline/changes.py) and asserts what the production listener forwards to after
each step and which gaps the model reports. The whole stacks' changes are checked in test_changes.py.
"""

from __future__ import annotations

import json

import yaml

from offline.changes import plan_change
from offline.mocks import Resource, StackResult
from offline.steps import DEFAULT_SECONDS
from offline.traffic import Live, plan_traffic

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
ALB_SG = "sg-alb"


def _r(name: str, type_: str, inputs: dict, *, arn: str | None = None, deps: tuple[Resource, ...] = (), parent: str | None = None, **extra) -> Resource:
    urn = f"urn:pulumi:dev::container-cicd::{type_}::{name}"
    return Resource(
        type=type_,
        name=name,
        urn=urn,
        parent_urn=parent,
        custom=True,
        inputs=inputs,
        ref=urn,
        outputs={"arn": arn} if arn else {},
        id=f"{name}-id",
        depends_on=tuple(d.ref for d in deps),
        **extra,
    )


def _stack(*resources: Resource) -> StackResult:
    return StackResult(stack="dev", config={}, resources=list(resources), outputs={}, invokes=[])


ALB = _r("alb", "aws:lb/loadBalancer:LoadBalancer", {"name": "alb", "securityGroups": [ALB_SG]}, arn=f"{ARN}:loadbalancer/app/alb/1")


def _tg(name: str) -> Resource:
    return _r(name, "aws:lb/targetGroup:TargetGroup", {"name": name, "port": 8080}, arn=f"{ARN}:targetgroup/{name}/1")


def _listener(tg: Resource, *deps: Resource) -> Resource:
    actions = [{"type": "forward", "targetGroupArn": tg.outputs["arn"]}]
    return _r(
        "http", "aws:lb/listener:Listener", {"loadBalancerArn": ALB.outputs["arn"], "port": 80, "defaultActions": actions}, arn=f"{ARN}:listener/app/alb/1/2", deps=(ALB, tg, *deps)
    )


def _ports(port: int = 8080) -> tuple[Resource, Resource]:
    ingress = _r("in", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"referencedSecurityGroupId": ALB_SG, "fromPort": port, "toPort": port})
    egress = _r("out", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", {"securityGroupId": ALB_SG, "fromPort": port, "toPort": port})
    return ingress, egress


def _service(lb: dict, *deps: Resource, strategy: str = "ROLLING", task: str = "td:1") -> Resource:
    inputs = {"name": "svc", "taskDefinition": task, "loadBalancers": [lb], "deploymentConfiguration": {"strategy": strategy}, "waitForSteadyState": True}
    return _r("svc", "aws:ecs/service:Service", inputs, deps=deps)


def _plan(before: StackResult, after: StackResult, live: Live | None = None):
    return plan_traffic(before, after, plan_change(before, after), live or Live())


def _timeline(plan) -> list[tuple[str, list[str]]]:
    return [(m.step.label, [f"{f.target_group} {f.weight}{'' if f.healthy else ' empty'}" for f in m.forwards]) for m in plan.moments]


def test_a_listener_moved_before_its_new_registrant_is_steady_leaves_a_gap():
    old_tg, new_tg = _tg("old"), _tg("new")
    ports = _ports()
    before = _stack(ALB, old_tg, _listener(old_tg), *ports, _service({"targetGroupArn": old_tg.outputs["arn"], "containerPort": 8080}))
    # The service waits for the listener (as ECS requires its target group to be attached): the listener moves first.
    listener = _listener(new_tg)
    after = _stack(ALB, new_tg, listener, *ports, _service({"targetGroupArn": new_tg.outputs["arn"], "containerPort": 8080}, listener))
    plan = _plan(before, after)
    assert [str(g) for g in plan.gaps] == [
        "http forwards to new with nothing healthy in it, from 'update lb/listener http' until 'update ecs/service svc': nothing is registered in it"
    ]
    assert _timeline(plan)[:4] == [
        ("before pulumi up", ["old 1"]),
        ("create lb/targetGroup new", ["old 1"]),
        ("update lb/listener http", ["new 1 empty"]),
        ("update ecs/service svc", ["new 1"]),
    ]


def test_a_listener_that_waits_for_the_steady_service_moves_without_a_gap():
    old_tg, new_tg = _tg("old"), _tg("new")
    ports = _ports()
    before = _stack(
        ALB,
        old_tg,
        _listener(old_tg),
        *ports,
        _r("pods", "aws:ecs/service:Service", {"name": "other", "loadBalancers": [{"targetGroupArn": old_tg.outputs["arn"], "containerPort": 8080}]}),
    )
    service = _service({"targetGroupArn": new_tg.outputs["arn"], "containerPort": 8080})
    after = _stack(ALB, old_tg, new_tg, _listener(new_tg, service), *ports, service, before.resources[-1])
    plan = _plan(before, after)
    assert plan.gaps == []
    assert [m.step.label for m in plan.moments] == ["before pulumi up", "create lb/targetGroup new", "create ecs/service svc", "update lb/listener http", "pulumi up returns"]


def test_production_left_on_the_alternate_target_group_is_drained_by_a_rolling_update_before_the_rule_goes():
    primary, alternate = _tg("blue"), _tg("green")
    ports = _ports()
    listener = _listener(primary)
    weights = [{"type": "forward", "forward": {"targetGroups": [{"arn": primary.outputs["arn"], "weight": 100}, {"arn": alternate.outputs["arn"], "weight": 0}]}}]
    rule = _r(
        "production",
        "aws:lb/listenerRule:ListenerRule",
        {"listenerArn": listener.outputs["arn"], "priority": 1, "actions": weights, "conditions": [{"pathPattern": {"values": ["/*"]}}]},
        arn=f"{ARN}:listener-rule/app/alb/1/2/3",
        ignore_changes=("actions",),
    )
    advanced = {"alternateTargetGroupArn": alternate.outputs["arn"], "productionListenerRule": rule.outputs["arn"]}
    shifting = _service({"targetGroupArn": primary.outputs["arn"], "containerPort": 8080, "advancedConfiguration": advanced}, rule, strategy="CANARY")
    before = _stack(ALB, primary, alternate, listener, rule, *ports, shifting)
    after = _stack(ALB, primary, listener, *ports, _service({"targetGroupArn": primary.outputs["arn"], "containerPort": 8080}))
    # Production on the primary: the rolling update starts its tasks there before the old ones stop.
    assert _plan(before, after).gaps == []
    drained = _plan(before, after, Live(production_on_alternate=True))
    assert [str(g) for g in drained.gaps] == [
        "http forwards to green with nothing healthy in it, from 'update ecs/service svc' until 'delete lb/listenerRule production': nothing is registered in it"
    ]
    assert _timeline(drained)[0] == ("before pulumi up", ["green 100"])


def test_a_blue_green_deployment_moves_tasks_and_weights_together():
    primary, alternate = _tg("blue"), _tg("green")
    ports = _ports()
    listener = _listener(primary)
    weights = [{"type": "forward", "forward": {"targetGroups": [{"arn": primary.outputs["arn"], "weight": 100}, {"arn": alternate.outputs["arn"], "weight": 0}]}}]
    rule = _r(
        "production",
        "aws:lb/listenerRule:ListenerRule",
        {"listenerArn": listener.outputs["arn"], "priority": 1, "actions": weights, "conditions": [{"pathPattern": {"values": ["/*"]}}]},
        arn=f"{ARN}:listener-rule/app/alb/1/2/3",
        ignore_changes=("actions",),
    )
    lb = {
        "targetGroupArn": primary.outputs["arn"],
        "containerPort": 8080,
        "advancedConfiguration": {"alternateTargetGroupArn": alternate.outputs["arn"], "productionListenerRule": rule.outputs["arn"]},
    }
    before = _stack(ALB, primary, alternate, listener, rule, *ports, _service(lb, rule, strategy="BLUE_GREEN"))
    after = _stack(ALB, primary, alternate, listener, rule, *ports, _service(lb, rule, strategy="BLUE_GREEN", task="td:2"))
    plan = _plan(before, after)
    assert plan.gaps == []
    assert _timeline(plan) == [("before pulumi up", ["blue 100"]), ("update ecs/service svc", ["green 100"]), ("pulumi up returns", ["green 100"])]


def test_a_port_the_security_group_rules_no_longer_open_leaves_a_gap():
    tg = _tg("tg")
    before = _stack(ALB, tg, _listener(tg), *_ports(8080), _service({"targetGroupArn": tg.outputs["arn"], "containerPort": 8080}))
    # The rules are updated in place to the new port before the service's new tasks listen on it.
    after = _stack(ALB, tg, _listener(tg), *_ports(9000), _service({"targetGroupArn": tg.outputs["arn"], "containerPort": 9000}, task="td:2"))
    [gap] = _plan(before, after).gaps
    assert (gap.since.label, gap.until and gap.until.label) == ("update vpc/securityGroupEgressRule out", "update ecs/service svc")
    assert gap.why == "ECS service svc on port 8080, which the load balancer's security group rules do not open"


def _eks(tg: Resource, port: int = 8080, *, cluster_name: str = "c1") -> tuple[Resource, ...]:
    component = "urn:pulumi:dev::container-cicd::container-cicd:deploy:EksTarget::deploy"
    target = Resource(type="container-cicd:deploy:EksTarget", name="deploy", urn=component, parent_urn=None, custom=False, inputs={}, ref=component)
    manifests = {
        "items": [
            {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": port}]}]}}}},
            {"kind": "TargetGroupBinding", "spec": {"targetGroupARN": tg.outputs["arn"]}},
        ]
    }
    buildspec = yaml.safe_dump({"env": {"variables": {"MANIFESTS": json.dumps(manifests)}}})
    cluster = _r("cluster", "aws:eks/cluster:Cluster", {"name": cluster_name}, parent=component)
    project = _r("project", "aws:codebuild/project:Project", {"name": "deploy", "source": {"buildspec": buildspec}}, deps=(cluster,), parent=component)
    spec = _r("spec", "aws:ssm/parameter:Parameter", {"name": "/spec", "insecureValue": str(hash(buildspec))}, deps=(project,), parent=component)
    return target, cluster, project, spec


def test_eks_pods_register_only_in_the_deploy_run_after_pulumi_up():
    old_tg, new_tg = _tg("ecs"), _tg("eks")
    ports = _ports()
    before = _stack(ALB, old_tg, _listener(old_tg), *ports, _service({"targetGroupArn": old_tg.outputs["arn"], "containerPort": 8080}))
    after = _stack(ALB, new_tg, _listener(new_tg), *ports, *_eks(new_tg))
    plan = _plan(before, after)
    [gap] = plan.gaps
    assert (gap.since.label, gap.until and gap.until.label) == ("update lb/listener http", "EKS deploy project run (after pulumi up)")
    # The cluster takes minutes; the listener moved seconds in.
    assert [m.step.at for m in plan.moments[:3]] == [0, DEFAULT_SECONDS, 2 * DEFAULT_SECONDS]


def test_a_target_group_binding_cannot_move_to_another_target_group():
    old_tg, new_tg = _tg("a"), _tg("b")
    ports = _ports()
    before = _stack(ALB, old_tg, _listener(old_tg), *ports, *_eks(old_tg))
    after = _stack(ALB, new_tg, _listener(new_tg), *ports, *_eks(new_tg))
    [gap] = _plan(before, after).gaps
    assert gap.until is None and gap.why == "nothing is registered in it"
    # In a new cluster, the binding is new: the run registers the pods.
    fresh = _stack(ALB, new_tg, _listener(new_tg), *ports, *_eks(new_tg, cluster_name="c2"))
    [gap] = _plan(before, fresh).gaps
    assert gap.until is not None and gap.until.label == "EKS deploy project run (after pulumi up)"


def test_a_target_group_of_weight_zero_gets_no_traffic_and_is_not_checked():
    serving, waiting = _tg("serving"), _tg("waiting")
    ports = _ports()
    service = _service({"targetGroupArn": serving.outputs["arn"], "containerPort": 8080})
    listener = _listener(serving)
    weighted = [{"type": "forward", "forward": {"targetGroups": [{"arn": serving.outputs["arn"], "weight": 100}, {"arn": waiting.outputs["arn"], "weight": 0}]}}]
    before = _stack(ALB, serving, listener, *ports, service)
    after = _stack(
        ALB,
        serving,
        waiting,
        _r("http", listener.type, {**listener.inputs, "defaultActions": weighted}, arn=listener.outputs["arn"], deps=(ALB, serving, waiting)),
        *ports,
        service,
    )
    plan = _plan(before, after)
    assert plan.gaps == []
    assert _timeline(plan)[-1] == ("pulumi up returns", ["serving 100"])


def test_a_new_load_balancer_carries_production_only_once_pulumi_up_returns():
    tg = _tg("tg")
    ports = _ports()
    service = _service({"targetGroupArn": tg.outputs["arn"], "containerPort": 8080})
    before = _stack(tg, *ports, service)
    after = _stack(ALB, tg, _listener(tg), *ports, service)
    plan = _plan(before, after)
    assert [(label, forwards) for label, forwards in _timeline(plan) if forwards] == [("pulumi up returns", ["tg 1"])]
