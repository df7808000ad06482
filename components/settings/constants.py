"""Facts the settings are checked against: AWS's accepted sizes, versions and values, and the bootstrap image."""

from __future__ import annotations

from datetime import date

from components.settings.enums import CpuArchitecture

PROJECT = "container-cicd"

# The regions the AWS provider knows (pulumi_aws.Region, which tests/test_settings.py compares this with): an
# aws:region outside them is a typo, refused before the provider meets it.
AWS_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "eusc-de-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
)

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

# End of standard support of each Kubernetes minor version on EKS: the "End of standard support" column of
# AWS's release calendar (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar;
# 1.34: "December 2, 2026"). Standard support lasts 14 months from the EKS release; extended support costs
# $0.60 instead of $0.10 per cluster hour. At the end, EKS upgrades a cluster whose upgrade policy is
# STANDARD (a created cluster's) to the next minor version itself
# (https://docs.aws.amazon.com/eks/latest/userguide/view-upgrade-policy.html). tests/test_eks_settings.py
# fails once a version below passes its date while it is still allowed.
EKS_STANDARD_SUPPORT_ENDS: dict[str, date] = {
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
    "1.36": date(2027, 8, 2),
}
# The versions a stack may name: those still in standard support (a stack never asks for extended support).
EKS_KUBERNETES_VERSIONS = ("1.35", "1.36")
# `pulumi preview` and `pulumi up` warn this many days before the configured version's standard support ends.
EKS_SUPPORT_WARNING_DAYS = 90

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
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
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

# The target group's deregistration delay: the ALB default is 300 s; 30 s keeps deploys short. A draining
# target with no in-flight requests leaves earlier, so 30 s is the worst case a deployment waits for it.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay
DEREGISTRATION_DELAY_SECONDS = 30

# The CodePipeline ECS deploy action waits at most one hour: its DeploymentTimeout "is configurable up
# to the maximum default timeout for this action", and the quotas page gives that as one hour.
# https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html
# https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html
ECS_DEPLOY_ACTION_MAX_MINUTES = 60

# How long the service alarm needs to enter ALARM once a metric turns bad: the longest evaluation window of the
# alarms it combines (components/safety/alarms.py: CPU and memory over five one-minute periods in a row). A bake
# (bakeTimeMinutes) shorter than this cannot see it fire.
ALARM_DETECTION_MINUTES = 5

# CodePipeline fails a CodeBuild action after 8 hours ("CodeBuild build action and test action: 8 hours",
# https://docs.amazonaws.cn/en_us/codepipeline/latest/userguide/limits.html), its build's time in CodeBuild's
# queue included.
CODEBUILD_ACTION_MAX_MINUTES = 8 * 60
# How long any of the stack's builds may wait in CodeBuild's queue before CodeBuild fails it (queued_timeout).
CODEBUILD_QUEUED_TIMEOUT_MINUTES = 60

# deploymentTimeoutMinutes when it is not set and ECS shifts traffic (blue-green, canary, linear): the
# production default, a canary, takes up to 21 minutes (components/settings/duration.py), more than the
# rolling default of 15.
TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES = 30

# What a deployment that shifts traffic allows for starting the new revision's tasks and seeing them
# healthy: an allowance, not a measurement. A Fargate task pulls its image and starts in a minute or two,
# then needs the service's 30 s health-check grace period and two passing ALB checks 10 s apart.
TASK_START_ALLOWANCE_MINUTES = 5

# The smoke-test lifecycle hook: a Lambda function ECS invokes once per deployment, at
# POST_TEST_TRAFFIC_SHIFT (the test listener already reaches the new revision, production traffic not
# yet), which requests healthCheckPath and smokeTestPaths there. ECS re-invokes a Lambda hook that answers
# IN_PROGRESS (every 30 s by default) and rolls back on FAILED
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html); pulumi-aws
# documents the hook's timeout_configuration for PAUSE hooks only. So the hook itself answers FAILED once
# it has run this long, which bounds the deployment's worst case.
SMOKE_TEST_HOOK_MAX_MINUTES = 5

# The canary judge hook (functions/ecs_canary_hook.py): ECS invokes it once at each production traffic shift of a
# canary or linear deployment ("at every production traffic shift step",
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-linear.html) and it answers at once,
# never IN_PROGRESS. One invocation lasts at most Lambda's 10 s init limit plus the function's timeout (its two
# calls of at most 20 s each, and 5 s to start); tests/test_canary_wiring.py checks this against the function.
CANARY_JUDGE_INVOCATION_MAX_SECONDS = 55

# Application Load Balancer quotas a stack of many services (`services`) must fit: one load balancer routes them
# all. Target groups per load balancer: 100 (not adjustable); rules per load balancer, default rules not counted:
# 100; condition values and wildcards per rule: 5 each
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
ALB_TARGET_GROUPS_PER_LOAD_BALANCER = 100
ALB_RULES_PER_LOAD_BALANCER = 100
ALB_CONDITION_VALUES_PER_RULE = 5
ALB_WILDCARDS_PER_RULE = 5
# A host-header or path-pattern value is at most 128 characters
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html); rule
# priorities run from 1 to 50000 (botocore's elbv2 model, RulePriority).
ALB_CONDITION_VALUE_MAX_LENGTH = 128
ALB_MAX_RULE_PRIORITY = 50000
# Each service may need two target groups (blue-green, canary and linear shift traffic between two) and two
# rules (its production rule and its rule on the test listener), so 50 services fit both quotas whatever their
# strategies.
MAX_SERVICES = min(ALB_TARGET_GROUPS_PER_LOAD_BALANCER, ALB_RULES_PER_LOAD_BALANCER) // 2
