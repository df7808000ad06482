"""What a workload gives the load balancer to attach itself (`AttachArgs`, `RouteArgs`) and what it gets back
(`Attachment`): its target group(s), the rule or default action that sends it requests, the URL it answers on,
and `Attachment.connect`, the security-group rule pair between the load balancer and the workload.

The load balancer (loadbalancer.py) creates the resources; this module holds the data and the pure rules
(conditions, priorities, the URL and what the smoke test must send), so they are testable without mocks.
ALB quotas (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html):
5 condition values per rule, 100 rules per load balancer, 100 target groups per load balancer.

Changing routes. Of a listener rule's inputs only `listener_arn` forces a replacement; `priority` is updated in
place (SetRulePriorities, one rule per call) and `conditions` and `actions` too (ModifyRule)
(terraform-provider-aws internal/service/elbv2/listener_rule.go, the provider behind pulumi-aws). A priority
belongs to one rule of a listener at a time, so an update in which one rule takes a priority another gives up
fails with PriorityInUse whichever goes first, and so would a rule created (create-before-delete) at the
priority of one deleted at the end of the same update (a renamed service). Hence:
- A plain routed rule is named by its priority (`<load balancer>-rule-<priority>`), not by its service: a new
  host or path, or another service at that priority, updates the rule in place; a new priority is a new rule at
  a priority no rule of this kind holds, created before the old one is deleted (both forward to the same target
  group meanwhile); two services exchanging priorities update two rules' conditions and actions.
- A traffic-shifting service's rules keep their names and ARNs (ECS holds them and owns their actions: a new rule
  would forward to the target group ECS may have drained), so their priority moves in place. Moving one onto a
  priority another rule gives up in the same update fails: go through an unused priority in two updates.
- The default service's catch-all takes reserved priorities (1 alone, 50000 after routes) no route can take, so
  adding the first route, which moves it from 1 to 50000, cannot clash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components.network.traffic_shift import TrafficShift, TrafficShiftArgs

# Listener rule priorities run from 1 to 50000, the lowest first
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-update-rules.html).
# A traffic-shifting default workload's catch-all rule keeps priority 1 while it is the only rule (the single-
# service stack's value), and takes the last priority once routed rules exist, so that it comes after all of
# them. Routes therefore take 2..49999: neither reserved value can clash with a route, even in the one update
# that moves the catch-all from 1 to 50000 (the provider updates each rule's priority by itself, SetRulePriorities,
# so two rules may never need each other's priority in one update).
CATCH_ALL_ALONE = 1
CATCH_ALL_AFTER_ROUTES = 50000
ROUTE_PRIORITIES = range(CATCH_ALL_ALONE + 1, CATCH_ALL_AFTER_ROUTES)
MAX_CONDITION_VALUES = 5
# For the security group rules that open the container port between the load balancer and the tasks or
# pods: a new port replaces them, so the new port's rule is created before the old one is deleted (at the
# end of `pulumi up`, https://www.pulumi.com/docs/iac/concepts/options/replaceonchanges/) and what runs on
# the old port stays reachable until what runs on the new one is.
CONTAINER_PORT_RULE = pulumi.ResourceOptions(replace_on_changes=["from_port", "to_port"])


@dataclass(frozen=True)
class RouteArgs:
    """Which requests a routed workload gets: a listener rule at `priority` matching any of `hosts` (host-header)
    and any of `paths` (path-pattern); with both, a request must match one of each."""

    priority: int
    """The rule's priority (lower is evaluated first), unique on the listener, in `ROUTE_PRIORITIES`."""
    hosts: tuple[str, ...] = ()
    """Host names (wildcards * and ? allowed). Omitted: any host."""
    paths: tuple[str, ...] = ()
    """Path patterns, e.g. "/api/*" (wildcards * and ? allowed). Omitted: any path."""

    def __post_init__(self) -> None:
        if self.priority not in ROUTE_PRIORITIES:
            raise ValueError(
                f"RouteArgs.priority: {self.priority} is not allowed; use {ROUTE_PRIORITIES.start} to {ROUTE_PRIORITIES.stop - 1} "
                f"({CATCH_ALL_ALONE} and {CATCH_ALL_AFTER_ROUTES} belong to a traffic-shifting default service's catch-all rule)"
            )
        if not self.hosts and not self.paths:
            raise ValueError("RouteArgs: a route needs hosts or paths; a workload without either is the listener's default (route=None)")
        if len(self.hosts) + len(self.paths) > MAX_CONDITION_VALUES:
            raise ValueError(
                f"RouteArgs: {len(self.hosts)} hosts and {len(self.paths)} paths are {len(self.hosts) + len(self.paths)} condition values; "
                f"an ALB rule takes at most {MAX_CONDITION_VALUES}"
            )
        bad = [p for p in self.paths if not p.startswith("/")]
        if bad:
            raise ValueError(f'RouteArgs.paths: {bad[0]!r} is not allowed; a path pattern starts with "/", e.g. "/api/*"')

    def conditions(self) -> list[aws.lb.ListenerRuleConditionArgsDict]:
        conditions: list[aws.lb.ListenerRuleConditionArgsDict] = []
        if self.hosts:
            conditions.append({"host_header": {"values": list(self.hosts)}})
        if self.paths:
            conditions.append({"path_pattern": {"values": list(self.paths)}})
        return conditions

    @property
    def host(self) -> str | None:
        """The host a request to this route names: the first host without a wildcard. None: any host (no hosts)."""
        if not self.hosts:
            return None
        plain = [h for h in self.hosts if "*" not in h and "?" not in h]
        if not plain:
            raise ValueError(f"RouteArgs.hosts: {list(self.hosts)} are all wildcards; add one plain host name for the service URL and the smoke test")
        return plain[0]

    @property
    def path_prefix(self) -> str:
        """What a request to this route starts its path with: the first path pattern up to its first wildcard,
        without a trailing "/" ("/api/*" -> "/api"). Empty: any path (no paths)."""
        if not self.paths:
            return ""
        pattern = self.paths[0]
        cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=len(pattern))
        return pattern[:cut].rstrip("/")


@dataclass(frozen=True)
class AttachArgs:
    name: str
    """Stem of the attachment's resource names (`<name>-tg-<kind>`, `<name>-tg-alt`, `<name>-production-rule`,
    `<name>-test-rule`); the implicit service's is the load balancer's own name."""
    target_kind: str
    """"ecs" | "eks": names the target group (`<name>-tg-<kind>`, its physical name's variant), so that a switch of
    deploy target gives the new target a target group of its own."""
    health_check_path: str
    """Path the target group's health check requests."""
    target_group_tags: dict[str, str] = field(default_factory=dict)
    """Tags the workload needs on its target group (EKS Auto Mode registers pods only in target groups tagged with
    its cluster's name). Omitted: the load balancer's tags only."""
    route: RouteArgs | None = None
    """The requests it gets by host and path. Omitted: the listener's default action (every request no rule takes)."""
    traffic_shift: TrafficShiftArgs | None = None
    """When set (ECS blue-green, canary, linear): a second target group, a production rule that ECS re-weights
    between the two and a test rule on the load balancer's one test listener. Omitted: one target group."""
    standby: bool = False
    """nextDeployTarget: the next target's target group, beside the serving workload of the same route with weight 0
    (no requests, but health-checked, and ECS may register in it). Omitted: the serving workload."""
    name_prefix: str | None = None
    """Physical-name prefix of its target groups (project-stack-service). Omitted: the load balancer's."""


@dataclass(frozen=True)
class Attachment:
    """A workload's place on the load balancer."""

    url: pulumi.Output[str]
    """Where clients reach it: the load balancer's URL, with the route's host and path prefix."""
    listener: aws.lb.Listener
    """The serving listener."""
    ready: Sequence[pulumi.Resource]
    """What associates its target groups with the load balancer: depend on it before registering targets (ECS
    refuses a service whose target group no listener or rule uses)."""
    alb_security_group_id: pulumi.Output[str]
    load_balancer_arn_suffix: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    traffic_shift: TrafficShift | None
    """Blue-green, canary, linear: the alternate target group, the rules, the test listener and what the smoke test
    requests; else None."""
    route: RouteArgs | None = None

    def connect(self, name: str, workload_security_group_id: pulumi.Input[str], port: int, parent: pulumi.Resource, workload: str = "service") -> list[pulumi.Resource]:
        """The rule pair that lets the load balancer reach the workload on `port`: egress from the load balancer's
        security group and ingress into the workload's (`<name>-alb-to-<workload>`, `<name>-<workload>-from-alb`,
        children of `parent`). Depend on both before the workload must be healthy."""
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), CONTAINER_PORT_RULE)
        whose = f"{workload}'" if workload.endswith("s") else f"{workload}'s"
        to_workload = aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-to-{workload}",
            security_group_id=self.alb_security_group_id,
            description=f"To the {whose} container port",
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=workload_security_group_id,
            opts=opts,
        )
        from_alb = aws.vpc.SecurityGroupIngressRule(
            f"{name}-{workload}-from-alb",
            security_group_id=workload_security_group_id,
            description="Container port from the load balancer",
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=self.alb_security_group_id,
            opts=opts,
        )
        return [to_workload, from_alb]


def forward(serving: aws.lb.TargetGroup, standby: Sequence[aws.lb.TargetGroup]) -> list[Any]:
    """A forward action to `serving`, with each `standby` target group beside it at weight 0."""
    if not standby:
        return [{"type": "forward", "target_group_arn": serving.arn}]
    # Weight 0: no request reaches it, but a target group in a listener action is health-checked
    # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html).
    weights = [{"arn": serving.arn, "weight": 100}, *({"arn": group.arn, "weight": 0} for group in standby)]
    return [{"type": "forward", "forward": {"target_groups": weights}}]


class Late:
    """An input settled when attaching ends (see loadbalancer.py's module docstring)."""

    def __init__(self) -> None:
        self._future: asyncio.Future[pulumi.Output[Any]] = asyncio.get_event_loop().create_future()
        # The future's value is itself an Output (of target group ARNs): apply flattens it and keeps its resources
        # as dependencies.
        self.output: pulumi.Output[Any] = pulumi.Output.from_input(cast(Any, self._future)).apply(lambda value: value)

    def settle(self, value: pulumi.Input[Any]) -> None:
        self._future.set_result(pulumi.Output.from_input(value))

    def fail(self, error: BaseException) -> None:
        if not self._future.done():
            self._future.set_exception(error)


def reported_once(error: BaseException) -> None:
    """The program raises `error` itself; each Output derived from a failed input would otherwise have asyncio log it
    again ("exception was never retrieved") when collected. Other exceptions go to the handler as before."""
    loop = asyncio.get_event_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("exception") is error:
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
