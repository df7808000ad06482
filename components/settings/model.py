"""The settings object: immutable dataclasses, one per part of the stack, as `parse_settings` returns them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from components.settings.duration import WorstCase, worst_case
from components.settings.enums import CpuArchitecture, DeploymentStrategyKind, DeployTargetKind, EksLoadBalancing, NatGateways, SourceProvider
from components.settings.supply import SupplyChainSettings


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
    service_domain: str | None
    """The name clients use, serviceUrl's host (required with certificate_arn). None: the load balancer's DNS name."""
    hosted_zone_id: str | None
    """The Route 53 hosted zone the stack writes service_domain's alias record in. None: no record (the user points the name)."""
    alb_access_logs: bool
    """The ALB writes access logs to a stack-owned bucket."""
    waf: bool
    """A WAFv2 web ACL is created and associated with the ALB."""
    alb_deletion_protection: bool
    """The ALB's deletion protection is on: AWS refuses to delete it (a replacement or `pulumi destroy` stops)."""


@dataclass(frozen=True)
class CanaryJudgeSettings:
    """The canary judge's rules (canary and linear): the canary* keys, as functions/canary_judge.py's Rules take them."""

    metrics: tuple[str, ...]
    """'errors', 'latency' or both (canaryMetrics), in that order."""
    tolerance_percent: int
    """canaryTolerancePercent: how much worse than the old revision the new one may be, relative."""
    error_floor_percent: float
    """canaryErrorFloorPercent: a 5xx rate at or below it never fails."""
    latency_floor_ms: int
    """canaryLatencyFloorMs: a latency at or below it never fails."""
    min_requests: int
    """canaryMinRequests: requests each revision needs on the compared minutes for a verdict."""
    percentile: str
    """canaryLatencyPercentile: p95 or p99."""
    not_enough_traffic: str
    """canaryNotEnoughTraffic: continue or rollback, at the last traffic shift."""

    def rules_json(self) -> dict:
        """The hook's RULES environment (functions/canary_judge.py, Rules.from_json)."""
        return {
            "metrics": list(self.metrics),
            "tolerancePercent": self.tolerance_percent,
            "errorFloorPercent": self.error_floor_percent,
            "latencyFloorMs": self.latency_floor_ms,
            "minRequests": self.min_requests,
            "percentile": self.percentile,
            "notEnoughTraffic": self.not_enough_traffic,
        }


@dataclass(frozen=True)
class DeploymentStrategySettings:
    """How ECS moves the service to a new revision (deploymentStrategy and the keys of its strategy).

    Every field holds its key's value whichever strategy `kind` is; the settings refuse a key set for a
    strategy that does not use it, so a field `kind` does not use holds its key's default.
    """

    kind: DeploymentStrategyKind
    """ROLLING, BLUE_GREEN, CANARY or LINEAR (never AUTO: resolved against `production`)."""
    canary_percent: float
    """CANARY: percent of production traffic on the new revision during the canary bake (a multiple of 0.1)."""
    canary_bake_minutes: int
    """CANARY: minutes at canary_percent before the rest of the traffic moves."""
    linear_step_percent: float
    """LINEAR: percent of production traffic moved per shift (a multiple of 0.1)."""
    linear_step_bake_minutes: int
    """LINEAR: minutes between two shifts (none after the last)."""
    bake_minutes: int
    """BLUE_GREEN, CANARY, LINEAR: ECS's final bake (the service's bakeTimeInMinutes), both revisions
    running after all traffic has moved. Not the pipeline's bake (SafetySettings.bake_time_minutes)."""
    smoke_test_paths: tuple[str, ...]
    """BLUE_GREEN, CANARY, LINEAR: paths the smoke-test hook requests on the test listener, besides the
    health check path."""
    test_listener_port: int
    """BLUE_GREEN, CANARY, LINEAR: the ALB port of the test listener."""
    test_listener_cidrs: tuple[str, ...]
    """BLUE_GREEN, CANARY, LINEAR: who may reach the test listener besides the smoke-test hook (empty: nobody)."""
    judge: CanaryJudgeSettings | None = None
    """CANARY, LINEAR: the canary judge's rules. Omitted (None; rolling and blue-green, which never serve two revisions
    on the same production minutes): no judge hook."""

    @property
    def worst_case(self) -> WorstCase:
        """How long one deployment can take at worst, step by step (components/settings/duration.py)."""
        return worst_case(
            self.kind,
            canary_percent=self.canary_percent,
            canary_bake_minutes=self.canary_bake_minutes,
            linear_step_percent=self.linear_step_percent,
            linear_step_bake_minutes=self.linear_step_bake_minutes,
            bake_minutes=self.bake_minutes,
            judged=self.judge is not None,
        )


@dataclass(frozen=True)
class EcsSettings:
    cpu: int
    memory: int
    strategy: DeploymentStrategySettings
    """How ECS deploys a new revision, and how long that can take (`strategy.worst_case`)."""


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
class Routing:
    """Which requests the load balancer sends to a service (its `hosts` and `paths` in `services`): ALB host-header
    and path-pattern conditions; a request matches when it matches every condition given (a host of `hosts` and a
    pattern of `paths`)."""

    hosts: tuple[str, ...] = ()
    """Host names (host-header values, `*` and `?` wildcards allowed). Omitted or empty: any host."""
    paths: tuple[str, ...] = ()
    """Path patterns (path-pattern values, e.g. '/api/*'). Omitted or empty: any path."""


@dataclass(frozen=True)
class ServiceSettings:
    """One service of the stack: an entry of `services`, or the stack itself when it has no `services` key."""

    name: str
    """The service's name: its physical names' prefix is '<project>-<stack>-<name>'."""
    settings: Settings
    """The whole settings as this service sees them: `service_name` is `name` and its own keys are applied over the
    stack's top-level values (which are every service's defaults). Its `services` is empty."""
    routing: Routing | None
    """None: the listener's default action (at most one service); else the service's listener rule."""
    priority: int | None
    """The listener rule's priority (lower is evaluated first); None for the default service."""
    implicit: bool = False
    """True: the stack has no `services` key; this is its one service, with the logical names stacks had before
    `services` existed (so their URNs are unchanged). Omitted: False, an entry of `services`."""


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    deploy_target: DeployTargetKind
    next_deploy_target: DeployTargetKind | None
    """The target brought up beside deploy_target for a switch (nextDeployTarget); None: none."""
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
    """Set only when deploy_target or next_deploy_target is ECS."""
    tags: Mapping[str, str]
    safety: SafetySettings
    services: tuple[ServiceSettings, ...]
    """The `services` list, in its order. Empty: the stack is one service (see `service_list`)."""
    eks: EksSettings | None = None
    """Set only when deploy_target or next_deploy_target is EKS. Omitted: None (no EKS settings, as for ECS)."""
    promotion: PromotionSettings = PromotionSettings(promote_from=None, promote_from_account=None, promote_to_accounts=())
    """Promotion between stacks. Omitted: the stack builds and shares with no other account."""
    supply: SupplyChainSettings = SupplyChainSettings(threshold=None, signing=False)
    """The supply-chain gate (scan threshold, image signing). Omitted: no gate (as with both keys off)."""

    def for_next_target(self) -> Settings:
        """The settings the next target is built from: its own part, as if it were the deploy target. (Its ECS
        part, parsed while EKS is the target, deploys with a rolling update.)"""
        assert self.next_deploy_target is not None, "for_next_target of a stack without nextDeployTarget"
        return replace(self, deploy_target=self.next_deploy_target, next_deploy_target=None)

    @property
    def service_list(self) -> tuple[ServiceSettings, ...]:
        """Every service the stack runs: the `services` entries, or the stack itself as its one implicit service."""
        return self.services or (ServiceSettings(name=self.service_name, settings=self, routing=None, priority=None, implicit=True),)

    @property
    def promotes(self) -> bool:
        """The stack deploys images another stack built and verified, instead of building its own."""
        return self.promotion.promote_from is not None

    @property
    def prefix(self) -> str:
        """Physical-name prefix: unique per project, stack and service in one account and region."""
        return f"{self.project}-{self.stack}-{self.service_name}"


T = TypeVar("T")


def own_settings(value: T | None, settings: Settings) -> T:
    """A target's own part of the settings, which parse_settings sets exactly when deployTarget names
    the target; refuses to build a target from another target's settings."""
    if value is None:
        raise ValueError(f"deployTarget is {settings.deploy_target.value!r}: this target's settings are not parsed for it")
    return value
