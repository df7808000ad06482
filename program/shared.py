"""The stack's shared parts: built once from the stack-level settings (top-level keys), whatever its services.

Logs key, artifacts, records, network, load balancer, audit trail, notification topic, and in a stack of several
services the ECS or EKS cluster they share. Their logical names and physical names (from the stack's prefix,
project-stack-serviceName) are the ones a stack of one service has always had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.aws_context import AwsContext
from components.contracts import SharedCluster, StepContext
from components.delivery.artifacts import ArtifactStore, ArtifactStoreArgs
from components.delivery.source import Source
from components.deploy import moved_out_of_target
from components.deploy.ecs.cluster import ecs_cluster
from components.deploy.ecs.target import TYPE as ECS_TARGET_TYPE
from components.deploy.eks.cluster import ControlPlaneLogs
from components.deploy.eks.shared_cluster import EksCluster, EksClusterArgs
from components.logs import LogsKey, LogsKeyArgs
from components.naming import physical_name
from components.network.loadbalancer import LoadBalancer, LoadBalancerArgs
from components.network.vpc import Network
from components.promotion.share import records_key_policy
from components.safety.audit import AuditTrail, AuditTrailArgs
from components.safety.notifications import Notifications, NotificationsArgs
from components.settings import DeployTargetKind, Settings
from components.supply.records import Records, RecordsArgs
from program.args import hook_sources, network_args
from program.origin import source_args
from program.targets import network_variant


@dataclass(frozen=True)
class SharedParts:
    """What every service of the stack builds on."""

    settings: Settings
    """The stack-level settings (top-level keys)."""
    logs_key: LogsKey
    artifacts: ArtifactStore
    records: Records | None
    """SBOMs and scan verdicts by digest (None: the supply-chain gate does not scan)."""
    network: Network
    load_balancer: LoadBalancer
    """Each service's target attaches itself to it (inside `load_balancer.attaching()`)."""
    hook_source_ips: Sequence[pulumi.Input[str]]
    """Where the stack's functions reach the load balancer from (a traffic-shifting target's test port opens to them)."""
    notifications: Notifications
    """The one delivery topic; each service routes its own rules to it (`Notifications.route`)."""
    ecs_cluster: SharedCluster | None
    """The ECS cluster the services share: only in a stack of several services on ECS (a stack of one service keeps
    the cluster its target creates)."""
    eks_cluster: EksCluster | None
    """The EKS cluster the services share (created, or eksClusterName's): only in a stack of several services on EKS."""
    source: Source | None = None
    """The repository (or connection) the services' pipelines share: only in a building stack of several services (a
    stack of one service creates its source in its image origin, as it always has)."""

    def step_context(self, settings: Settings) -> StepContext:
        """What a pipeline step of a service (its settings) runs with: the stack's logs key and artifacts, its tags."""
        return StepContext(
            log_retention_days=settings.log_retention_days,
            log_key_arn=self.logs_key.key_arn,
            artifact_statements=self.artifacts.read_write_statements(),
            artifact_key_arn=self.artifacts.key_arn,
            tags=dict(settings.tags),
        )


def build_shared(settings: Settings) -> SharedParts:
    tags = dict(settings.tags)
    # In an existing VPC, the addresses the smoke-test hook reaches the test listener from: read from the VPC
    # before anything is created, so a VPC the stack cannot read them from is refused first.
    existing_vpc_hook_sources = hook_sources(settings)

    # Every log group the stack creates is encrypted with this one key. It belongs to the stack, so a
    # deployTarget switch keeps it (and the old target's kept log groups readable).
    logs_key = LogsKey("logs", LogsKeyArgs(production=settings.production, tags=tags))
    artifacts = ArtifactStore(
        "artifacts",
        ArtifactStoreArgs(expiry_days=settings.artifact_expiry_days, production=settings.production, tags=tags),
    )
    # SBOMs and scan verdicts by digest, kept as long as the deployment records that name them.
    records = (
        Records(
            "records",
            RecordsArgs(
                expiry_days=settings.log_retention_days,
                key_arn=artifacts.key_arn,
                production=settings.production,
                reader_accounts=settings.promotion.promote_to_accounts,
                tags=tags,
                # Named by the stack (S3's bucket_prefix takes at most 37 characters; the provider appends 26).
                bucket_prefix=physical_name(settings.prefix, "records", 36) + "-",
            ),
        )
        if settings.supply.scans
        else None
    )
    # The records' evidence, which the promotion contracts name: the accounts promoted to read it (one key policy).
    accounts = settings.promotion.promote_to_accounts
    if records is not None and accounts and not settings.promotes:
        records_key_policy("records-key-policy", artifacts.key_id, records.bucket_arn, accounts, AwsContext(records), records)

    # The network and the load balancer belong to the stack, not to the deploy target: switching
    # deployTarget keeps the VPC, the ALB and the service URL. (They were the target's children before.)
    network = Network("deploy-network", network_args(settings, logs_key.key_arn), opts=pulumi.ResourceOptions(aliases=moved_out_of_target("deploy")))
    load_balancer = LoadBalancer(
        "deploy-lb",
        LoadBalancerArgs(
            name_prefix=settings.prefix,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            network_variant=settings.network.vpc_id or f"created:{settings.network.vpc_cidr}",
            ingress_cidrs=settings.network.ingress_cidrs,
            certificate_arn=settings.network.certificate_arn,
            service_domain=settings.network.service_domain,
            hosted_zone_id=settings.network.hosted_zone_id,
            production=settings.production,
            deletion_protection=settings.network.alb_deletion_protection,
            access_log_expiry_days=settings.log_retention_days if settings.network.alb_access_logs else None,
            waf=settings.network.waf,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(aliases=moved_out_of_target("deploy")),
    )

    safety = settings.safety
    notifications = Notifications(
        "notifications",
        NotificationsArgs(
            topic_name=physical_name(settings.prefix, "delivery", 256),
            emails=safety.notification_emails,
            https_endpoints=safety.notification_https_endpoints,
            tags=tags,
        ),
    )

    if safety.audit_trail:
        AuditTrail(
            "audit",
            AuditTrailArgs(
                trail_name=physical_name(settings.prefix, "trail", 128),
                log_retention_days=settings.log_retention_days,
                log_key_arn=logs_key.key_arn,
                production=settings.production,
                tags=tags,
            ),
        )
    shared_cluster = bool(settings.services)
    # One monorepo for all services: its one repository (or connection), named "source" as a single service's was.
    source = Source("source", source_args(settings)) if settings.services and not settings.promotes else None
    return SharedParts(
        settings=settings,
        logs_key=logs_key,
        artifacts=artifacts,
        records=records,
        network=network,
        load_balancer=load_balancer,
        hook_source_ips=[*network.nat_public_ips, *existing_vpc_hook_sources],
        notifications=notifications,
        ecs_cluster=_ecs_cluster(settings, tags) if shared_cluster and settings.deploy_target == DeployTargetKind.ECS else None,
        eks_cluster=_eks_cluster(settings, network, logs_key, tags) if shared_cluster and settings.deploy_target == DeployTargetKind.EKS else None,
        source=source,
    )


def _ecs_cluster(settings: Settings, tags: dict[str, str]) -> SharedCluster:
    """The services' one cluster, named as a stack of one service names its cluster: a stack that moves to `services`
    keeps its cluster (the alias names it as its single service's target's child)."""
    name = physical_name(settings.prefix, "cluster", 255)
    previous = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{ECS_TARGET_TYPE}::deploy"
    return SharedCluster(name, ecs_cluster("deploy-cluster", name, tags, pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=previous)])))


def _eks_cluster(settings: Settings, network: Network, logs_key: LogsKey, tags: dict[str, str]) -> EksCluster | None:
    """The services' one cluster: created (its name and its resources' names as a stack of one service had them, so a
    stack that moves to `services` keeps them, see `_adopt_target_children`) or the existing eksClusterName."""
    eks = settings.eks
    if eks is None:
        return None
    return EksCluster(
        "eks",
        EksClusterArgs(
            name_prefix=settings.prefix,
            kubernetes_version=eks.kubernetes_version,
            network_variant=network_variant(settings),
            public_access_cidrs=eks.public_access_cidrs,
            subnet_ids=network.private_subnet_ids,
            logs=ControlPlaneLogs(retention_days=settings.log_retention_days, key_arn=logs_key.key_arn, production=settings.production),
            tags=tags,
            existing_cluster_name=eks.cluster_name,
        ),
        opts=pulumi.ResourceOptions(transformations=[_adopt_target_children("eks", "container-cicd:deploy:EksTarget")]),
    )


def _adopt_target_children(name: str, target_type: str) -> pulumi.ResourceTransformation:
    """In a stack of one service, the cluster's resources were children of its target component `deploy`
    (`deploy-cluster`, `deploy-node-role`, `deploy-alb-to-pods`, ...); as the stack's they are `<name>-...` children of
    the stack's cluster component. Each carries an alias to its former name and parent, so a stack that moves to
    `services` keeps its cluster (an alias that names nothing in the state is ignored)."""
    previous = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{target_type}::deploy"
    stem = f"{name}-"

    def adopt(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.name.startswith(stem) or args.resource is None:
            return None
        former = f"deploy-{args.name[len(stem) :]}"
        # A direct child names the former parent; a deeper one is aliased under its own parent's former URN.
        direct = isinstance(args.opts.parent, EksCluster) if args.opts is not None else False
        alias = pulumi.Alias(name=former, parent=previous) if direct else pulumi.Alias(name=former)
        return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(aliases=[alias])))

    return adopt
