"""Load balancer: the internet-facing ALB, target group and security groups in front of a service.

Shared by the deploy targets, so ECS tasks and EKS pods sit behind the same, equally tuned ALB and
report the same CloudWatch metrics (AWS/ApplicationELB) to the alarms and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_aws as aws

from components.contracts import DeployInputs
from components.naming import physical_name
from components.network import Network

# ALB target-group health check: healthy after 2 passing checks 10 s apart, i.e. within 20 s.
HEALTH_CHECK_INTERVAL_SECONDS = 10
HEALTHY_THRESHOLD = 2
# The ALB default deregistration delay is 300 s; 30 s keeps rolling deploys short.
DEREGISTRATION_DELAY_SECONDS = 30
# TLS 1.3 with a TLS 1.2 floor, the ELB policy AWS recommends.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class LoadBalancerArgs:
    name_prefix: str
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[list[str]]
    container_port: int
    health_check_path: str
    ingress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    """Who may reach the listeners. Defaults to everyone: the service is public."""
    certificate_arn: str | None = None
    """When set: HTTPS on 443 with this ACM certificate and HTTP redirected to it. Omitted: HTTP only."""
    production: bool = False
    """When True, deletion protection is on."""
    tags: dict[str, str] = field(default_factory=dict)


class ServiceTargetArgs(Protocol):
    """What a deploy target's Args carry for its load balancer (EcsTargetArgs, EksTargetArgs)."""

    name_prefix: str
    inputs: DeployInputs
    ingress_cidrs: tuple[str, ...]
    certificate_arn: str | None


class LoadBalancer(pulumi.ComponentResource):
    """Outputs: `url`, `target_group_arn`, `service_security_group_id` (for the tasks or pods),
    `listener` (depend on it before registering targets), `load_balancer_arn_suffix`,
    `target_group_arn_suffix` (CloudWatch dimensions)."""

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
        service_sg = aws.ec2.SecurityGroup(
            f"{name}-service-sg",
            description="Service: the container port from the load balancer only",
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
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-to-service",
            security_group_id=alb_sg.id,
            description="To the service's container port",
            ip_protocol="tcp",
            from_port=args.container_port,
            to_port=args.container_port,
            referenced_security_group_id=service_sg.id,
            opts=pulumi.ResourceOptions(parent=alb_sg),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-service-from-alb",
            security_group_id=service_sg.id,
            description="Container port from the load balancer",
            ip_protocol="tcp",
            from_port=args.container_port,
            to_port=args.container_port,
            referenced_security_group_id=alb_sg.id,
            opts=pulumi.ResourceOptions(parent=service_sg),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-service-https-out",
            security_group_id=service_sg.id,
            # ECR, CloudWatch Logs and the app's own AWS calls, through the NAT gateway.
            description="HTTPS to AWS APIs and the registry",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            opts=pulumi.ResourceOptions(parent=service_sg),
        )
        # ALB and target group names are at most 32 characters.
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=physical_name(args.name_prefix, "alb", 32),
            load_balancer_type="application",
            internal=False,
            security_groups=[alb_sg.id],
            subnets=args.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.production,
            tags=args.tags,
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            name=physical_name(args.name_prefix, "tg", 32),
            port=args.container_port,
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
            tags=args.tags,
            opts=child,
        )
        forward = [{"type": "forward", "target_group_arn": target_group.arn}]
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
                default_actions=[
                    {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}
                ],
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
        scheme = "https://" if args.certificate_arn else "http://"
        self.url = pulumi.Output.concat(scheme, alb.dns_name)
        self.listener = listener
        self.target_group_arn = target_group.arn
        self.service_security_group_id = service_sg.id
        self.alb_security_group_id = alb_sg.id
        self.load_balancer_arn_suffix = alb.arn_suffix
        self.target_group_arn_suffix = target_group.arn_suffix
        self.register_outputs({"url": self.url, "target_group_arn": self.target_group_arn})

    @classmethod
    def for_service(cls, name: str, target: ServiceTargetArgs, network: Network, opts: pulumi.ResourceOptions) -> LoadBalancer:
        """The load balancer of a deploy target: public subnets of its network, its workload's port and health path."""
        workload = target.inputs.workload
        return cls(
            name,
            LoadBalancerArgs(
                name_prefix=target.name_prefix,
                vpc_id=network.vpc_id,
                public_subnet_ids=network.public_subnet_ids,
                container_port=workload.container_port,
                health_check_path=workload.health_check_path,
                ingress_cidrs=target.ingress_cidrs,
                certificate_arn=target.certificate_arn,
                production=target.inputs.production,
                tags=target.inputs.tags,
            ),
            opts=opts,
        )
