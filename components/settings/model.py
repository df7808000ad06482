"""The settings object: immutable dataclasses, one per part of the stack, as `parse_settings` returns them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.settings.enums import CpuArchitecture, DeployTargetKind, EksLoadBalancing, NatGateways, SourceProvider


@dataclass(frozen=True)
class SourceSettings:
    provider: SourceProvider
    repository: str
    create_repository: bool
    branch: str
    connection_arn: str | None
    file_paths: tuple[str, ...]


@dataclass(frozen=True)
class WorkloadSettings:
    """The container contract shared by the build, both deploy targets and the load balancer."""

    container_name: str
    container_port: int
    health_check_path: str
    bootstrap_image: str
    desired_count: int
    deployment_timeout_minutes: int


@dataclass(frozen=True)
class RegistrySettings:
    image_retention_count: int
    untagged_image_expiry_days: int


@dataclass(frozen=True)
class BuildSettings:
    app_path: str
    architecture: CpuArchitecture
    compute_type: str
    timeout_minutes: int


@dataclass(frozen=True)
class NetworkSettings:
    vpc_id: str | None
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    vpc_cidr: str
    nat_gateways: NatGateways
    ingress_cidrs: tuple[str, ...]
    certificate_arn: str | None
    alb_access_logs: bool
    """The ALB writes access logs to a stack-owned bucket."""
    waf: bool
    """A WAFv2 web ACL is created and associated with the ALB."""


@dataclass(frozen=True)
class EcsSettings:
    cpu: int
    memory: int


@dataclass(frozen=True)
class AlarmThresholds:
    error_rate_percent: int
    latency_p95_ms: int
    unhealthy_targets: int
    cpu_percent: int
    memory_percent: int


@dataclass(frozen=True)
class SafetySettings:
    """Notifications, alarms, gates and audit (issue 4)."""

    notification_emails: tuple[str, ...]
    notification_https_endpoints: tuple[str, ...]
    thresholds: AlarmThresholds
    manual_approval: bool
    bake_time_minutes: int
    deployment_window_cron: str | None
    deployment_window_time_zone: str
    block_deploy_while_alarming: bool
    audit_trail: bool


@dataclass(frozen=True)
class EksSettings:
    cluster_name: str | None
    """An existing cluster to deploy into; None: the stack creates one."""
    kubernetes_version: str
    public_access_cidrs: tuple[str, ...]
    """Empty: the API endpoint is private only."""
    load_balancing: EksLoadBalancing
    pod_cpu_millicores: int
    pod_memory_mib: int


@dataclass(frozen=True)
class PromotionSettings:
    """Build once, promote by digest: where a promoting stack's images come from, and which other
    accounts may promote from a building stack."""

    promote_from: str | None
    """The upstream stack as configured: a stack name of this project, or 'organization/project/stack'.
    None: this stack builds its images from source."""
    promote_from_account: str | None
    """The upstream stack's AWS account when it is not this stack's. None: the same account."""
    promote_to_accounts: tuple[str, ...]
    """Accounts of downstream stacks that promote from this (building) stack. Empty: none in another
    account (a downstream stack in this account needs no grant)."""

    def stack_reference(self, organization: str, project: str) -> str:
        """The upstream's fully qualified stack name, as a StackReference takes it."""
        assert self.promote_from is not None, "stack_reference of a stack that builds"
        return self.promote_from if "/" in self.promote_from else f"{organization}/{project}/{self.promote_from}"


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    deploy_target: DeployTargetKind
    production: bool
    service_name: str
    source: SourceSettings
    workload: WorkloadSettings
    registry: RegistrySettings
    build: BuildSettings
    network: NetworkSettings
    log_retention_days: int
    artifact_expiry_days: int
    ecs: EcsSettings | None
    """Set only when deploy_target is ECS."""
    tags: Mapping[str, str]
    safety: SafetySettings
    eks: EksSettings | None = None
    """Set only when deploy_target is EKS. Omitted: None (no EKS settings, as for ECS)."""
    promotion: PromotionSettings = PromotionSettings(promote_from=None, promote_from_account=None, promote_to_accounts=())
    """Promotion between stacks. Omitted: the stack builds and shares with no other account."""

    @property
    def promotes(self) -> bool:
        """The stack deploys images another stack built and verified, instead of building its own."""
        return self.promotion.promote_from is not None

    @property
    def prefix(self) -> str:
        """Physical-name prefix: unique per project, stack and service in one account and region."""
        return f"{self.project}-{self.stack}-{self.service_name}"
