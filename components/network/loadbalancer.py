"""Load balancer: the internet-facing ALB, its listeners and the target group in front of the service.

One per stack, outside the deploy target, so ECS tasks and EKS pods sit behind the same, equally tuned
ALB, report the same CloudWatch metrics (AWS/ApplicationELB) to the alarms and the dashboard, and a
switch of `deployTarget` keeps the load balancer and the service URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.naming import variant_name
from components.network.access_logs import LOG_PREFIX, access_log_bucket
from components.network.dns import alias_record
from components.network.traffic_shift import TrafficShift, TrafficShiftArgs, traffic_shift
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
    """Physical-name prefix (project-stack-service) of the load balancer and target group."""
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer, its security group and target group."""
    public_subnet_ids: pulumi.Input[list[str]]
    """Subnets of the internet-facing load balancer (two AZs at least)."""
    health_check_path: str
    """Path the target group's health check requests."""
    network_variant: str
    """What identifies the VPC (an existing VPC's id, or the CIDR of a created one): a new VPC replaces
    the load balancer and target group, so their names carry it (see `variant_name`)."""
    target_kind: str
    """The deploy target whose tasks or pods the target group holds: switching targets gives the new
    target a target group of its own, so the old one drains and goes with the old target."""
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
    target_group_tags: dict[str, str] = field(default_factory=dict)
    """Tags the deploy target needs on its target group (EKS Auto Mode registers pods only in target
    groups tagged with its cluster's name). Omitted: the stack's tags only."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""
    traffic_shift: TrafficShiftArgs | None = None
    """When set (ECS blue-green, canary, linear): a second target group, the production listener rule ECS
    re-weights between the two, and the test listener. Omitted: one target group behind the listener's
    default action (a rolling update)."""
    next_target: NextTargetArgs | None = None
    """When set (nextDeployTarget): a target group for the next deploy target, in the listener's default
    action with weight 0, so it gets no production traffic but its targets are health-checked (and ECS,
    which requires a target group the load balancer uses, can register in it). Omitted: none."""


@dataclass(frozen=True)
class NextTargetArgs:
    kind: str
    """The next deploy target (nextDeployTarget): names its target group."""
    target_group_tags: dict[str, str] = field(default_factory=dict)
    """Tags that target needs on its target group. Omitted: the stack's tags only."""


@dataclass(frozen=True)
class LoadBalancerView:
    """What a deploy target sees of the load balancer: the shared parts and its own target group."""

    url: pulumi.Output[str]
    listener: aws.lb.Listener
    """The listener whose default action names the target group (depend on it before registering targets)."""
    alb_security_group_id: pulumi.Output[str]
    load_balancer_arn_suffix: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    traffic_shift: TrafficShift | None
    """Blue-green, canary, linear: the alternate target group, the rules and the test listener; else None."""


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
# For the security group rules that open the container port between the load balancer and the tasks or
# pods: a new port replaces them, so the new port's rule is created before the old one is deleted (at the
# end of `pulumi up`, https://www.pulumi.com/docs/iac/concepts/options/replaceonchanges/) and what runs on
# the old port stays reachable until what runs on the new one is.
CONTAINER_PORT_RULE = pulumi.ResourceOptions(replace_on_changes=["from_port", "to_port"])


def load_balancer_name(args: LoadBalancerArgs) -> str:
    # ALB names are at most 32 characters. internal and load_balancer_type, its other replace-only
    # inputs, never change here.
    return variant_name(args.name_prefix, "alb", 32, {"network": args.network_variant}, {"network": DEFAULT_NETWORK_VARIANT})


def target_group_name(args: LoadBalancerArgs, suffix: str = "tg", target_kind: str | None = None) -> str:
    """`suffix` "tg-alt": the alternate target group of a traffic-shifting strategy, named by the same variant
    as the primary, so a change that replaces one replaces both under new names. `target_kind`: the target
    whose group it is (omitted: the deploy target's)."""
    # Target group names are at most 32 characters; vpc_id and target_type are replace-only. The port is
    # TARGET_GROUP_PORT for every stack; it stays in the variant so that names keep their hashes.
    variant = {"network": args.network_variant, "port": str(TARGET_GROUP_PORT), "target": target_kind or args.target_kind}
    default = {"network": DEFAULT_NETWORK_VARIANT, "port": str(DEFAULT_CONTAINER_PORT), "target": DEFAULT_TARGET_KIND}
    return variant_name(args.name_prefix, suffix, 32, variant, default)


class LoadBalancer(pulumi.ComponentResource):
    """The stack's internet-facing ALB, its listeners and the deploy target's target group.

    It belongs to the stack, not to a deploy target: switching `deployTarget` keeps the load balancer
    and its URL, and replaces only the target group. Targets add their own security group rules from
    `alb_security_group_id` to their tasks or pods.

    Each target's target group is named for it (`<name>-tg-ecs`, `<name>-tg-eks`), so that during a switch
    (`LoadBalancerArgs.next_target`) both exist side by side and each keeps its state when the next target
    becomes the deploy target; the deploy target's answers to the name it had before (`<name>-tg`).

    Outputs: `url`, `dns_name` (the load balancer's own, which serviceDomain points at), `serving` (the deploy
    target's `LoadBalancerView`), `next` (the next target's, or None).
    """

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:network:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description="Load balancer: listeners from the allowed CIDRs",
            vpc_id=args.vpc_id,
            tags=args.tags,
            opts=child,
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
        target_group = self._target_group(f"{name}-tg-{args.target_kind}", target_group_name(args), args.target_group_tags, args, aliases=[pulumi.Alias(name=f"{name}-tg")])
        forward: list[aws.lb.ListenerDefaultActionArgsDict] = [{"type": "forward", "target_group_arn": target_group.arn}]
        next_group: aws.lb.TargetGroup | None = None
        if args.next_target is not None:
            kind = args.next_target.kind
            next_group = self._target_group(f"{name}-tg-{kind}", target_group_name(args, target_kind=kind), args.next_target.target_group_tags, args)
            # Weight 0: no request reaches it, but a target group in a listener action is health-checked
            # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html).
            weights: list[aws.lb.ListenerDefaultActionForwardTargetGroupArgsDict] = [{"arn": target_group.arn, "weight": 100}, {"arn": next_group.arn, "weight": 0}]
            forward = [{"type": "forward", "forward": {"target_groups": weights}}]
        in_alb = pulumi.ResourceOptions(parent=alb)
        if args.certificate_arn:
            listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=forward,
                tags=args.tags,
                opts=in_alb,
            )
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[{"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}],
                tags=args.tags,
                opts=in_alb,
            )
        else:
            listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward,
                tags=args.tags,
                opts=in_alb,
            )
        # Blue-green, canary, linear: the second target group and the listener rules ECS shifts traffic with.
        self.traffic_shift: TrafficShift | None = None
        if args.traffic_shift is not None:
            alternate = self._target_group(f"{name}-tg-alt", target_group_name(args, "tg-alt"), args.target_group_tags, args)
            self.traffic_shift = traffic_shift(
                name, args.traffic_shift, alb=alb, alb_sg=alb_sg, serving_listener=listener, primary=target_group, alternate=alternate, tags=args.tags
            )
        scheme = "https://" if args.certificate_arn else "http://"
        # The certificate covers serviceDomain, never the load balancer's own *.elb.amazonaws.com name.
        self.url = pulumi.Output.concat(scheme, args.service_domain or alb.dns_name)
        self.dns_name = alb.dns_name
        if args.service_domain and args.hosted_zone_id:
            alias_record(name, domain=args.service_domain, zone_id=args.hosted_zone_id, alb=alb, parent=self)

        def view(group: aws.lb.TargetGroup, shift: TrafficShift | None) -> LoadBalancerView:
            return LoadBalancerView(self.url, listener, alb_sg.id, alb.arn_suffix, group.arn, group.arn_suffix, shift)

        self.serving = view(target_group, self.traffic_shift)
        self.next = view(next_group, None) if next_group is not None else None
        self.register_outputs({"url": self.url, "dns_name": self.dns_name, "target_group_arn": target_group.arn})

    def _target_group(self, resource_name: str, physical: str, tags: dict[str, str], args: LoadBalancerArgs, aliases: list[pulumi.Alias] | None = None) -> aws.lb.TargetGroup:
        """A target group of the service's health check (a target's, or a traffic-shifting strategy's
        alternate: ECS requires both to check health alike), tagged with `tags` besides the stack's."""
        return aws.lb.TargetGroup(
            resource_name,
            name=physical,
            port=TARGET_GROUP_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.vpc_id,
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
            tags={**args.tags, **tags},
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
        )
