"""Stack settings: the only reader of Pulumi config, and the one import path for them (`components.settings`).

`load_settings()` reads the project's config namespace once; `parse_settings()` validates it into one
immutable `Settings` object, reporting every problem before a single resource is registered. By concern:

- enums.py, constants.py: the closed sets of values, and the AWS facts values are checked against;
- keys.py: `KEYS`, every config key once with its default and what it accepts;
- model.py: the `Settings` dataclasses;
- reading.py: the raw values' types and defaults, the shared checks, the message shape;
- source.py, network.py (with domain.py), workload.py, build.py, ecs.py (with strategy.py), safety.py (with cron.py), eks.py,
  promotion.py, supply.py: one part each;
- services.py: many services in one stack (`services`), each entry's settings the stack's parse with its keys over it;
- duration.py: how long one ECS deployment can take at worst (a pure function of the strategy);
- parse.py: what spans the parts, `parse_settings` and `load_settings`.

Callers import from here, never from the modules.
"""

from components.settings.constants import (
    ALARM_DETECTION_MINUTES,
    ALB_MAX_RULE_PRIORITY,
    AWS_REGIONS,
    BOOTSTRAP_HEALTH_PATH,
    BUILD_COMPUTE_TYPES,
    CANARY_JUDGE_INVOCATION_MAX_SECONDS,
    CODEBUILD_ACTION_MAX_MINUTES,
    CODEBUILD_QUEUED_TIMEOUT_MINUTES,
    DEFAULT_BOOTSTRAP_IMAGE,
    DEREGISTRATION_DELAY_SECONDS,
    ECS_DEPLOY_ACTION_MAX_MINUTES,
    EKS_KUBERNETES_VERSIONS,
    EKS_STANDARD_SUPPORT_ENDS,
    EKS_SUPPORT_WARNING_DAYS,
    FARGATE_CPU_MEMORY,
    LOG_RETENTION_DAYS,
    MAX_SERVICES,
    PROJECT,
    SMOKE_TEST_HOOK_MAX_MINUTES,
    TASK_START_ALLOWANCE_MINUTES,
    TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES,
)
from components.settings.cron import CRON_EXAMPLE, deployment_window_cron_problem, time_zone_problem
from components.settings.domain import dns_name_problem
from components.settings.duration import WorstCase, linear_shifts, percent_text, worst_case
from components.settings.eks import kubernetes_version_problem, standard_support_notice
from components.settings.enums import CpuArchitecture, DeploymentStrategyKind, DeployTargetKind, EksLoadBalancing, NatGateways, ScanThreshold, Severity, SourceProvider, Toggle
from components.settings.keys import ALL_TARGETS, ECS_ONLY, EKS_ONLY, KEYS, PER_SERVICE_KEYS, Key
from components.settings.model import (
    AlarmThresholds,
    BuildSettings,
    CanaryJudgeSettings,
    DeploymentStrategySettings,
    EcsSettings,
    EksSettings,
    NetworkSettings,
    PromotionSettings,
    RegistrySettings,
    Routing,
    SafetySettings,
    ServiceSettings,
    Settings,
    SourceSettings,
    WorkloadSettings,
    own_settings,
)
from components.settings.network import cidr_problem
from components.settings.parse import load_settings, parse_settings
from components.settings.promotion import BUILD_ONLY_KEYS
from components.settings.reading import SettingsError, settings_error
from components.settings.services import MAX_PRIORITY, PRIORITY_STEP
from components.settings.source import git_branch_problem
from components.settings.strategy import MAX_SMOKE_TEST_PATHS, STRATEGY_KEYS
from components.settings.supply import INSPECTOR_THRESHOLD_KEYS, SupplyChainSettings

__all__ = [
    "ALARM_DETECTION_MINUTES",
    "ALB_MAX_RULE_PRIORITY",
    "AWS_REGIONS",
    "ALL_TARGETS",
    "BOOTSTRAP_HEALTH_PATH",
    "BUILD_ONLY_KEYS",
    "CODEBUILD_ACTION_MAX_MINUTES",
    "CODEBUILD_QUEUED_TIMEOUT_MINUTES",
    "BUILD_COMPUTE_TYPES",
    "CRON_EXAMPLE",
    "DEFAULT_BOOTSTRAP_IMAGE",
    "DEREGISTRATION_DELAY_SECONDS",
    "ECS_DEPLOY_ACTION_MAX_MINUTES",
    "ECS_ONLY",
    "EKS_KUBERNETES_VERSIONS",
    "EKS_STANDARD_SUPPORT_ENDS",
    "EKS_SUPPORT_WARNING_DAYS",
    "EKS_ONLY",
    "FARGATE_CPU_MEMORY",
    "INSPECTOR_THRESHOLD_KEYS",
    "KEYS",
    "LOG_RETENTION_DAYS",
    "MAX_PRIORITY",
    "MAX_SERVICES",
    "MAX_SMOKE_TEST_PATHS",
    "PER_SERVICE_KEYS",
    "PRIORITY_STEP",
    "PROJECT",
    "SMOKE_TEST_HOOK_MAX_MINUTES",
    "CANARY_JUDGE_INVOCATION_MAX_SECONDS",
    "STRATEGY_KEYS",
    "TASK_START_ALLOWANCE_MINUTES",
    "TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES",
    "AlarmThresholds",
    "BuildSettings",
    "CpuArchitecture",
    "DeployTargetKind",
    "DeploymentStrategyKind",
    "CanaryJudgeSettings",
    "DeploymentStrategySettings",
    "EcsSettings",
    "EksLoadBalancing",
    "EksSettings",
    "Key",
    "NatGateways",
    "NetworkSettings",
    "PromotionSettings",
    "RegistrySettings",
    "Routing",
    "SafetySettings",
    "ScanThreshold",
    "ServiceSettings",
    "Settings",
    "SettingsError",
    "Severity",
    "SourceProvider",
    "SourceSettings",
    "SupplyChainSettings",
    "Toggle",
    "WorkloadSettings",
    "WorstCase",
    "cidr_problem",
    "deployment_window_cron_problem",
    "dns_name_problem",
    "git_branch_problem",
    "kubernetes_version_problem",
    "linear_shifts",
    "load_settings",
    "own_settings",
    "parse_settings",
    "settings_error",
    "percent_text",
    "standard_support_notice",
    "time_zone_problem",
    "worst_case",
]
