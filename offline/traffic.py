"""Traffic during a change: what each production listener forwards to at every step of `pulumi up`, and
whether something healthy is registered behind it then.

The order of steps is the engine's (offline/steps.py): creates and updates as soon as what they
depend on is done, deletions last in reverse dependency order; then `pulumi up` returns, and an EKS
deploy project whose workload spec changed runs (the config-apply run; docs/eks.md).

Who registers targets, and when they count as healthy (the load balancer routes only to healthy
targets; a target group with none registered answers 503:
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html):
- An ECS service registers its tasks in the target groups of its `loadBalancers`, on their
  `containerPort`. With `waitForSteadyState` the provider's step ends once the service is steady ("like aws
  ecs wait services-stable": one deployment, as many running tasks as desired; pulumi-aws ecs.Service), so
  they count from the end of the service's create or update step. An update that changes the task definition, load
  balancers or network configuration starts a deployment: ROLLING starts the new tasks in the target
  groups the new block names and stops the old ones (deregistered) once those are healthy
  (minimumHealthyPercent 100), all within the step; BLUE_GREEN, CANARY and LINEAR start the new
  revision in the other one of the primary and alternate target group and move the production
  listener rule's weights to it, only between target groups holding healthy tasks
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-how-it-works.html).
  That rule's `actions` are ECS's (`ignore_changes`), so a deployment before the change may have left
  production on the alternate target group: `Live.production_on_alternate`. A deleted service
  deregisters its tasks when its delete step ends.
- An EKS workload is registered by the TargetGroupBinding its deploy project applies, in the target
  group that binding names, on the Deployment's container port: only in the project's run after
  `pulumi up` (Pulumi never talks to the Kubernetes API), and in a cluster created by this update only
  then. A binding's `spec.targetGroupARN` cannot change (the AWS Load Balancer Controller's webhook
  refuses it: "TargetGroupBinding update may not change these fields: spec.targetGroupARN",
  aws-load-balancer-controller webhooks/elbv2/targetgroupbinding_validator.go), so a run that names
  another target group in the same cluster registers nothing new. The pods go when their cluster is
  deleted.
- A registered target is reachable only on a port that both an egress rule of the load balancer's
  security group and an ingress rule referencing that group open.

What reaches a target group: the production listeners are the load balancer's listeners on 80 and
443 (the test listener takes no production traffic); each forwards by its rules in priority order down
to the first that matches every path (`/*`), else by its default action; a target group of weight 0
gets no request. A load balancer created by the update has a new DNS name: its listeners carry
production traffic only once `pulumi up` has returned (`serviceUrl`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml

from offline.changes import Change, effective_inputs
from offline.mocks import Resource, StackResult
from offline.steps import DEPLOY_RUN_SECONDS, changed, replaced_refs, schedule, touched

LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
SERVICE = "aws:ecs/service:Service"
CLUSTER = "aws:eks/cluster:Cluster"
PROJECT = "aws:codebuild/project:Project"
SPEC = "aws:ssm/parameter:Parameter"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PRODUCTION_PORTS = (80, 443)
ALL_PATHS = "/*"
# A service update with one of these changed starts a deployment.
DEPLOYING_INPUTS = ("taskDefinition", "loadBalancers", "networkConfiguration")

# Types whose steps change what a listener forwards to or what is registered behind it.
TRAFFIC_TYPES = frozenset({LISTENER, RULE, TARGET_GROUP, LOAD_BALANCER, SERVICE, CLUSTER, INGRESS, EGRESS})


@dataclass(frozen=True)
class Live:
    """What the state does not tell and AWS does: where ECS's last deployment left production traffic."""

    production_on_alternate: bool = False
    """A blue-green, canary or linear deployment moved production to the alternate target group (ECS
    alternates at every deployment); the production rule forwards 0/100 and the tasks are there."""


@dataclass(frozen=True)
class Step:
    at: int
    """Model seconds after `pulumi up` started, when the step ended."""
    label: str


@dataclass(frozen=True)
class Forward:
    listener: str
    target_group: str
    """The target group's physical name."""
    weight: int
    share: float
    """Percent of the listener's production traffic."""
    healthy: bool
    why: str
    """What is registered and reachable in it, or why nothing is."""


@dataclass(frozen=True)
class Moment:
    step: Step
    forwards: tuple[Forward, ...]


@dataclass(frozen=True)
class Gap:
    """A production listener forwarding to a target group with nothing healthy in it."""

    listener: str
    target_group: str
    since: Step
    until: Step | None
    """The first moment it serves again; None: not even after the deploy project's run."""
    why: str

    def __str__(self) -> str:
        end = f"until {self.until.label!r}" if self.until else "and after every step"
        return f"{self.listener} forwards to {self.target_group} with nothing healthy in it, from {self.since.label!r} {end}: {self.why}"


@dataclass
class TrafficPlan:
    moments: list[Moment]
    gaps: list[Gap]


@dataclass
class _Presence:
    target_groups: frozenset[str]
    port: int
    who: str
    owner: str | None = None
    """EKS pods: the deploy target component whose cluster holds them (they go with it)."""


@dataclass
class _World:
    """What exists at a moment: resources by key, the live actions of ECS's rules, who is registered where."""

    resources: dict[str, Resource] = field(default_factory=dict)
    live_actions: dict[str, list] = field(default_factory=dict)
    presences: dict[str, _Presence] = field(default_factory=dict)
    carrying: set[str] = field(default_factory=set)
    """Keys of load balancers whose listeners carry production traffic."""


def _forward_groups(actions: list | None) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for action in actions or []:
        if action.get("type") != "forward":
            continue
        weighted = (action.get("forward") or {}).get("targetGroups")
        if weighted:
            found += [(g["arn"], int(g.get("weight", 1))) for g in weighted]
        elif action.get("targetGroupArn"):
            found.append((action["targetGroupArn"], 1))
    return found


def _catches_all(rule: Resource) -> bool:
    return any(ALL_PATHS in (c.get("pathPattern") or {}).get("values", []) for c in rule.inputs.get("conditions") or [])


def _workload(project: Resource) -> tuple[str, int] | None:
    """(TargetGroupBinding's target group ARN, the Deployment's container port) of an EKS deploy project."""
    buildspec = (project.inputs.get("source") or {}).get("buildspec") or ""
    if "TargetGroupBinding" not in buildspec:
        return None
    items = json.loads(yaml.safe_load(buildspec)["env"]["variables"]["MANIFESTS"])["items"]
    tgb = next(i for i in items if i["kind"] == "TargetGroupBinding")
    deployment = next(i for i in items if i["kind"] == "Deployment")
    return tgb["spec"]["targetGroupARN"], int(deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"])


def _service_groups(service: Resource, on_alternate: bool) -> tuple[frozenset[str], int]:
    """Where a running service's tasks are registered, and on which port."""
    lb = (service.inputs.get("loadBalancers") or [{}])[0]
    alternate = (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
    groups = frozenset({alternate}) if alternate and on_alternate else frozenset(b["targetGroupArn"] for b in service.inputs.get("loadBalancers") or [])
    return groups, int(lb.get("containerPort") or 0)


def _shifts(service: Resource) -> bool:
    return ((service.inputs.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING") != "ROLLING"


class _Simulation:
    def __init__(self, before: StackResult, after: StackResult, change: Change, live: Live):
        self.before, self.after, self.change, self.live = before, after, change, live
        self.world = _World()
        self.moments: list[Moment] = []
        for r in before.resources:
            self.world.resources[r.urn] = r
        self.world.carrying = {r.urn for r in before.resources if r.type == LOAD_BALANCER}
        self._seed_registrations()

    # --- the state before the update -----------------------------------------------------------
    def _seed_registrations(self) -> None:
        rules = [r for r in self.before.resources if r.type == RULE and "actions" in r.ignore_changes]
        for r in rules:
            self.world.live_actions[r.urn] = r.inputs.get("actions") or []
        for s in self.before.of_type(SERVICE):
            on_alternate = _shifts(s) and self.live.production_on_alternate
            groups, port = _service_groups(s, on_alternate)
            self.world.presences[s.urn] = _Presence(groups, port, f"ECS service {s.inputs.get('name')}")
            if on_alternate:
                self._ecs_moved_production(s, next(iter(groups)))
        for p in self.before.of_type(PROJECT):
            workload = _workload(p)
            if workload:
                self.world.presences[p.urn] = _Presence(frozenset({workload[0]}), workload[1], f"EKS pods of {p.inputs.get('name')}", _owner(self.before, p))

    def _ecs_moved_production(self, service: Resource, to: str) -> None:
        rule_arn = ((service.inputs.get("loadBalancers") or [{}])[0].get("advancedConfiguration") or {}).get("productionListenerRule")
        for key, r in self.world.resources.items():
            if r.type == RULE and r.outputs.get("arn") == rule_arn and key in self.world.live_actions:
                groups = [a for a, _ in _forward_groups(self.world.live_actions[key])]
                self.world.live_actions[key] = [{"type": "forward", "forward": {"targetGroups": [{"arn": g, "weight": 100 if g == to else 0} for g in groups]}}]

    # --- what production traffic reaches -----------------------------------------------------------
    def _by_arn(self, arn: str) -> Resource | None:
        return next((r for r in self.world.resources.values() if r.outputs.get("arn") == arn), None)

    def _open_ports(self, alb_sgs: set[str]) -> list[tuple[int, int]]:
        def spans(type_: str, key: str) -> list[tuple[int, int]]:
            return [(int(r.inputs["fromPort"]), int(r.inputs["toPort"])) for r in self.world.resources.values() if r.type == type_ and r.inputs.get(key) in alb_sgs]

        ingress, egress = spans(INGRESS, "referencedSecurityGroupId"), spans(EGRESS, "securityGroupId")
        return [(lo, hi) for lo, hi in ingress if any(a <= lo and hi <= b for a, b in egress)]

    def forwards(self) -> list[Forward]:
        found = []
        for _, listener in sorted(self.world.resources.items()):
            if listener.type != LISTENER or int(listener.inputs.get("port") or 0) not in PRODUCTION_PORTS:
                continue
            lb = self._by_arn(listener.inputs.get("loadBalancerArn", ""))
            lb_key = next((k for k, r in self.world.resources.items() if r is lb), None)
            if lb is None or lb_key not in self.world.carrying:
                continue
            open_ports = self._open_ports(set(lb.inputs.get("securityGroups") or []))
            reached = [(arn, weight) for arn, weight in self._reached(listener) if weight > 0]
            total = sum(weight for _, weight in reached)
            for arn, weight in reached:
                tg = self._by_arn(arn)
                healthy, why = self._health(arn, open_ports)
                found.append(Forward(listener.name, (tg.inputs.get("name") if tg else None) or arn, weight, round(100 * weight / total, 1), healthy, why))
        return found

    def _reached(self, listener: Resource) -> list[tuple[str, int]]:
        arn = listener.outputs.get("arn")
        rules = sorted((r for r in self.world.resources.values() if r.type == RULE and r.inputs.get("listenerArn") == arn), key=lambda r: int(r.inputs.get("priority") or 0))
        reached: list[tuple[str, int]] = []
        for rule in rules:
            key = next(k for k, r in self.world.resources.items() if r is rule)
            reached += _forward_groups(self.world.live_actions.get(key, rule.inputs.get("actions")))
            if _catches_all(rule):
                return reached
        return reached + _forward_groups(listener.inputs.get("defaultActions"))

    def _health(self, arn: str, open_ports: list[tuple[int, int]]) -> tuple[bool, str]:
        here = [p for p in self.world.presences.values() if arn in p.target_groups]
        if not here:
            return False, "nothing is registered in it"
        for p in here:
            if any(lo <= p.port <= hi for lo, hi in open_ports):
                return True, f"{p.who} on port {p.port}"
        return False, f"{', '.join(p.who for p in here)} on port {here[0].port}, which the load balancer's security group rules do not open"

    def record(self, step: Step) -> None:
        self.moments.append(Moment(step, tuple(self.forwards())))


def _owner(result: StackResult, r: Resource) -> str | None:
    """The URN of the component `r` belongs to (an EKS target: its cluster and its deploy project)."""
    parent = next((p for p in result.resources if p.ref == r.parent_urn), None)
    return parent.urn if parent else None


def plan_traffic(before: StackResult, after: StackResult, change: Change, live: Live = Live()) -> TrafficPlan:
    """Run `change` step by step and report what each production listener forwards to after each step."""
    sim = _Simulation(before, after, change, live)
    w = sim.world
    sim.record(Step(0, "before pulumi up"))
    replaced = {old.urn for old, _, _ in change.replaced}
    last = 0
    for t, kind, old, new in schedule(before, after, change):
        last = t
        subject = new or old
        assert subject is not None
        if kind == "delete" and old is not None:
            key = f"replaced:{old.urn}" if old.urn in replaced else old.urn
            w.resources.pop(key, None)
            w.live_actions.pop(key, None)
            w.carrying.discard(key)
            if old.type == SERVICE:
                w.presences.pop(key, None)
            if old.type == CLUSTER:
                for gone in [k for k, p in w.presences.items() if p.owner == _owner(before, old)]:
                    del w.presences[gone]
        elif new is not None:
            if kind == "replace" and old is not None:
                for table in (w.resources, w.live_actions, w.presences):
                    if old.urn in table:
                        table[f"replaced:{old.urn}"] = table.pop(old.urn)  # type: ignore[index]
                if old.urn in w.carrying:
                    w.carrying.discard(old.urn)
                    w.carrying.add(f"replaced:{old.urn}")
            _apply(sim, kind, old, new)
        if subject.type in TRAFFIC_TYPES:
            sim.record(Step(t, f"{kind} {subject.type.split(':')[1]} {subject.name}"))
    w.carrying |= {r.urn for r in after.resources if r.type == LOAD_BALANCER}
    sim.record(Step(last, "pulumi up returns"))
    if _deploy_run(sim, after, change):
        sim.record(Step(last + DEPLOY_RUN_SECONDS, "EKS deploy project run (after pulumi up)"))
    return TrafficPlan(sim.moments, _gaps(sim.moments))


def _apply(sim: _Simulation, kind: str, old: Resource | None, new: Resource) -> None:
    w = sim.world
    if kind == "update" and old is not None:
        w.resources.pop(old.urn, None)
        if old.urn in w.live_actions:
            w.live_actions[new.urn] = w.live_actions.pop(old.urn)
        if old.urn in w.presences:
            w.presences[new.urn] = w.presences.pop(old.urn)
        if old.urn in w.carrying:
            w.carrying.discard(old.urn)
            w.carrying.add(new.urn)
    effective = Resource(**{**new.__dict__, "inputs": effective_inputs(old, new) if old is not None and kind == "update" else new.inputs})
    w.resources[new.urn] = effective
    if new.type == RULE and "actions" in new.ignore_changes and new.urn not in w.live_actions:
        w.live_actions[new.urn] = new.inputs.get("actions") or []
    if new.type != SERVICE:
        return
    groups, port = _service_groups(new, False)
    if kind == "update" and old is not None and not changed(old, new, replaced_refs(sim.change), DEPLOYING_INPUTS):
        return
    if kind == "update" and _shifts(new) and new.urn in w.presences:
        lb = (new.inputs.get("loadBalancers") or [{}])[0]
        pair: list[str] = [lb["targetGroupArn"], (lb.get("advancedConfiguration") or {})["alternateTargetGroupArn"]]
        to = pair[1] if pair[0] in w.presences[new.urn].target_groups else pair[0]
        groups = frozenset({to})
        sim._ecs_moved_production(new, to)
    w.presences[new.urn] = _Presence(groups, port, f"ECS service {new.inputs.get('name')}")


def _deploy_run(sim: _Simulation, after: StackResult, change: Change) -> bool:
    """The EKS deploy projects' config-apply runs after `pulumi up` (started by a change of their workload
    spec parameter): each applies its TargetGroupBinding."""
    touched_, ran = touched(change), False
    fresh_clusters = {r.urn for r in change.created} | {new.urn for _, new, _ in change.replaced}
    for project in after.of_type(PROJECT):
        workload, owner = _workload(project), _owner(after, project)
        spec = [r for r in after.of_type(SPEC) if _owner(after, r) == owner]
        if workload is None or not any(r.urn in touched_ for r in spec):
            continue
        ran = True
        arn, port = workload
        fresh = any(c.urn in fresh_clusters for c in after.of_type(CLUSTER) if _owner(after, c) == owner)
        current = next((p for p in sim.world.presences.values() if p.owner == owner), None)
        if current is not None and arn not in current.target_groups and not fresh:
            # The controller's webhook refuses a new spec.targetGroupARN on the existing binding.
            current.who += " (the run's TargetGroupBinding for another target group is refused: spec.targetGroupARN cannot change)"
            continue
        sim.world.presences[f"run:{project.urn}"] = _Presence(frozenset({arn}), port, f"EKS pods of {project.inputs.get('name')}", owner)
        if current is not None:
            sim.world.presences = {k: p for k, p in sim.world.presences.items() if p is not current}
    return ran


def _gaps(moments: list[Moment]) -> list[Gap]:
    gaps: list[Gap] = []
    open_: dict[tuple[str, str], tuple[Step, str]] = {}
    for moment in moments:
        bad = {(f.listener, f.target_group): f.why for f in moment.forwards if not f.healthy}
        for pair, (since, why) in list(open_.items()):
            if pair not in bad:
                gaps.append(Gap(pair[0], pair[1], since, moment.step, why))
                del open_[pair]
        for pair, why in bad.items():
            open_.setdefault(pair, (moment.step, why))
    gaps += [Gap(pair[0], pair[1], since, None, why) for pair, (since, why) in open_.items()]
    return gaps
