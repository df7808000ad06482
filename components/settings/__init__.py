"""Stack settings: the only reader of Pulumi config (see parse.py). `components.settings` is the import path."""

from components.settings.parse import (
    ALL_TARGETS,
    BOOTSTRAP_HEALTH_PATH,
    BUILD_COMPUTE_TYPES,
    CRON_EXAMPLE,
    DEFAULT_BOOTSTRAP_IMAGE,
    ECS_ONLY,
    EKS_KUBERNETES_VERSIONS,
    EKS_ONLY,
    FARGATE_CPU_MEMORY,
    KEYS,
    LOG_RETENTION_DAYS,
    PROJECT,
    AlarmThresholds,
    BuildSettings,
    CpuArchitecture,
    DeployTargetKind,
    EcsSettings,
    EksLoadBalancing,
    EksSettings,
    Key,
    NatGateways,
    NetworkSettings,
    RegistrySettings,
    SafetySettings,
    Settings,
    SettingsError,
    SourceProvider,
    SourceSettings,
    Toggle,
    WorkloadSettings,
    cidr_problem,
    deployment_window_cron_problem,
    git_branch_problem,
    load_settings,
    parse_settings,
    time_zone_problem,
)

__all__ = [
    "ALL_TARGETS",
    "BOOTSTRAP_HEALTH_PATH",
    "BUILD_COMPUTE_TYPES",
    "CRON_EXAMPLE",
    "DEFAULT_BOOTSTRAP_IMAGE",
    "ECS_ONLY",
    "EKS_KUBERNETES_VERSIONS",
    "EKS_ONLY",
    "FARGATE_CPU_MEMORY",
    "KEYS",
    "LOG_RETENTION_DAYS",
    "PROJECT",
    "AlarmThresholds",
    "BuildSettings",
    "CpuArchitecture",
    "DeployTargetKind",
    "EcsSettings",
    "EksLoadBalancing",
    "EksSettings",
    "Key",
    "NatGateways",
    "NetworkSettings",
    "RegistrySettings",
    "SafetySettings",
    "Settings",
    "SettingsError",
    "SourceProvider",
    "SourceSettings",
    "Toggle",
    "WorkloadSettings",
    "cidr_problem",
    "deployment_window_cron_problem",
    "git_branch_problem",
    "load_settings",
    "parse_settings",
    "time_zone_problem",
]

# The public classes keep `components.settings` as their module, the path callers import them from, as
# before the module became a package: tracebacks print `components.settings.SettingsError`, pickles and
# reprs name that path, and the scan of component dataclasses (tests/test_settings.py) finds them here.
def _name_public_classes_here() -> None:
    for name in __all__:
        value = globals()[name]
        if isinstance(value, type):
            value.__module__ = __name__


_name_public_classes_here()
