"""The stack's settings as the arguments of the components that take them: each component takes its own arguments
(pulumi-awsx components and CDK constructs do the same), and this module is where `Settings` is read for them."""

from __future__ import annotations

import pulumi

from components.network.egress import hook_egress_addresses
from components.network.vpc import NetworkArgs
from components.settings import DeployTargetKind, Settings


def network_args(settings: Settings, log_key_arn: pulumi.Input[str]) -> NetworkArgs:
    """The network every deploy target builds on, from the stack's settings; `log_key_arn`: the stack's
    CloudWatch Logs key."""
    net = settings.network
    return NetworkArgs(
        vpc_cidr=net.vpc_cidr,
        nat_gateways=net.nat_gateways,
        existing_vpc_id=net.vpc_id,
        existing_public_subnet_ids=net.public_subnet_ids,
        existing_private_subnet_ids=net.private_subnet_ids,
        flow_log_group_prefix=f"/aws/vpc/{settings.prefix}-flow-logs-",
        log_retention_days=settings.log_retention_days,
        log_key_arn=log_key_arn,
        tags=dict(settings.tags),
    )


def hook_sources(settings: Settings) -> tuple[str, ...]:
    """With vpcId and an ECS strategy that shifts traffic: the addresses the test port opens to for the
    smoke-test hook (hook_egress_addresses). Otherwise none: a created VPC's NAT gateways are the network's
    own outputs, and rolling and EKS have no test listener."""
    ecs = settings.ecs
    vpc_id = settings.network.vpc_id
    if not vpc_id or settings.deploy_target is not DeployTargetKind.ECS or ecs is None or not ecs.strategy.kind.shifts_traffic:
        return ()
    return hook_egress_addresses(vpc_id, settings.network.private_subnet_ids, ecs.strategy.test_listener_cidrs)
