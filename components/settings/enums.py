"""The closed sets of values keys name (StrEnums), and what each value means to AWS."""

from __future__ import annotations

from enum import StrEnum


class DeployTargetKind(StrEnum):
    ECS = "ecs"
    EKS = "eks"


class SourceProvider(StrEnum):
    CODECOMMIT = "codecommit"
    GITHUB = "github"
    BITBUCKET = "bitbucket"
    GITLAB = "gitlab"

    @property
    def uses_connection(self) -> bool:
        return self is not SourceProvider.CODECOMMIT

    @property
    def connection_provider_type(self) -> str:
        """The ProviderType of an AWS CodeConnections connection for this host."""
        return {"github": "GitHub", "bitbucket": "Bitbucket", "gitlab": "GitLab"}[self.value]


class CpuArchitecture(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"

    @property
    def codebuild_environment_type(self) -> str:
        return "LINUX_CONTAINER" if self is CpuArchitecture.X86_64 else "ARM_CONTAINER"

    @property
    def codebuild_image(self) -> str:
        # Curated Amazon Linux 2023 images; both ship Docker and Python 3.12.
        # https://docs.aws.amazon.com/codebuild/latest/userguide/ec2-compute-images.html
        if self is CpuArchitecture.X86_64:
            return "aws/codebuild/amazonlinux-x86_64-standard:5.0"
        return "aws/codebuild/amazonlinux-aarch64-standard:3.0"

    @property
    def ecs_cpu_architecture(self) -> str:
        return "X86_64" if self is CpuArchitecture.X86_64 else "ARM64"


class EksLoadBalancing(StrEnum):
    AUTO_MODE = "auto-mode"
    AWS_LOAD_BALANCER_CONTROLLER = "aws-load-balancer-controller"

    @property
    def target_group_binding_api_version(self) -> str:
        # EKS Auto Mode serves TargetGroupBinding in its own API group; the open-source controller
        # in elbv2.k8s.aws. https://docs.aws.amazon.com/eks/latest/userguide/auto-multi-cluster-target-groups.html
        if self is EksLoadBalancing.AUTO_MODE:
            return "eks.amazonaws.com/v1"
        return "elbv2.k8s.aws/v1beta1"


class Toggle(StrEnum):
    """A feature that follows `production` unless set explicitly."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"

    def resolve(self, production: bool) -> bool:
        return production if self is Toggle.AUTO else self is Toggle.ON


class NatGateways(StrEnum):
    SINGLE = "single"
    ONE_PER_AZ = "one-per-az"


class DeploymentStrategyKind(StrEnum):
    """How ECS moves a service to a new revision (its service `deploymentConfiguration.strategy`).

    AUTO follows `production`: a canary in production, a rolling update otherwise (`resolve`).
    """

    AUTO = "auto"
    ROLLING = "rolling"
    BLUE_GREEN = "blue-green"
    CANARY = "canary"
    LINEAR = "linear"

    def resolve(self, production: bool) -> DeploymentStrategyKind:
        if self is not DeploymentStrategyKind.AUTO:
            return self
        return DeploymentStrategyKind.CANARY if production else DeploymentStrategyKind.ROLLING

    @property
    def shifts_traffic(self) -> bool:
        """The new revision runs beside the old one behind a second target group, and ECS moves the ALB's
        traffic to it (with a test listener and a final bake); a rolling update replaces tasks in place."""
        return self in (DeploymentStrategyKind.BLUE_GREEN, DeploymentStrategyKind.CANARY, DeploymentStrategyKind.LINEAR)

    @property
    def ecs_strategy(self) -> str:
        """The value of the service's deploymentConfiguration.strategy (botocore ecs DeploymentStrategy:
        ROLLING | BLUE_GREEN | LINEAR | CANARY)."""
        assert self is not DeploymentStrategyKind.AUTO, "resolve() auto first"
        return self.value.upper().replace("-", "_")


class Severity(StrEnum):
    """A vulnerability severity the scan gate can block at, most severe first (InspectorScan's levels)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical, 3 for low: a lower rank is more severe."""
        return list(Severity).index(self)


class ScanThreshold(StrEnum):
    """scanSeverityThreshold: the least severe finding that blocks an image, `auto` (high in production,
    critical otherwise) or `off` (no scan)."""

    AUTO = "auto"
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    OFF = "off"

    def resolve(self, production: bool) -> Severity | None:
        """The severity that blocks, or None when the scan is off."""
        if self is ScanThreshold.AUTO:
            return Severity.HIGH if production else Severity.CRITICAL
        if self is ScanThreshold.OFF:
            return None
        return Severity(self.value)
