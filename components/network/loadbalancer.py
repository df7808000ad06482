"""Load balancer: the internet-facing ALB, its listeners, and the place each workload attaches itself to.

One per stack, outside the deploy targets, so ECS tasks and EKS pods sit behind the same, equally tuned
ALB, report the same CloudWatch metrics (AWS/ApplicationELB) to the alarms and the dashboard, and a
switch of `deployTarget` keeps the load balancer and the service URL.

Attaching. Each workload (a deploy target, one per service) calls `LoadBalancer.attach(AttachArgs)` itself and
gets an `Attachment` (attach.py): its target group(s), the listener rule or default action that sends it its
requests, for ECS blue-green, canary and linear the alternate target group, production rule and test rule on the
one test listener (traffic_shift.py), and `Attachment.connect` for the security-group rule pair.

Ordering. Pulumi registers a resource with the inputs it has when it is constructed, but two inputs depend on
every workload that will attach: the serving listener's default action names the default workload's target
group (and, during a deploy-target switch, the standby's with weight 0; with no default workload it answers
404), and a traffic-shifting default workload's catch-all rules take priority 1 alone but must come after
every routed rule. The workloads, meanwhile, need the listener first: an ECS service must depend on the listener
or rule that associates its target group with the load balancer (ECS refuses a target group no listener uses).
So attaching is a phase: `with load_balancer.attaching():` creates the serving listener whose default action (and
the catch-all priority) is an Output that the end of the block settles from everything attached in it. Inside
the block the listener and each rule exist as objects, so a service can name them in `depends_on`; the engine
registers the listener once the block has ended, and the service after it. `attach` outside the block is
refused. An exception inside the block fails those Outputs with it, so nothing waits for an input that will
never come and no listener is registered with a half-known default action.

Outputs: `url`, `dns_name` (the load balancer's own, which serviceDomain points at), `alb_security_group_id`,
`arn_suffix`, `listener` (inside and after `attaching`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components.naming import variant_name
from components.network.access_logs import LOG_PREFIX, access_log_bucket
from components.network.attach import CATCH_ALL_AFTER_ROUTES, CATCH_ALL_ALONE, AttachArgs, Attachment, Late, RouteArgs, forward, reported_once
from components.network.dns import alias_record
from components.network.traffic_shift import ALL_PATHS, NOT_FOUND, TrafficShift, TrafficShiftArgs, shift_rules, test_listener
from components.network.waf import web_acl

# The deregistration delay is a settings fact: a deployment's worst case (settings' duration.py) counts it.
from components.settings import DEREGISTRATION_DELAY_SECONDS

# ALB target-group health check: healthy after 2 passing checks 10 s apart, i.e. within 20 s.
HEALTH_CHECK_INTERVAL_SECONDS = 10
HEALTHY_THRESHOLD = 2
# TLS 1.3 with a TLS 1.2 floor, the ELB policy AWS recommends.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class LoadBalancerArgs:
    name_prefix: str
    """Physical-name prefix (project-stack-service) of the load balancer, and of target groups whose attachment
    names none."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer, its security group and target groups."""
    public_subnet_ids: pulumi.Input[list[str]]
    """Subnets of the internet-facing load balancer (two AZs at least)."""
    network_variant: str
    """What identifies the VPC (an existing VPC's id, or the CIDR of a created one): a new VPC replaces
    the load balancer and target groups, so their names carry it (see `variant_name`)."""
    ingress_cidrs: tuple[str, ...]
    """Who may reach the listeners."""
    certificate_arn: str | None
    """When set: HTTPS on 443 with this ACM certificate and HTTP redirected to it. None: HTTP only."""
    service_domain: str | None
    """The name clients use: the service URL's host (the certificate must cover it). None: the load
    balancer's DNS name."""
    hosted_zone_id: str | None
    """With service_domain: the Route 53 hosted zone in which the stack creates the name's alias record to the
    load balancer. None: no record (whoever owns the name points it at the load balancer)."""
    production: bool
    """When True, the access-log bucket is protected (Pulumi refuses to delete it)."""
    deletion_protection: bool
    """When True, the ALB's deletion protection is on: AWS refuses to delete it."""
    access_log_expiry_days: int | None
    """When set: the ALB writes access logs to a stack-owned bucket that expires them after this many
    days. None: no access logs, no bucket."""
    waf: bool
    """When True, a WAFv2 web ACL (AWS managed rule groups, a per-IP rate limit) guards the ALB."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


# The variant of the names that stacks had before names carried one: those stacks keep their ALB
# and target group (a new name would replace them).
DEFAULT_NETWORK_VARIANT = "created:10.0.0.0/16"
DEFAULT_TARGET_KIND = "ecs"
DEFAULT_CONTAINER_PORT = 8080
# A target group's port is only the default for targets registered without one; ECS registers each task
# and the load balancer controller each pod with its own container port, and the health check uses the
# port of each target ("traffic-port"):
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html
# (Routing configuration). So it is the same for every stack, and a containerPort change keeps the target
# group (port is replace-only) and what is registered in it: the tasks or pods move port in place.
TARGET_GROUP_PORT = DEFAULT_CONTAINER_PORT


def load_balancer_name(args: LoadBalancerArgs) -> str:
    # ALB names are at most 32 characters. internal and load_balancer_type, its other replace-only
    # inputs, never change here.
    return variant_name(args.name_prefix, "alb", 32, {"network": args.network_variant}, {"network": DEFAULT_NETWORK_VARIANT})


def target_group_name(args: LoadBalancerArgs, target_kind: str, suffix: str = "tg", name_prefix: str | None = None) -> str:
    """The target group of `target_kind`'s workload; `suffix` "tg-alt": the alternate target group of a
    traffic-shifting strategy, named by the same variant as the primary, so a change that replaces one replaces
    both under new names. `name_prefix`: the workload's physical-name prefix (omitted: the load balancer's)."""
    # Target group names are at most 32 characters; vpc_id and target_type are replace-only. The port is
    # TARGET_GROUP_PORT for every stack; it stays in the variant so that names keep their hashes.
    variant = {"network": args.network_variant, "port": str(TARGET_GROUP_PORT), "target": target_kind}
    default = {"network": DEFAULT_NETWORK_VARIANT, "port": str(DEFAULT_CONTAINER_PORT), "target": DEFAULT_TARGET_KIND}
    return variant_name(name_prefix or args.name_prefix, suffix, 32, variant, default)


@dataclass
class _Attached:
    args: AttachArgs
    target_group: aws.lb.TargetGroup


class LoadBalancer(pulumi.ComponentResource):
    """The stack's internet-facing ALB and its listeners; workloads attach themselves (`attach`, in `attaching`).

    Switching `deployTarget` keeps the load balancer and its URL and replaces only the target group: each target's
    is named for it (`<name>-tg-ecs`, `<name>-tg-eks`), so that during a switch (a standby attachment) both exist
    and each keeps its state; the serving one answers to the name it had before (`<name>-tg`).
    """

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:network:LoadBalancer", name, None, opts)
        self._name, self._args = name, args
        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description="Load balancer: listeners from the allowed CIDRs",
            vpc_id=args.vpc_id,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        listener_ports = [80, 443] if args.certificate_arn else [80]
        for port in listener_ports:
            for i, cidr in enumerate(args.ingress_cidrs):
                ipv6 = ":" in cidr
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-alb-in-{port}-{i}",
                    security_group_id=alb_sg.id,
                    description=f"Port {port} from {cidr}",
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=None if ipv6 else cidr,
                    cidr_ipv6=cidr if ipv6 else None,
                    opts=pulumi.ResourceOptions(parent=alb_sg),
                )
        access_logs: aws.lb.LoadBalancerAccessLogsArgsDict | None = None
        log_policy: list[pulumi.Resource] = []
        if args.access_log_expiry_days is not None:
            log_bucket, policy = access_log_bucket(name, expiry_days=args.access_log_expiry_days, parent=self, protect=args.production, tags=args.tags)
            access_logs = {"bucket": log_bucket.bucket, "prefix": LOG_PREFIX, "enabled": True}
            # ELB checks that it may write to the bucket when access logs are enabled.
            log_policy = [policy]
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=load_balancer_name(args),
            load_balancer_type="application",
            internal=False,
            security_groups=[alb_sg.id],
            subnets=args.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_policy),
        )
        if args.waf:
            web_acl(name, metric_prefix=f"{args.name_prefix}-waf", load_balancer_arn=alb.arn, parent=self, tags=args.tags)
        self._alb, self._alb_sg = alb, alb_sg
        scheme = "https://" if args.certificate_arn else "http://"
        self._scheme = scheme
        # The certificate covers serviceDomain, never the load balancer's own *.elb.amazonaws.com name.
        self.url = pulumi.Output.concat(scheme, args.service_domain or alb.dns_name)
        self.dns_name = alb.dns_name
        self.alb_security_group_id = alb_sg.id
        self.arn_suffix = alb.arn_suffix
        if args.service_domain and args.hosted_zone_id:
            alias_record(name, domain=args.service_domain, zone_id=args.hosted_zone_id, alb=alb, parent=self)
        self.listener: aws.lb.Listener | None = None
        self._test: tuple[TrafficShiftArgs, aws.lb.Listener] | None = None
        self._attached: list[_Attached] = []
        self._routed: dict[int, tuple[str, Late | None, pulumi.Resource]] = {}
        self._late: list[Late] = []
        self._catch_all: Late | None = None
        self._phase = "new"
        self.register_outputs({"url": self.url, "dns_name": self.dns_name})

    @contextmanager
    def attaching(self) -> Iterator[LoadBalancer]:
        """The phase in which workloads attach; its end settles the default action and the catch-all priority."""
        if self._phase != "new":
            raise RuntimeError(f"LoadBalancer {self._name!r}: attaching() runs once; attach every workload of the stack in that one block")
        self._default, self._catch_all = self._later(), None
        self.listener = self._serving_listener(self._default.output)
        self._phase = "attaching"
        try:
            yield self
            self._settle()
        except BaseException as error:
            for late in self._late:
                late.fail(error)
            reported_once(error)
            raise
        finally:
            self._phase = "settled"

    def attach(self, args: AttachArgs) -> Attachment:
        """`args`' target group(s) on this load balancer and the rule or default action that sends them requests."""
        if self._phase != "attaching" or self.listener is None:
            raise RuntimeError(f"LoadBalancer.attach({args.name!r}): attach inside `with load_balancer.attaching():`, which settles the listener's default action")
        self._refuse_conflicts(args)
        route, kind = args.route, args.target_kind
        group = self._target_group(
            f"{args.name}-tg-{kind}",
            target_group_name(self._args, kind, name_prefix=args.name_prefix),
            args,
            aliases=None if args.standby else [pulumi.Alias(name=f"{args.name}-tg")],
        )
        self._attached.append(_Attached(args, group))
        shift: TrafficShift | None = None
        ready: list[pulumi.Resource] = []
        if args.traffic_shift is not None:
            alternate = self._target_group(f"{args.name}-tg-alt", target_group_name(self._args, kind, "tg-alt", args.name_prefix), args)
            shift = shift_rules(
                args.name,
                alb=self._alb,
                serving_listener=self.listener,
                test=self._test_listener(args.traffic_shift),
                test_port=args.traffic_shift.test_listener_port,
                primary=group,
                alternate=alternate,
                priority=route.priority if route else self._catch_all_priority(),
                conditions=route.conditions() if route else [{"path_pattern": {"values": [ALL_PATHS]}}],
                test_host=route.host if route else None,
                path_prefix=route.path_prefix if route else "",
                tags=self._args.tags,
            )
            ready = [shift.production_rule, shift.test_rule]
            if route is not None:
                self._routed[route.priority] = (args.name, None, shift.production_rule)
        elif route is not None:
            ready = [self._route_rule(args.name, route)]
        if route is None:
            ready = [self.listener, *ready]
        return Attachment(
            url=self._url(route),
            listener=self.listener,
            ready=ready,
            alb_security_group_id=self.alb_security_group_id,
            load_balancer_arn_suffix=self.arn_suffix,
            target_group_arn=group.arn,
            target_group_arn_suffix=group.arn_suffix,
            traffic_shift=shift,
            route=route,
        )

    def _refuse_conflicts(self, args: AttachArgs) -> None:
        """One serving workload per route and priority (and one default); a standby shifts no traffic."""
        route, where = args.route, f"priority {args.route.priority}" if args.route else "the listener's default"
        priority = route.priority if route else None
        taken = [a.args.name for a in self._attached if a.args.standby == args.standby and (a.args.route.priority if a.args.route else None) == priority]
        if taken:
            raise ValueError(f"LoadBalancer.attach({args.name!r}): {taken[0]!r} already takes {where}; give each service a route and priority of its own")
        beside = [a.args.name for a in self._attached if a.args.route == route and a.args.standby != args.standby and (a.args.traffic_shift or args.traffic_shift)]
        if beside or (args.standby and args.traffic_shift is not None):
            raise ValueError(f"LoadBalancer.attach({args.name!r}): a standby workload shifts no traffic and stands by no workload that does ({where})")
        port = args.traffic_shift.test_listener_port if args.traffic_shift else None
        if port is not None and self._test is not None and self._test[0].test_listener_port != port:
            raise ValueError(f"LoadBalancer.attach({args.name!r}): test listener port {port}, but the one test listener is on {self._test[0].test_listener_port}")

    def _catch_all_priority(self) -> pulumi.Output[Any]:
        self._catch_all = self._later()
        return self._catch_all.output

    def _later(self) -> Late:
        late = Late()
        self._late.append(late)
        return late

    def _route_rule(self, stem: str, route: RouteArgs) -> pulumi.Resource:
        """A routed workload's rule: its route's conditions at its priority, forwarding to its target group (and a
        standby's, settled at the end of attaching). The first of the two to attach creates it. Named by its
        priority (attach.py: a new priority is a new rule, an exchange of priorities an update of each)."""
        existing = self._routed.get(route.priority)
        if existing is not None:
            return existing[2]
        actions = self._later()
        rule = aws.lb.ListenerRule(
            f"{self._name}-rule-{route.priority}",
            listener_arn=cast(aws.lb.Listener, self.listener).arn,
            priority=route.priority,
            actions=actions.output,
            conditions=route.conditions(),
            tags=self._args.tags,
            opts=pulumi.ResourceOptions(parent=self._alb),
        )
        self._routed[route.priority] = (stem, actions, rule)
        return rule

    def _settle(self) -> None:
        def groups(route: RouteArgs | None, standby: bool) -> list[aws.lb.TargetGroup]:
            return [a.target_group for a in self._attached if a.args.route == route and a.args.standby == standby]

        routes = {a.args.route for a in self._attached}
        for route in routes:
            serving, standby = groups(route, False), groups(route, True)
            if standby and not serving:
                where = f"priority {route.priority}" if route else "the listener's default"
                raise ValueError(f"LoadBalancer: a standby workload on {where} has no serving workload beside it; attach the serving one too")
            late = self._routed[route.priority][1] if route else None
            if late is not None:
                late.settle(forward(serving[0], standby))
        default, standby = groups(None, False), groups(None, True)
        self._default.settle(forward(default[0], standby) if default else [NOT_FOUND])
        if self._catch_all is not None:
            self._catch_all.settle(CATCH_ALL_AFTER_ROUTES if any(route is not None for route in routes) else CATCH_ALL_ALONE)

    def _url(self, route: RouteArgs | None) -> pulumi.Output[str]:
        """A routed workload's URL: its host (else the stack's), with its path prefix."""
        if route is None:
            return self.url
        return pulumi.Output.concat(self._scheme, route.host or self._args.service_domain or self._alb.dns_name, route.path_prefix)

    def _test_listener(self, args: TrafficShiftArgs) -> aws.lb.Listener:
        if self._test is None:
            self._test = (args, test_listener(self._name, args, alb=self._alb, alb_sg=self._alb_sg, tags=self._args.tags))
        return self._test[1]

    def _serving_listener(self, default_actions: pulumi.Input[Any]) -> aws.lb.Listener:
        args, name, in_alb = self._args, self._name, pulumi.ResourceOptions(parent=self._alb)
        if args.certificate_arn:
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self._alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[{"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}],
                tags=args.tags,
                opts=in_alb,
            )
            return aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=self._alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=default_actions,
                tags=args.tags,
                opts=in_alb,
            )
        return aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self._alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=default_actions,
            tags=args.tags,
            opts=in_alb,
        )

    def _target_group(self, resource_name: str, physical: str, args: AttachArgs, aliases: list[pulumi.Alias] | None = None) -> aws.lb.TargetGroup:
        """A target group of the workload's health check (a workload's, or a traffic-shifting strategy's
        alternate: ECS requires both to check health alike), tagged with its tags besides the stack's."""
        return aws.lb.TargetGroup(
            resource_name,
            name=physical,
            port=TARGET_GROUP_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=self._args.vpc_id,
            deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
            health_check={
                "path": args.health_check_path,
                "protocol": "HTTP",
                "matcher": "200",
                "interval": HEALTH_CHECK_INTERVAL_SECONDS,
                "timeout": 5,
                "healthy_threshold": HEALTHY_THRESHOLD,
                "unhealthy_threshold": 3,
            },
            tags={**self._args.tags, **args.target_group_tags},
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
        )
