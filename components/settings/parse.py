"""Stack settings: the only module that reads Pulumi config.

`load_settings()` reads the project's config namespace once and hands it to
`parse_settings()`, a pure function that validates every key and returns one
immutable `Settings` object. Everything that can be wrong with a stack file is
reported here, before a single resource is registered, with a message that names
the key, the bad value, what is allowed and how to fix it.

The table `KEYS` is the single declaration of every config key: its default, and
what it accepts (bounds, allowed values, pattern), which validation reads and
`Key.full_description` renders. Pulumi.yaml's `config:` block, the README's and
docs/config.md's config reference are generated from it (`python -m offline.docs`)
and checked by the tests, so none of them can drift from what is enforced.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any

PROJECT = "container-cicd"


class SettingsError(ValueError):
    """A stack's configuration is invalid. The message says how to fix it."""


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


# CodeBuild compute types valid for each environment type.
# https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-compute-types.html
BUILD_COMPUTE_TYPES: dict[CpuArchitecture, tuple[str, ...]] = {
    CpuArchitecture.X86_64: (
        "BUILD_GENERAL1_SMALL",
        "BUILD_GENERAL1_MEDIUM",
        "BUILD_GENERAL1_LARGE",
        "BUILD_GENERAL1_XLARGE",
        "BUILD_GENERAL1_2XLARGE",
    ),
    CpuArchitecture.ARM64: (
        "BUILD_GENERAL1_SMALL",
        "BUILD_GENERAL1_MEDIUM",
        "BUILD_GENERAL1_LARGE",
        "BUILD_GENERAL1_XLARGE",
        "BUILD_GENERAL1_2XLARGE",
    ),
}

# Kubernetes versions in EKS standard support (14 months after release; extended support costs
# $0.60 instead of $0.10 per cluster hour). https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
EKS_KUBERNETES_VERSIONS = ("1.34", "1.35", "1.36")

# Fargate's supported task cpu (CPU units) -> memory (MiB) combinations.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_CPU_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

# The only values CloudWatch Logs accepts for a log group's retention.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)

# Traefik answers GET /ping on its "traefik" entry point from environment variables alone, so the
# bootstrap container needs no command override (a command would survive every pipeline deployment:
# the ECS deploy action and `kubectl set image` change only the image). TRAEFIK_ENTRYPOINTS_<NAME>_ADDRESS
# and TRAEFIK_PING (on entry point `traefik` by default) are in the v3 install-configuration reference
# (https://doc.traefik.io/traefik/reference/install-configuration/configuration-options/).
# v3.7 is the only maintained v3 minor: Traefik supports only the latest minor
# (https://doc.traefik.io/traefik/deprecation/releases/), and the official image lists v3.7 as its
# only v3 line (https://github.com/docker-library/official-images/blob/master/library/traefik).
# The minor tag follows its patch releases. Not pinned by digest: no digest of this tag could be
# checked against the registry where this was written, and an unchecked digest would be invented.
DEFAULT_BOOTSTRAP_IMAGE = "public.ecr.aws/docker/library/traefik:v3.7"
BOOTSTRAP_HEALTH_PATH = "/ping"

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")
_CODECOMMIT_REPO = re.compile(r"^[\w.-]{1,100}$")
# GitHub and Bitbucket: exactly owner/name; GitLab: group/[subgroup/...]project.
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GROUP_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
# Lowercase letters and digits in runs joined by single '-': the stack and service names end up in ECR
# repository names ([a-z0-9]+ joined by single separators) and CloudTrail trail names (no adjacent '-').
_NAME_RUNS = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]+:([a-z0-9-]+):")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_EKS_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# registry[:port]/path (lower case: Docker refuses upper-case repository names), then :tag, @digest or both.
# https://github.com/distribution/reference/blob/main/reference.go (the grammar `docker pull` uses)
_IMAGE = re.compile(
    r"^(?P<registry>[A-Za-z0-9.-]+(:\d+)?)(?P<path>(/[a-z0-9]+([._-]+[a-z0-9]+)*)+)"
    r"(?P<tag>:[\w][\w.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?$"
)


# --------------------------------------------------------------------------------------------
# The key table
# --------------------------------------------------------------------------------------------

ALL_TARGETS = frozenset(DeployTargetKind)


@dataclass(frozen=True)
class Key:
    """One config key: its Pulumi type, default, description, which deploy targets use it, and what it accepts.

    What a key accepts is declared here once: validation reads it (`_in_range`, `_enum`, `_matching`) and
    `full_description` renders it into every place the key is documented, so `description` never repeats it.
    """

    name: str
    type: str  # Pulumi config type: string | integer | boolean | array
    default: Any
    description: str
    """What the key does, without what it accepts (that is rendered from the fields below)."""
    targets: frozenset[DeployTargetKind] = ALL_TARGETS
    _: KW_ONLY
    minimum: int | None = None
    """Integer keys: the smallest value accepted. None: no lower bound."""
    maximum: int | None = None
    """Integer keys: the largest value accepted. None: no upper bound."""
    allowed: type[Enum] | tuple[Any, ...] | None = None
    """The only values accepted: an Enum (its members' values) or a tuple. None: not a closed set."""
    pattern: re.Pattern[str] | None = None
    """String keys: a value must match it. None: the key's own rule checks the value."""
    shape: str = ""
    """With `pattern`: what a matching value looks like, in words."""
    prefix_lengths: tuple[int, int] | None = None
    """CIDR keys: the shortest and longest prefix length accepted. None: any."""

    @property
    def allowed_values(self) -> tuple[Any, ...]:
        if isinstance(self.allowed, tuple):
            return self.allowed
        if self.allowed is not None:
            return tuple(member.value for member in self.allowed)
        return ()

    @property
    def allowed_text(self) -> str:
        """What the key accepts, in words, or "" when its description and own rule say it."""
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"at least {self.minimum}"
        if self.maximum is not None:
            return f"at most {self.maximum}"
        if self.allowed_values:
            return _either(self.allowed_values)
        if self.prefix_lengths is not None:
            return f"a /{self.prefix_lengths[0]} to /{self.prefix_lengths[1]} network"
        return self.shape

    @property
    def full_description(self) -> str:
        """The description as documented (Pulumi.yaml, README, docs/config.md): what the key does and accepts."""
        allowed = self.allowed_text
        return f"{self.description} Allowed: {allowed}." if allowed else self.description


def _either(values: Sequence[Any]) -> str:
    """'a', 'b' or 'c' (strings quoted, numbers not)."""
    shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _keys(*keys: Key) -> dict[str, Key]:
    return {k.name: k for k in keys}


ECS_ONLY = frozenset({DeployTargetKind.ECS})
EKS_ONLY = frozenset({DeployTargetKind.EKS})

KEYS: dict[str, Key] = _keys(
    Key("deployTarget", "string", "ecs", "Where the service runs: ecs is ECS on Fargate, eks is Kubernetes on EKS.", allowed=DeployTargetKind),
    Key("production", "boolean", False, "Production stack: protects the registry, artifact bucket and log groups from deletion."),
    Key("serviceName", "string", "app", "Short name of the service; prefixes physical names.",
        pattern=_SERVICE_NAME, shape="2-20 chars of a-z, 0-9 and '-', starting with a letter"),
    Key("sourceProvider", "string", "codecommit", "Where the code lives.", allowed=SourceProvider),
    Key("sourceRepository", "string", "", "CodeCommit repository name, or 'owner/name' for github/bitbucket/gitlab. Empty with codecommit: '<project>-<stack>-<serviceName>'."),
    Key("createSourceRepository", "boolean", True, "codecommit only: create the repository (true) or use an existing one named by sourceRepository (false)."),
    Key("sourceBranch", "string", "main", "Branch whose pushes run the pipeline."),
    Key("sourceConnectionArn", "string", "", "Existing CodeConnections/CodeStar connection ARN. Empty: a connection is created (confirm it once in the console)."),
    Key("sourceFilePaths", "array", [], "Connection sources: glob patterns; a push runs the pipeline only when it changes a matching file (monorepos). Empty: any file."),
    Key("appPath", "string", "app", "Folder in the repository that holds the Dockerfile and the app's tests."),
    Key("containerName", "string", "app", "Name of the application container, shared by the build, the task definition / pod and imagedefinitions.json.",
        pattern=_CONTAINER_NAME, shape="letters, digits, '-' and '_' (max 255)"),
    Key("containerPort", "integer", 8080, "Port the container listens on; not a privileged port: the container runs as non-root.",
        minimum=1024, maximum=65535),
    Key("healthCheckPath", "string", BOOTSTRAP_HEALTH_PATH, "HTTP path that answers 200 when the container is healthy."),
    Key("bootstrapImage", "string", DEFAULT_BOOTSTRAP_IMAGE, "Image the first `pulumi up` runs before the pipeline has pushed one; must answer healthCheckPath on containerPort."),
    Key("imageRetentionCount", "integer", 30, "Tagged images kept in the registry; older ones expire. The last 10 deployed images are kept as well.",
        minimum=1, maximum=1000),
    Key("untaggedImageExpiryDays", "integer", 1, "Days after which untagged images expire.", minimum=1, maximum=365),
    Key("cpuArchitecture", "string", "x86_64", "CPU architecture of the build and the runtime.", allowed=CpuArchitecture),
    Key("buildComputeType", "string", "BUILD_GENERAL1_SMALL", "CodeBuild compute type."),
    Key("buildTimeoutMinutes", "integer", 20, "CodeBuild build timeout in minutes.", minimum=5, maximum=2160),
    Key("logRetentionDays", "integer", 30, "Retention of every log group, in days (the values CloudWatch Logs accepts).",
        allowed=LOG_RETENTION_DAYS),
    # CodePipeline stage rollback re-runs the stage with the artifacts of its last successful execution
    # (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html); once they have
    # expired the rollback fails. A week lets a service deployed weekly still roll back.
    Key("artifactExpiryDays", "integer", 30, "Days after which pipeline artifacts expire; stage rollback needs the last successful execution's artifacts.",
        minimum=7, maximum=3650),
    Key("vpcId", "string", "", "Existing VPC id. Empty: a new VPC is created."),
    Key("publicSubnetIds", "array", [], "With vpcId: public subnet ids (at least two AZs) for the load balancer."),
    Key("privateSubnetIds", "array", [], "With vpcId: private subnet ids (at least two AZs, with a NAT route) for the workload."),
    Key("vpcCidr", "string", "10.0.0.0/16", "CIDR of a created VPC.", prefix_lengths=(16, 24)),
    Key("natGateways", "string", "single", "NAT gateways of a created VPC: a single one is cheaper, one per AZ survives an AZ outage.",
        allowed=NatGateways),
    Key("ingressCidrs", "array", ["0.0.0.0/0"], "CIDRs allowed to reach the load balancer. The default is the whole internet: this is a public service."),
    Key("certificateArn", "string", "", "ACM certificate ARN: serve HTTPS on 443 and redirect HTTP to it. Empty: HTTP only."),
    Key("desiredCount", "integer", 2, "Running copies of the service (tasks or pods).", minimum=1, maximum=100),
    Key("deploymentTimeoutMinutes", "integer", 15, "Minutes the pipeline's deploy action waits for a healthy deployment before failing.",
        minimum=1, maximum=60),
    Key("ecsCpu", "integer", 256, "Fargate task CPU units.", ECS_ONLY, allowed=tuple(FARGATE_CPU_MEMORY)),
    Key("ecsMemory", "integer", 512, "Fargate task memory (MiB); must pair with ecsCpu.", ECS_ONLY),
    Key("notificationEmails", "array", [], "Email addresses subscribed to the delivery topic (pipeline events, approvals, alarms). Each confirms once by email."),
    Key("notificationHttpsEndpoints", "array", [], "HTTPS endpoints subscribed to the delivery topic (chat webhooks, incident tools)."),
    Key("alarm5xxPercent", "integer", 5, "Alarm when 5xx responses exceed this percent of requests.", minimum=1, maximum=100),
    Key("alarmLatencyP95Ms", "integer", 1000, "Alarm when the p95 target response time exceeds this many milliseconds.",
        minimum=10, maximum=60000),
    Key("alarmUnhealthyTargets", "integer", 1, "Alarm when at least this many targets are unhealthy.", minimum=1, maximum=100),
    Key("alarmCpuPercent", "integer", 85, "Alarm when service CPU utilisation exceeds this percent.", minimum=10, maximum=100),
    Key("alarmMemoryPercent", "integer", 85, "Alarm when service memory utilisation exceeds this percent.", minimum=10, maximum=100),
    Key("manualApproval", "string", "auto", "Manual approval before Deploy; auto: on when production.", allowed=Toggle),
    Key("bakeTimeMinutes", "integer", 10, "Production: minutes the Deploy stage watches the service alarms before it succeeds; 0 turns the watch off.",
        minimum=0, maximum=60),
    Key("deploymentWindowCron", "string", "",
        "Deploy only inside this window: a CodePipeline DeploymentWindow cron 'seconds minutes hours day-of-month month "
        "day-of-week [year]' (seconds '*', '?' in one day field), e.g. '* * 9-16 ? * MON-THU' (Monday to Thursday, "
        "09:00-16:59). Empty: any time."),
    Key("deploymentWindowTimeZone", "string", "UTC", "Time zone of deploymentWindowCron: UTC or an IANA time zone name such as Europe/Berlin."),
    Key("blockDeployWhileAlarming", "boolean", False, "Do not enter the Deploy stage while a service alarm is firing."),
    Key("auditTrail", "string", "auto", "CloudTrail trail for this stack; auto: on when production (off under an organisation trail).",
        allowed=Toggle),
    Key("eksClusterName", "string", "", "Existing EKS cluster to deploy into (set vpcId and the subnets to its VPC). "
        "Empty: the stack creates an EKS Auto Mode cluster (x86_64 only).", EKS_ONLY),
    Key("eksKubernetesVersion", "string", "1.35", "Kubernetes version of the created cluster (or of the existing one); the manifests are validated against it.",
        EKS_ONLY, allowed=EKS_KUBERNETES_VERSIONS),
    Key("eksPublicAccessCidrs", "array", [], "CIDRs allowed to reach a created cluster's public API endpoint (for operators' kubectl; "
        "pulumi up never needs it). Empty: private endpoint only.", EKS_ONLY),
    Key("eksLoadBalancing", "string", "auto-mode", "Who registers the pods in the target group: EKS Auto Mode, or the AWS Load Balancer "
        "Controller an existing cluster runs.", EKS_ONLY, allowed=EksLoadBalancing),
    Key("eksPodCpuMillicores", "integer", 250, "CPU request and limit of each pod, in millicores.", EKS_ONLY, minimum=100, maximum=8000),
    Key("eksPodMemoryMiB", "integer", 512, "Memory request and limit of each pod, in MiB.", EKS_ONLY, minimum=128, maximum=32768),
)


# --------------------------------------------------------------------------------------------
# The settings object
# --------------------------------------------------------------------------------------------


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
    """Set only when deploy_target is EKS."""

    @property
    def prefix(self) -> str:
        """Physical-name prefix: unique per project, stack and service in one account and region."""
        return f"{self.project}-{self.stack}-{self.service_name}"


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A value as the user typed it: strings quoted and unstripped, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _fail(key: str, value: Any, allowed: str, fix: str) -> SettingsError:
    return SettingsError(f"{key}: {_shown(value)} is not valid; {allowed}. Fix: {fix}")


class _Reader:
    """Typed access to the raw config strings, with the table's defaults."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw

    def is_set(self, key: str) -> bool:
        """Set to something other than its default.

        The CLI passes Pulumi.yaml's defaults to the program as if they were set, so a key
        holding its default value counts as not set.
        """
        return key in self.raw and self.get(key) != _normalised_default(key)

    def get(self, key: str) -> Any:
        spec = KEYS[key]
        if key not in self.raw:
            # A copy as a tuple: the settings object must not share (or expose) the table's lists.
            return _normalised_default(key)
        value = self.raw[key]
        parse = _PARSERS[spec.type]
        return parse(key, value)


def _normalised_default(key: str) -> Any:
    default = KEYS[key].default
    return tuple(default) if isinstance(default, list) else default


def _parse_string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(key, value, "expected a string", f"quote the value of {key} in the stack file")
    # Not stripped: a value with stray spaces is refused by the key's own rule, and shown as typed.
    return value


def _parse_integer(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(key, value, "expected a whole number", f"set {key} to a number such as {KEYS[key].default}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise _fail(key, value, "expected a whole number", f"set {key} to a number such as {KEYS[key].default}") from None


def _parse_boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise _fail(key, value, "expected true or false", f"set {key} to true or false")


def _parse_array(key: str, value: Any) -> tuple[str, ...]:
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise _fail(key, value, "expected a list of strings", f"write {key} as a YAML list, e.g. [\"a\", \"b\"]")
    return tuple(items)


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "string": _parse_string,
    "integer": _parse_integer,
    "boolean": _parse_boolean,
    "array": _parse_array,
}


# Other names users type for an allowed value (a near spelling would suggest the wrong one: amd64 -> arm64).
_SYNONYMS = {"amd64": "x86_64", "x86-64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "fargate": "ecs", "kubernetes": "eks"}


def _enum(reader: _Reader, key: str) -> Any:
    """The member of the key's `allowed` Enum that the value names."""
    spec = KEYS[key]
    enum = spec.allowed
    assert isinstance(enum, type) and issubclass(enum, Enum), f"{key}: allowed is not an Enum"
    value = reader.get(key)
    try:
        return enum(value)
    except ValueError:
        options = [str(o) for o in spec.allowed_values]
        text = str(value).strip().lower()
        synonym = _SYNONYMS.get(text)
        close = (
            [o for o in options if o.lower() == text]
            or ([synonym] if synonym in options else [])
            or difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
        )
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingsError(f"{key}: {_shown(value)} is not supported; use {spec.allowed_text}{hint}") from None


def _in_range(reader: _Reader, key: str) -> int:
    """The value, within the key's `minimum` and `maximum`."""
    spec = KEYS[key]
    low, high = spec.minimum, spec.maximum
    assert low is not None and high is not None, f"{key}: no minimum and maximum in KEYS"
    value = reader.get(key)
    if not low <= value <= high:
        raise _fail(key, value, f"allowed: {spec.allowed_text}", f"set {key} between {low} and {high}")
    return value


def _matching(reader: _Reader, key: str) -> str:
    """The value, when it matches the key's `pattern`."""
    spec = KEYS[key]
    assert spec.pattern is not None, f"{key}: no pattern in KEYS"
    value = reader.get(key)
    if not spec.pattern.match(value):
        raise _fail(key, value, f"allowed: {spec.shape}", f"set {key} to {spec.shape}")
    return value


def git_branch_problem(name: str) -> str | None:
    """What `git check-ref-format --branch` refuses in a branch name, or None.
    https://git-scm.com/docs/git-check-ref-format"""
    if not name:
        return "a branch name cannot be empty"
    if name.startswith("-"):
        return "a branch name cannot start with '-'"
    if name == "@" or "@{" in name:
        return "a branch name cannot be '@' or contain '@{'"
    bad = sorted({c for c in name if ord(c) < 32 or ord(c) == 127 or c in " ~^:?*[\\"})
    if bad:
        return f"a branch name cannot contain {' '.join(repr(c) for c in bad)}"
    if ".." in name or "//" in name or name.endswith(("/", ".")):
        return "a branch name cannot contain '..' or '//', nor end with '/' or '.'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "no part of a branch name may start with '.' or end with '.lock'"
    return None


def cidr_problem(block: str, versions: tuple[int, ...] = (4, 6)) -> tuple[str, str] | None:
    """(what is wrong, the fix) for a CIDR block AWS would refuse, or None."""
    try:
        address = ipaddress.ip_address(block)
    except ValueError:
        pass
    else:
        bits = 32 if address.version == 4 else 128
        return "a bare address is not a CIDR block", f"write {block}/{bits} for this one address"
    try:
        network = ipaddress.ip_network(block)
    except ValueError:
        try:
            loose = ipaddress.ip_network(block, strict=False)
        except ValueError:
            return "not a CIDR block such as 203.0.113.0/24", "write an address and a prefix length, e.g. 203.0.113.0/24"
        return "the address has bits set beyond the prefix length", f"use the network address: {loose}"
    if network.version not in versions:
        return f"only IPv{versions[0]} CIDR blocks are allowed here", "use an IPv4 CIDR block"
    return None


def _duplicates(values: Sequence[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


def _check_unknown_keys(raw: Mapping[str, Any]) -> None:
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(KEYS))}"
            raise SettingsError(
                f"{PROJECT}:{key}: unknown config key; {hint} "
                f"Fix: rename or remove it with `pulumi config rm {key}`"
            )


def _check_target_keys(reader: _Reader, target: DeployTargetKind) -> None:
    for key in reader.raw:
        spec = KEYS[key]
        if target not in spec.targets and reader.is_set(key):
            users = " and ".join(sorted(t.value for t in spec.targets))
            raise SettingsError(
                f"{key}: is set but deployTarget is {target.value!r}, and only {users} uses it; "
                f"Fix: remove it (`pulumi config rm {key}`) or set deployTarget to {users}"
            )


def _source(reader: _Reader, project: str, stack: str, service: str) -> SourceSettings:
    provider = _enum(reader, "sourceProvider")
    repository = reader.get("sourceRepository")
    create = reader.get("createSourceRepository")
    connection_arn = reader.get("sourceConnectionArn") or None
    if provider is SourceProvider.CODECOMMIT:
        if reader.is_set("sourceConnectionArn"):
            raise _fail("sourceConnectionArn", connection_arn, "only github, bitbucket and gitlab sources use a connection",
                        "remove sourceConnectionArn, or set sourceProvider to the connection's host")
        if reader.is_set("sourceFilePaths"):
            raise _fail("sourceFilePaths", list(reader.get("sourceFilePaths")),
                        "file-path triggers exist only for connection sources (github, bitbucket, gitlab)",
                        "remove sourceFilePaths or use a connection source")
        if not repository:
            if not create:
                raise _fail("sourceRepository", repository, "an existing repository must be named when createSourceRepository is false",
                            "set sourceRepository to the CodeCommit repository name")
            repository = f"{project}-{stack}-{service}"
        if not _CODECOMMIT_REPO.match(repository):
            raise _fail("sourceRepository", repository, "allowed: 1-100 letters, digits, '.', '_' or '-'",
                        "use a valid CodeCommit repository name")
        if repository.endswith(".git"):
            # CodeCommit refuses names ending in .git (CreateRepository, repositoryName).
            raise _fail("sourceRepository", repository, "a CodeCommit repository name cannot end in '.git'",
                        f"set sourceRepository to {repository[:-4]!r}")
    else:
        if reader.is_set("createSourceRepository"):
            raise _fail("createSourceRepository", create, "only codecommit repositories can be created by the stack",
                        f"remove createSourceRepository; create the {provider.value} repository on its host")
        pattern, shape = (_GROUP_PATH, "'group/project' (subgroups allowed)") if provider is SourceProvider.GITLAB \
            else (_OWNER_NAME, "exactly 'owner/name'")
        if not pattern.match(repository or "") or repository.endswith(".git"):
            raise _fail("sourceRepository", repository, f"{provider.value} needs {shape}, without '.git' or a URL",
                        "set sourceRepository to e.g. 'my-org/my-service'")
        if connection_arn and not _CONNECTION_ARN.match(connection_arn):
            raise _fail("sourceConnectionArn", connection_arn,
                        "allowed: arn:aws:codeconnections:<region>:<account>:connection/<id> (or codestar-connections)",
                        "copy the ARN from Developer Tools > Settings > Connections")
    branch = reader.get("sourceBranch")
    problem = git_branch_problem(branch)
    if problem:
        raise _fail("sourceBranch", branch, problem, "set sourceBranch to the branch's name as `git branch` shows it, e.g. 'main'")
    file_paths = reader.get("sourceFilePaths")
    if _duplicates(list(file_paths)):
        raise _fail("sourceFilePaths", list(file_paths), "each pattern once", f"remove the repeated {_duplicates(list(file_paths))[0]!r}")
    for pattern in file_paths:
        if not pattern or pattern.startswith("/"):
            raise _fail("sourceFilePaths", pattern, "allowed: glob patterns relative to the repository root",
                        "write patterns like 'app/**'")
    if len(file_paths) > 8:
        # CodePipeline V2 trigger filters take at most 8 include patterns.
        raise _fail("sourceFilePaths", list(file_paths), "at most 8 patterns", "merge patterns with ** globs")
    return SourceSettings(provider, repository, create, branch, connection_arn, file_paths)


def _network(reader: _Reader) -> NetworkSettings:
    vpc_id = reader.get("vpcId") or None
    public = reader.get("publicSubnetIds")
    private = reader.get("privateSubnetIds")
    if vpc_id:
        if not _VPC_ID.match(vpc_id):
            raise _fail("vpcId", vpc_id, "allowed: vpc-<hex id>", "copy the id from the VPC console")
        for key, ids in (("publicSubnetIds", public), ("privateSubnetIds", private)):
            if len(ids) < 2:
                raise _fail(key, list(ids), "with vpcId, at least two subnets in different AZs",
                            f"list at least two subnet ids in {key}")
            for subnet in ids:
                if not _SUBNET_ID.match(subnet):
                    raise _fail(key, subnet, "allowed: subnet-<hex id>", "copy the ids from the VPC console")
            if _duplicates(list(ids)):
                # A repeated id would pass the two-subnet count with one subnet (one AZ).
                raise _fail(key, list(ids), "each subnet once (two ids of one subnet are one AZ)",
                            f"replace the repeated {_duplicates(list(ids))[0]!r} by a subnet in another AZ")
        if set(public) & set(private):
            raise _fail("privateSubnetIds", list(private), "a subnet cannot be both public and private",
                        "list each subnet under one key only")
        for key in ("vpcCidr", "natGateways"):
            if reader.is_set(key):
                raise _fail(key, reader.get(key), "only used when the stack creates the VPC",
                            f"remove {key}, or remove vpcId to create a VPC")
    else:
        for key in ("publicSubnetIds", "privateSubnetIds"):
            if reader.is_set(key):
                raise _fail(key, list(reader.get(key)), "subnet ids need vpcId",
                            "set vpcId too, or remove the subnet ids to create a VPC")
    cidr = reader.get("vpcCidr")
    problem = cidr_problem(cidr, versions=(4,))
    if problem:
        raise _fail("vpcCidr", cidr, problem[0], problem[1])
    network = ipaddress.IPv4Network(cidr)
    spec = KEYS["vpcCidr"]
    assert spec.prefix_lengths is not None
    shortest, longest = spec.prefix_lengths
    if not shortest <= network.prefixlen <= longest:
        raise _fail("vpcCidr", cidr, f"allowed: {spec.allowed_text} (four /+2 subnets must fit)", f"use e.g. {spec.default}")
    ingress = reader.get("ingressCidrs")
    if not ingress:
        raise _fail("ingressCidrs", [], "at least one CIDR", "list the networks allowed to reach the service")
    for block in ingress:
        problem = cidr_problem(block)
        if problem:
            raise _fail("ingressCidrs", block, problem[0], problem[1])
    if _duplicates(list(ingress)):
        raise _fail("ingressCidrs", list(ingress), "each CIDR block once", f"remove the repeated {_duplicates(list(ingress))[0]!r}")
    certificate = reader.get("certificateArn") or None
    if certificate and not _CERTIFICATE_ARN.match(certificate):
        raise _fail("certificateArn", certificate, "allowed: arn:aws:acm:<region>:<account>:certificate/<id>",
                    "copy the ARN from the ACM console")
    return NetworkSettings(
        vpc_id=vpc_id,
        public_subnet_ids=public,
        private_subnet_ids=private,
        vpc_cidr=str(network),
        nat_gateways=_enum(reader, "natGateways"),
        ingress_cidrs=ingress,
        certificate_arn=certificate,
    )


def _workload(reader: _Reader) -> WorkloadSettings:
    name = _matching(reader, "containerName")
    port = _in_range(reader, "containerPort")
    path = reader.get("healthCheckPath")
    if not path.startswith("/") or len(path) > 1024 or " " in path:
        raise _fail("healthCheckPath", path, "allowed: an absolute URL path such as /ping (max 1024 chars)",
                    "start the path with '/'")
    image = reader.get("bootstrapImage")
    match = _IMAGE.match(image)
    if not match or not (match.group("tag") or match.group("digest")):
        raise _fail("bootstrapImage", image,
                    "allowed: registry/repository with a :tag, an @sha256: digest or both; the repository in lower case",
                    "write e.g. 'public.ecr.aws/docker/library/traefik:v3.7'")
    if image == DEFAULT_BOOTSTRAP_IMAGE and path != BOOTSTRAP_HEALTH_PATH:
        raise _fail("healthCheckPath", path,
                    f"the default bootstrapImage answers only {BOOTSTRAP_HEALTH_PATH}",
                    f"set bootstrapImage to an image that answers {path} on containerPort, "
                    f"or keep healthCheckPath at {BOOTSTRAP_HEALTH_PATH}")
    return WorkloadSettings(
        container_name=name,
        container_port=port,
        health_check_path=path,
        bootstrap_image=image,
        desired_count=_in_range(reader, "desiredCount"),
        deployment_timeout_minutes=_in_range(reader, "deploymentTimeoutMinutes"),
    )


def _build(reader: _Reader) -> BuildSettings:
    architecture = _enum(reader, "cpuArchitecture")
    compute = reader.get("buildComputeType")
    allowed = BUILD_COMPUTE_TYPES[architecture]
    if compute not in allowed:
        raise _fail("buildComputeType", compute, f"allowed for {architecture.value}: {', '.join(allowed)}",
                    "pick one of those compute types")
    app_path = reader.get("appPath").strip("/")
    if not app_path or ".." in app_path.split("/") or not re.match(r"^[\w./-]+$", app_path):
        raise _fail("appPath", reader.get("appPath"), "allowed: a relative folder such as 'app' or 'services/api'",
                    "set appPath to the folder holding the Dockerfile")
    return BuildSettings(
        app_path=app_path,
        architecture=architecture,
        compute_type=compute,
        timeout_minutes=_in_range(reader, "buildTimeoutMinutes"),
    )


def _ecs(reader: _Reader) -> EcsSettings:
    cpu = reader.get("ecsCpu")
    memory = reader.get("ecsMemory")
    if cpu not in KEYS["ecsCpu"].allowed_values:
        raise _fail("ecsCpu", cpu, f"Fargate allows {', '.join(map(str, KEYS['ecsCpu'].allowed_values))}",
                    "pick one of those CPU sizes")
    if memory not in FARGATE_CPU_MEMORY[cpu]:
        pairs = FARGATE_CPU_MEMORY[cpu]
        raise _fail("ecsMemory", memory, f"with ecsCpu {cpu} Fargate allows {pairs[0]}-{pairs[-1]} MiB "
                    f"({', '.join(map(str, pairs))})", "set ecsMemory to one of those, or change ecsCpu")
    return EcsSettings(cpu=cpu, memory=memory)


# An address, not a URI: no scheme (`mailto:`), no display name, no spaces; a dotted domain.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_HTTPS_URL = re.compile(r"^https://[^\s/?#]+\.[^\s/?#]+(:\d+)?([/?#]\S*)?$")


# The DeploymentWindow rule's Cron, as its reference documents it
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html):
# 6 fields and an optional 7th, Seconds Minutes Hours Day-of-month Month Day-of-week [Year]. Seconds
# take only '*'; '?' only in day-of-month or day-of-week; 'L' and 'W' in day-of-month, 'L' and '#' in
# day-of-week. It is Quartz syntax, so Quartz's rules apply where the page is silent: exactly one of the
# two day fields is '?', 'L'/'W'/'#' forms stand alone (not in a list), '#' counts 1-5. Ranges must run
# forwards and names are upper case: what the page shows, and never rejected by AWS.
@dataclass(frozen=True)
class _CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names of low, low+1, ... (JAN-DEC, SUN-SAT)."""
    max_step: int = 0
    """Largest increment after '/' (Quartz's limits); 0: the field's `high`."""


_CRON_FIELDS = (
    _CronField("seconds", 0, 59),
    _CronField("minutes", 0, 59),
    _CronField("hours", 0, 23),
    _CronField("day-of-month", 1, 31),
    _CronField("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    _CronField("day-of-week", 1, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
    _CronField("year", 1970, 2199, max_step=229),
)
_CRON_ITEM = re.compile(r"^(?P<start>\*|[0-9A-Za-z]+)(?:-(?P<end>[0-9A-Za-z]+))?(?:/(?P<step>[0-9]+))?$")
_DAY_OF_MONTH_SPECIAL = re.compile(r"^L(?:-(?P<offset>[0-9]+))?W?$|^(?P<day>[0-9]+)W$")
_DAY_OF_WEEK_SPECIAL = re.compile(r"^(?P<day>[0-9]+|[A-Z]{3})(?:L|#(?P<nth>[0-9]+))$")
CRON_EXAMPLE = "* * 9-16 ? * MON-THU"


def _cron_value(field: _CronField, text: str) -> int | str:
    """The number `text` stands for in `field`, or the problem with it."""
    if text.isdigit():
        value = int(text)
    elif text in field.names:
        value = field.low + field.names.index(text)
    else:
        names = f" or a name {field.names[0]}-{field.names[-1]}" if field.names else ""
        return f"'{text}' is not a number {field.low}-{field.high}{names}"
    if not field.low <= value <= field.high:
        return f"'{text}' is out of range {field.low}-{field.high}"
    return value


def _cron_special(field: _CronField, text: str) -> str | None:
    """For a '?', 'L', 'W' or '#' form: '' when valid, else its problem. None: not such a form."""
    if text == "?":
        return "" if field.name in ("day-of-month", "day-of-week") else "'?' is allowed only in day-of-month or day-of-week"
    if field.name == "day-of-month" and (match := _DAY_OF_MONTH_SPECIAL.match(text)):
        if match["offset"] is not None and int(match["offset"]) > 30:
            return f"'{text}': the offset after 'L-' must be 0-30"
        day = _cron_value(field, match["day"]) if match["day"] is not None else 0
        return day if isinstance(day, str) else ""
    if field.name == "day-of-week" and text == "L":
        return ""
    if field.name == "day-of-week" and (match := _DAY_OF_WEEK_SPECIAL.match(text)):
        day = _cron_value(field, match["day"])
        if isinstance(day, str):
            return day
        if match["nth"] is not None and not 1 <= int(match["nth"]) <= 5:
            return f"'{text}': the week number after '#' must be 1-5"
        return ""
    return None


def _cron_field_problem(field: _CronField, text: str) -> str | None:
    """What is wrong with one field of a DeploymentWindow cron, without the 'field N (name)' prefix."""
    if field.name == "seconds":
        return None if text == "*" else f"'{text}' is not allowed; seconds take only '*'"
    special = _cron_special(field, text)
    if special is not None:
        return special or None
    items = text.split(",")
    for item in items:
        if len(items) > 1 and _cron_special(field, item) is not None:
            return f"'{item}' must be the whole field, not part of a list"
        match = _CRON_ITEM.match(item)
        if not match or (match["start"] == "*" and match["end"]):
            forms = {"day-of-month": ", '?', 'L', 'L-n', 'LW' or 'nW'", "day-of-week": ", '?', 'L', 'nL' or 'n#k'"}
            return f"'{item}' is not '*', a value, a range 'a-b' or a step 'a/n'{forms.get(field.name, '')}"
        values = [_cron_value(field, match[part]) for part in ("start", "end") if match[part] not in (None, "*")]
        bounds: list[int] = []
        for value in values:
            if isinstance(value, str):
                return value
            bounds.append(value)
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            return f"'{item}' is a range that runs backwards; split it into two ranges in a list"
        step_limit = field.max_step or field.high
        if match["step"] is not None and not 1 <= int(match["step"]) <= step_limit:
            return f"'{item}': the step after '/' must be 1-{step_limit}"
    return None


def deployment_window_cron_problem(text: str) -> str | None:
    """What CodePipeline's DeploymentWindow rule would reject in `text` (naming the field), or None."""
    fields = text.split()
    if len(fields) not in (6, 7):
        return (f"allowed: 6 or 7 space-separated fields 'seconds minutes hours day-of-month month day-of-week "
                f"[year]', got {len(fields)}")
    for number, (spec, value) in enumerate(zip(_CRON_FIELDS, fields, strict=False), start=1):
        problem = _cron_field_problem(spec, value)
        if problem:
            return f"field {number} ({spec.name}) {problem}"
    if (fields[3] == "?") == (fields[5] == "?"):
        return (f"exactly one of day-of-month and day-of-week must be '?', got '{fields[3]}' and '{fields[5]}'")
    return None


def time_zone_problem(name: str) -> str | None:
    """None for a name zoneinfo knows (the IANA database) or 'UTC'."""
    if name == "UTC" or name in zoneinfo.available_timezones():
        return None
    return "allowed: UTC or an IANA time zone such as Europe/Berlin"


def _safety(reader: _Reader, production: bool) -> SafetySettings:
    emails = tuple(reader.get("notificationEmails"))
    for email in emails:
        if not _EMAIL.match(email):
            raise _fail("notificationEmails", email, "allowed: a plain email address such as team@example.com (no 'mailto:', no name)",
                        "write only the address")
    endpoints = tuple(reader.get("notificationHttpsEndpoints"))
    for url in endpoints:
        if not _HTTPS_URL.match(url):
            raise _fail("notificationHttpsEndpoints", url, "allowed: https:// URLs (plain http would carry notifications unencrypted)",
                        "use the endpoint's https:// URL")
    if len(set(emails)) != len(emails) or len(set(endpoints)) != len(endpoints):
        key = "notificationEmails" if len(set(emails)) != len(emails) else "notificationHttpsEndpoints"
        raise _fail(key, list(reader.get(key)), "each subscriber once", "remove the duplicate")
    cron = reader.get("deploymentWindowCron") or None
    if cron is not None:
        problem = deployment_window_cron_problem(cron)
        if problem:
            raise _fail("deploymentWindowCron", cron, problem,
                        "write 'seconds minutes hours day-of-month month day-of-week [year]' with seconds '*' and "
                        f"'?' in one day field, e.g. '{CRON_EXAMPLE}' (Monday to Thursday, 09:00-16:59)")
    zone = reader.get("deploymentWindowTimeZone")
    problem = time_zone_problem(zone)
    if problem:
        raise _fail("deploymentWindowTimeZone", zone, problem,
                    "set an IANA time zone name (python -c 'import zoneinfo; print(zoneinfo.available_timezones())' lists them)")
    if reader.is_set("deploymentWindowTimeZone") and cron is None:
        raise _fail("deploymentWindowTimeZone", zone, "only used with deploymentWindowCron",
                    "set deploymentWindowCron too, or remove deploymentWindowTimeZone")
    if cron is not None and reader.get("blockDeployWhileAlarming"):
        # The deploy stage has one entry condition, and an alarm rule sharing it with a DeploymentWindow rule
        # is not checked again once the window opens (rule-reference-CloudWatchAlarm.html, "Important").
        raise _fail("blockDeployWhileAlarming", True,
                    "not together with deploymentWindowCron: both would share the deploy stage's one entry condition, "
                    "where CodePipeline does not re-check the alarm once the window opens",
                    "keep one of them (in production the bake time still rolls a deploy back while the alarm fires)")
    bake_time = _in_range(reader, "bakeTimeMinutes")
    if reader.is_set("bakeTimeMinutes") and not production:
        raise _fail("bakeTimeMinutes", bake_time, "only used when production is true (dev deploys do not bake)",
                    "remove bakeTimeMinutes, or set production to true")
    manual = _enum(reader, "manualApproval")
    return SafetySettings(
        notification_emails=emails,
        notification_https_endpoints=endpoints,
        thresholds=AlarmThresholds(
            error_rate_percent=_in_range(reader, "alarm5xxPercent"),
            latency_p95_ms=_in_range(reader, "alarmLatencyP95Ms"),
            unhealthy_targets=_in_range(reader, "alarmUnhealthyTargets"),
            cpu_percent=_in_range(reader, "alarmCpuPercent"),
            memory_percent=_in_range(reader, "alarmMemoryPercent"),
        ),
        manual_approval=manual.resolve(production),
        bake_time_minutes=bake_time,
        deployment_window_cron=cron,
        deployment_window_time_zone=zone,
        block_deploy_while_alarming=reader.get("blockDeployWhileAlarming"),
        audit_trail=_enum(reader, "auditTrail").resolve(production),
    )


def _eks(reader: _Reader) -> EksSettings:
    cluster = reader.get("eksClusterName") or None
    if cluster:
        if not _EKS_CLUSTER_NAME.match(cluster):
            raise _fail("eksClusterName", cluster, "allowed: 1-100 letters, digits, '-' and '_', starting with a letter or digit",
                        "copy the name from the EKS console")
        if not reader.get("vpcId"):
            raise _fail("eksClusterName", cluster, "an existing cluster needs vpcId: the load balancer must be in the cluster's VPC",
                        "set vpcId, publicSubnetIds and privateSubnetIds to the cluster's VPC and subnets")
        if reader.is_set("eksPublicAccessCidrs"):
            raise _fail("eksPublicAccessCidrs", list(reader.get("eksPublicAccessCidrs")),
                        "only used when the stack creates the cluster", "remove eksPublicAccessCidrs, or remove eksClusterName")
    version = reader.get("eksKubernetesVersion")
    versions = KEYS["eksKubernetesVersion"].allowed_values
    if version not in versions:
        raise _fail("eksKubernetesVersion", version, f"allowed: {', '.join(versions)} (EKS standard support)",
                    f"set eksKubernetesVersion to {versions[-1]}")
    cidrs = reader.get("eksPublicAccessCidrs")
    for block in cidrs:
        problem = cidr_problem(block)
        if problem:
            raise _fail("eksPublicAccessCidrs", block, problem[0], problem[1])
        parsed = ipaddress.ip_network(block)
        if parsed.version != 4:
            raise _fail("eksPublicAccessCidrs", block, "the EKS public endpoint accepts IPv4 CIDRs only", "use an IPv4 CIDR")
        if parsed.prefixlen == 0:
            raise _fail("eksPublicAccessCidrs", block, "the Kubernetes API must not be open to the whole internet",
                        "list your operators' egress CIDRs, or remove eksPublicAccessCidrs for a private endpoint")
    if _duplicates(list(cidrs)):
        raise _fail("eksPublicAccessCidrs", list(cidrs), "each CIDR block once", f"remove the repeated {_duplicates(list(cidrs))[0]!r}")
    load_balancing = _enum(reader, "eksLoadBalancing")
    if not cluster and load_balancing is not EksLoadBalancing.AUTO_MODE:
        raise _fail("eksLoadBalancing", load_balancing.value, "a created cluster runs EKS Auto Mode",
                    "remove eksLoadBalancing, or set eksClusterName to a cluster that runs the AWS Load Balancer Controller")
    if not cluster and reader.get("cpuArchitecture") == CpuArchitecture.ARM64.value:
        # The image is built for one architecture and the pods are pinned to it; EKS Auto Mode's
        # built-in general-purpose node pool offers amd64 only (system is tainted for add-ons).
        # https://docs.aws.amazon.com/eks/latest/userguide/set-builtin-node-pools.html
        raise _fail("cpuArchitecture", "arm64", "a created EKS Auto Mode cluster runs the workload on its general-purpose "
                    "node pool, which offers amd64 nodes only",
                    "set cpuArchitecture to x86_64, or set eksClusterName to a cluster with an arm64 node pool")
    container = reader.get("containerName")
    if not _DNS_LABEL.match(container):
        raise _fail("containerName", container, "with deployTarget eks: a DNS label (1-63 chars of a-z, 0-9 and '-')",
                    "use e.g. 'app'")
    return EksSettings(
        cluster_name=cluster,
        kubernetes_version=version,
        public_access_cidrs=cidrs,
        load_balancing=load_balancing,
        pod_cpu_millicores=_in_range(reader, "eksPodCpuMillicores"),
        pod_memory_mib=_in_range(reader, "eksPodMemoryMiB"),
    )


class _Problems:
    """Every problem of a stack's config, so one run reports them all."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def check(self, parse: Callable[..., Any], *args: Any) -> Any:
        """`parse(*args)`, or None after recording its problem."""
        try:
            return parse(*args)
        except SettingsError as problem:
            self.messages.append(str(problem))
            return None

    def raise_any(self) -> None:
        if len(self.messages) == 1:
            raise SettingsError(self.messages[0])
        if self.messages:
            listed = "\n".join(f"- {m}" for m in self.messages)
            raise SettingsError(f"{len(self.messages)} problems in the stack's config:\n{listed}")


def _names(project: str, stack: str) -> None:
    if len(f"{project}-{stack}") > 40:
        raise SettingsError(
            f"stack name: {stack!r} makes the name prefix '{project}-{stack}' longer than 40 characters; "
            "Fix: use a shorter stack name"
        )
    if not _NAME_RUNS.match(stack):
        # The prefix becomes the ECR repository name ([a-z0-9] runs joined by single separators) and part
        # of the CloudTrail trail name (no two separators in a row).
        raise SettingsError(
            f"stack name: {stack!r} is not valid; the stack name becomes part of ECR repository and CloudTrail "
            "names, which allow lower-case letters and digits joined by single '-'. "
            f"Fix: use a stack named like {re.sub(r'-+', '-', re.sub(r'[^a-z0-9]+', '-', stack.lower())).strip('-') or 'dev'!r} "
            "(`pulumi stack rename`)"
        )


def _service_name(reader: _Reader) -> str:
    service = _matching(reader, "serviceName")
    if "--" in service:
        raise _fail("serviceName", service, "two '-' in a row make names ECR and CloudTrail refuse",
                    f"set serviceName to {re.sub('-+', '-', service)!r}")
    return service


def _log_retention(reader: _Reader) -> int:
    retention = reader.get("logRetentionDays")
    allowed = KEYS["logRetentionDays"].allowed_values
    if retention not in allowed:
        raise _fail("logRetentionDays", retention, f"CloudWatch Logs accepts {', '.join(map(str, allowed))}",
                    "pick the nearest of those values")
    return retention


def _regions(reader: _Reader, region: str | None) -> None:
    """ARNs of regional resources the stack uses in place must be in the stack's region: an ALB takes ACM
    certificates of its own region only, and a pipeline's source action runs in the pipeline's region."""
    if not region:
        return
    for key in ("certificateArn", "sourceConnectionArn"):
        arn = reader.get(key)
        found = _ARN_REGION.match(arn) if arn else None
        if found and found.group(1) != region:
            raise _fail(key, arn, f"the ARN is in {found.group(1)}, the stack in {region}",
                        f"use a {key.removesuffix('Arn')} in {region}, or deploy the stack to {found.group(1)} (aws:region)")


def parse_settings(raw: Mapping[str, Any], project: str, stack: str, region: str | None = None) -> Settings:
    """Validate a stack's raw config (key without namespace -> value) into `Settings`.

    Pure: no Pulumi runtime needed, so every rule is testable directly. Every problem is reported at
    once (each part of the config stops at its first problem). `region`: the stack's aws:region, when
    known, to check ARNs against it.
    """
    problems = _Problems()
    unknown = [key for key in raw if key not in KEYS]
    for key in unknown:
        problems.check(_check_unknown_keys, {key: raw[key]})
    reader = _Reader({k: v for k, v in raw.items() if k in KEYS})
    target = problems.check(_enum, reader, "deployTarget")
    if target is not None:
        problems.check(_check_target_keys, reader, target)
    problems.check(_names, project, stack)
    service = problems.check(_service_name, reader) or KEYS["serviceName"].default
    production = problems.check(reader.get, "production") or False
    parts = {
        "source": problems.check(_source, reader, project, stack, service),
        "workload": problems.check(_workload, reader),
        "image_retention_count": problems.check(_in_range, reader, "imageRetentionCount"),
        "untagged_image_expiry_days": problems.check(_in_range, reader, "untaggedImageExpiryDays"),
        "build": problems.check(_build, reader),
        "network": problems.check(_network, reader),
        "log_retention_days": problems.check(_log_retention, reader),
        "artifact_expiry_days": problems.check(_in_range, reader, "artifactExpiryDays"),
        # Each target's own settings, only for that target (its keys are refused on the other one above).
        "ecs": problems.check(_ecs, reader) if target is DeployTargetKind.ECS else None,
        "safety": problems.check(_safety, reader, production),
        "eks": problems.check(_eks, reader) if target is DeployTargetKind.EKS else None,
    }
    problems.check(_regions, reader, region)
    problems.raise_any()
    assert target is not None
    return Settings(
        project=project,
        stack=stack,
        deploy_target=target,
        production=production,
        service_name=service,
        source=parts["source"],
        workload=parts["workload"],
        registry=RegistrySettings(
            image_retention_count=parts["image_retention_count"],
            untagged_image_expiry_days=parts["untagged_image_expiry_days"],
        ),
        build=parts["build"],
        network=parts["network"],
        log_retention_days=parts["log_retention_days"],
        artifact_expiry_days=parts["artifact_expiry_days"],
        ecs=parts["ecs"],
        tags=MappingProxyType({"project": project, "stack": stack, "service": service, "managed-by": "pulumi"}),
        safety=parts["safety"],
        eks=parts["eks"],
    )


def load_settings() -> Settings:
    """Read this project's config namespace once and validate it."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    # The CLI hands config to the program through PULUMI_CONFIG (the language host) or
    # set_all_config (automation API, mocks); both are read so no key escapes validation.
    every = {**get_config_env(), **CONFIG.get()}
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix):]: value for key, value in every.items() if key.startswith(prefix)}
    return parse_settings(raw, pulumi.get_project(), pulumi.get_stack(), every.get("aws:region") or None)
