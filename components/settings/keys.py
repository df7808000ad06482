"""The key table: every config key once, with its default and what it accepts.

`KEYS` is the single declaration of every config key: its default, and what it accepts (bounds, allowed
values, pattern), which validation reads and `Key.full_description` renders. Pulumi.yaml's `config:`
block, the README's and docs/config.md's config reference are generated from it (`python -m offline.docs`)
and checked by the tests, so none of them can drift from what is enforced.
"""

from __future__ import annotations

import re

from components.settings.constants import (
    ALARM_DETECTION_MINUTES,
    BOOTSTRAP_HEALTH_PATH,
    CODEBUILD_ACTION_MAX_MINUTES,
    CODEBUILD_QUEUED_TIMEOUT_MINUTES,
    DEFAULT_BOOTSTRAP_IMAGE,
    ECS_DEPLOY_ACTION_MAX_MINUTES,
    EKS_KUBERNETES_VERSIONS,
    FARGATE_CPU_MEMORY,
    LOG_RETENTION_DAYS,
    MAX_SERVICES,
    TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES,
)
from components.settings.enums import CpuArchitecture, DeploymentStrategyKind, DeployTargetKind, EksLoadBalancing, NatGateways, ScanThreshold, SourceProvider, Toggle
from components.settings.key import ALL_TARGETS, Key, _keys, _number

__all__ = ["ALL_TARGETS", "ECS_ONLY", "EKS_ONLY", "KEYS", "PER_SERVICE_KEYS", "Key", "_number"]

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")

ECS_ONLY = frozenset({DeployTargetKind.ECS})
EKS_ONLY = frozenset({DeployTargetKind.EKS})

# The keys an entry of `services` may set for its own service (the top-level value is every service's default). The
# others are stack-wide: one network, load balancer (one test listener), cluster, topic, promotion and set of gates.
PER_SERVICE_KEYS = tuple(
    "appPath sourceFilePaths containerName containerPort healthCheckPath bootstrapImage imageRetentionCount desiredCount deploymentTimeoutMinutes ecsCpu "
    "ecsMemory deploymentStrategy canaryPercent canaryBakeMinutes linearStepPercent linearStepBakeMinutes deploymentBakeMinutes smokeTestPaths canaryMetrics "
    "canaryTolerancePercent canaryErrorFloorPercent canaryLatencyFloorMs canaryMinRequests canaryLatencyPercentile canaryNotEnoughTraffic alarm5xxPercent "
    "alarmLatencyP95Ms alarmUnhealthyTargets alarmCpuPercent alarmMemoryPercent eksPodCpuMillicores eksPodMemoryMiB".split()
)

KEYS: dict[str, Key] = _keys(
    Key("deployTarget", "string", "ecs", "Where the service runs: ecs is ECS on Fargate, eks is Kubernetes on EKS.", allowed=DeployTargetKind),
    Key(
        "nextDeployTarget",
        "string",
        "",
        "The first step of a switch of deployTarget: the other target runs beside it with the recorded image, in a target group of its "
        "own that gets no production traffic (docs/safety.md, Switching deployTarget). The second step sets deployTarget to it and removes "
        "this key. Empty: none.",
        shape="'ecs' or 'eks', not deployTarget's value",
    ),
    Key("production", "boolean", False, "Production stack: protects the registry, artifact bucket and log groups from deletion."),
    Key(
        "serviceName", "string", "app", "Short name of the service; prefixes physical names.", pattern=_SERVICE_NAME, shape="2-20 chars of a-z, 0-9 and '-', starting with a letter"
    ),
    Key(
        "services",
        "objects",
        [],
        "Many services in one stack, sharing its network, load balancer and cluster, each with its own pipeline: entries of a `name` (serviceName's "
        "rules), `hosts` and/or `paths` (its listener rule's host names and path patterns; without either: the listener's default, one service at most), "
        f"`priority` (its rule's, lower first; default 10 x its position, from 1) and any of {', '.join(PER_SERVICE_KEYS)}, over the top-level value "
        "(every service's default); the other keys are stack-wide. Empty: the stack is one service, serviceName.",
        shape=f"at most {MAX_SERVICES} entries",
    ),
    Key("sourceProvider", "string", "codecommit", "Where the code lives.", allowed=SourceProvider),
    Key("sourceRepository", "string", "", "CodeCommit repository name, or 'owner/name' for github/bitbucket/gitlab. Empty with codecommit: '<project>-<stack>-<serviceName>'."),
    Key("createSourceRepository", "boolean", True, "codecommit only: create the repository (true) or use an existing one named by sourceRepository (false)."),
    Key("sourceBranch", "string", "main", "Branch whose pushes run the pipeline."),
    Key("sourceConnectionArn", "string", "", "Existing CodeConnections/CodeStar connection ARN. Empty: a connection is created (confirm it once in the console)."),
    Key("sourceFilePaths", "array", [], "Connection sources (codecommit too, with services): globs; a push runs the pipeline only if a matching file changed. Empty: any file."),
    Key("appPath", "string", "app", "Folder in the repository that holds the Dockerfile and the app's tests."),
    Key(
        "containerName",
        "string",
        "app",
        "Name of the application container, shared by the build, the task definition / pod and imagedefinitions.json.",
        pattern=_CONTAINER_NAME,
        shape="letters, digits, '-' and '_' (max 255)",
    ),
    Key("containerPort", "integer", 8080, "Port the container listens on; not a privileged port: the container runs as non-root.", minimum=1024, maximum=65535),
    Key("healthCheckPath", "string", BOOTSTRAP_HEALTH_PATH, "HTTP path that answers 200 when the container is healthy."),
    Key(
        "bootstrapImage",
        "string",
        DEFAULT_BOOTSTRAP_IMAGE,
        (
            "Image the first `pulumi up` runs before the pipeline has deployed one: registry/repository with a :tag, an @sha256: digest or both "
            "(pipeline deployments always use a digest); must answer healthCheckPath on containerPort."
        ),
    ),
    Key(
        "imageRetentionCount",
        "integer",
        30,
        "Tagged images kept in the registry; older ones expire. The last 10 deployed images and the last 30 verified ones (Publish stage) are kept as well.",
        minimum=1,
        maximum=1000,
    ),
    Key("untaggedImageExpiryDays", "integer", 1, "Days after which untagged images expire.", minimum=1, maximum=365),
    Key("cpuArchitecture", "string", "x86_64", "CPU architecture of the build and the runtime.", allowed=CpuArchitecture),
    Key("buildComputeType", "string", "BUILD_GENERAL1_SMALL", "CodeBuild compute type."),
    # CodeBuild accepts up to 2160 minutes, but a build in the pipeline ends with CodePipeline's CodeBuild action
    # (8 hours), which counts the time the build waited in CodeBuild's queue.
    Key(
        "buildTimeoutMinutes",
        "integer",
        20,
        f"CodeBuild build timeout in minutes. CodePipeline ends a CodeBuild action after {CODEBUILD_ACTION_MAX_MINUTES // 60} hours, "
        f"the build's {CODEBUILD_QUEUED_TIMEOUT_MINUTES} minutes at most in CodeBuild's queue included.",
        minimum=5,
        maximum=CODEBUILD_ACTION_MAX_MINUTES - CODEBUILD_QUEUED_TIMEOUT_MINUTES,
    ),
    Key("logRetentionDays", "integer", 30, "Retention of every log group, in days (the values CloudWatch Logs accepts).", allowed=LOG_RETENTION_DAYS),
    # CodePipeline stage rollback re-runs the stage with the artifacts of its last successful execution
    # (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html); once they have
    # expired the rollback fails. A week lets a service deployed weekly still roll back.
    Key(
        "artifactExpiryDays", "integer", 30, "Days after which pipeline artifacts expire; stage rollback needs the last successful execution's artifacts.", minimum=7, maximum=3650
    ),
    Key(
        "promoteFrom",
        "string",
        "",
        "Promote instead of build: the stack whose verified images this stack deploys (a stack of this project such as 'dev', or "
        "'organization/project/stack'); this stack then has no source, build or registry of its own. Empty: this stack builds from source.",
    ),
    Key(
        "promoteFromAccount",
        "string",
        "",
        "With promoteFrom: the 12-digit account id of the promoteFrom stack when it runs in another account (this stack then lets that "
        "account send its pipeline events here). Empty: the same account as this stack.",
    ),
    Key(
        "promoteToAccounts",
        "array",
        [],
        "On a building stack: 12-digit account ids of promoting stacks in other accounts, which may pull and inspect its images and "
        "receive its pipeline events. Empty: none (a promoting stack in this account needs no grant).",
    ),
    Key("vpcId", "string", "", "Existing VPC id. Empty: a new VPC is created."),
    Key("publicSubnetIds", "array", [], "With vpcId: public subnet ids (at least two AZs) for the load balancer."),
    Key("privateSubnetIds", "array", [], "With vpcId: private subnet ids (at least two AZs, with a NAT route) for the workload."),
    Key("vpcCidr", "string", "10.0.0.0/16", "CIDR of a created VPC.", prefix_lengths=(16, 24)),
    Key("natGateways", "string", "single", "NAT gateways of a created VPC: a single one is cheaper, one per AZ survives an AZ outage.", allowed=NatGateways),
    Key("ingressCidrs", "array", ["0.0.0.0/0"], "CIDRs allowed to reach the load balancer. The default is the whole internet: this is a public service."),
    Key("certificateArn", "string", "", "ACM certificate ARN: serve HTTPS on 443 and redirect HTTP to it. Empty: HTTP only (production needs allowPlainHttp)."),
    Key("serviceDomain", "string", "", "DNS name clients use (serviceUrl's host); required with certificateArn, which must cover it. Empty: the load balancer's DNS name."),
    Key("hostedZoneId", "string", "", "Public Route 53 hosted zone of serviceDomain: the stack creates its alias A record to the load balancer. Empty: you point the name."),
    Key(
        "allowPlainHttp",
        "boolean",
        False,
        "Production without certificateArn: accept that the public service answers plain HTTP on port 80. Without it such a stack is refused.",
    ),
    Key("albAccessLogs", "string", "auto", "ALB access logs to a stack-owned S3 bucket (SSE-S3, expiring with logRetentionDays); auto: on when production.", allowed=Toggle),
    Key(
        "waf",
        "string",
        "auto",
        "A WAFv2 web ACL on the ALB: AWS managed rule groups (common rules, known bad inputs, IP reputation list) and a per-IP rate limit; auto: on when production.",
        allowed=Toggle,
    ),
    Key("albDeletionProtection", "string", "auto", "ALB deletion protection: AWS refuses to delete the load balancer while it is on; auto: on when production.", allowed=Toggle),
    Key("desiredCount", "integer", 2, "Running copies of the service (tasks or pods).", minimum=1, maximum=100),
    Key(
        "deploymentTimeoutMinutes",
        "integer",
        15,
        "Minutes the pipeline's deploy action waits for a healthy deployment before failing. On ECS with a blue-green, canary or linear "
        f"deploymentStrategy the default means {TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES}, and a deployment's worst case must fit in it.",
        minimum=1,
        # The CodePipeline ECS deploy action's limit (constants.ECS_DEPLOY_ACTION_MAX_MINUTES).
        maximum=ECS_DEPLOY_ACTION_MAX_MINUTES,
    ),
    Key("ecsCpu", "integer", 256, "Fargate task CPU units.", ECS_ONLY, allowed=tuple(FARGATE_CPU_MEMORY)),
    Key("ecsMemory", "integer", 512, "Fargate task memory (MiB); must pair with ecsCpu.", ECS_ONLY),
    # The ECS service's deploymentConfiguration: strategy ROLLING | BLUE_GREEN | LINEAR | CANARY (botocore
    # ecs 2014-11-13 DeploymentStrategy). EKS reads it too, to refuse anything but a rolling update.
    Key(
        "deploymentStrategy",
        "string",
        "auto",
        "How ECS moves the service to a new revision: rolling replaces the tasks in place; the others start the new revision beside the old "
        "one and move the load balancer's traffic to it at once (blue-green), a share first (canary) or in steps (linear), see docs/safety.md. "
        "auto: canary when production, else rolling. EKS: rolling only.",
        allowed=DeploymentStrategyKind,
    ),
    # Ranges as the ECS API documents them: canaryPercent "multiples of 0.1 from 0.1 to 100.0" (CanaryConfiguration),
    # stepPercent "multiples of 0.1 from 3.0 to 100.0" (LinearConfiguration), the bakes "0 to 1440 minutes"
    # (both, and pulumi-aws's bake_time_in_minutes: "Valid range: 0-1440 minutes"). Defaults are this project's,
    # chosen to fit the 30-minute default timeout (duration.py): ECS's linear default (10 % every 6 min, 9 bakes)
    # alone takes 54 of the deploy action's 60 minutes, and a 10 % canary sees twice the requests of ECS's 5 %.
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CanaryConfiguration.html
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html
    Key(
        "canaryPercent",
        "number",
        10.0,
        "canary: percent of production traffic the new revision gets for canaryBakeMinutes; the rest follows at once.",
        ECS_ONLY,
        minimum=0.1,
        maximum=100.0,
        step=0.1,
    ),
    Key(
        "canaryBakeMinutes",
        "integer",
        5,
        "canary: minutes the canary share runs (a deployment alarm rolls back) before the rest of the traffic moves.",
        ECS_ONLY,
        minimum=0,
        maximum=1440,
    ),
    Key("linearStepPercent", "number", 25.0, "linear: percent of production traffic moved at each step.", ECS_ONLY, minimum=3.0, maximum=100.0, step=0.1),
    Key("linearStepBakeMinutes", "integer", 3, "linear: minutes between two steps (none after the last).", ECS_ONLY, minimum=0, maximum=1440),
    Key(
        "deploymentBakeMinutes",
        "integer",
        5,
        "blue-green, canary, linear: ECS's final bake, minutes both revisions keep running after all traffic has moved (a deployment alarm "
        "rolls back at once) before the old one stops. Not bakeTimeMinutes, which watches the alarms after the deploy action has succeeded.",
        ECS_ONLY,
        minimum=0,
        maximum=1440,
    ),
    Key(
        "smokeTestPaths",
        "array",
        [],
        "blue-green, canary, linear: absolute URL paths (e.g. /api/status) the smoke-test hook requests on the test listener, besides "
        "healthCheckPath, before production traffic moves; a failing one rolls the deployment back. At most 20.",
        ECS_ONLY,
    ),
    # Any port from 1024: the production listeners use 80 and 443, which the floor keeps free (and with
    # them every well-known port a scanner flags when open). It may equal containerPort: the listener
    # port is the load balancer's, the container port the tasks'; they never share a socket.
    Key(
        "testListenerPort",
        "integer",
        9000,
        "blue-green, canary, linear: load balancer port of the test listener, which reaches the new revision before production traffic does.",
        ECS_ONLY,
        minimum=1024,
        maximum=65535,
    ),
    Key(
        "testListenerCidrs",
        "array",
        [],
        "blue-green, canary, linear: CIDRs allowed to reach the test listener besides the smoke-test hook (not the whole internet: it serves the "
        "unreleased revision). Empty: the hook only. With vpcId the stack looks up the NAT gateway addresses the hook goes out through; "
        "list the address here only when the private subnets reach the internet through something else (a transit gateway, a firewall).",
        ECS_ONLY,
    ),
    # The canary judge (functions/canary_judge.py): canary and linear only, where both revisions serve production
    # traffic on the same minutes. Defaults: a new revision may be up to 1.5 times worse than the old one; a 5xx rate
    # up to 0.5 % and a latency up to 100 ms never fail; 50 requests each before a verdict.
    Key(
        "canaryMetrics",
        "array",
        ["errors", "latency"],
        "canary, linear: what the canary judge compares between the new and the old revision on the same minutes: errors (5xx rate of "
        "each revision's target group), latency (canaryLatencyPercentile). At least one; 'errors', 'latency'.",
        ECS_ONLY,
    ),
    Key(
        "canaryTolerancePercent",
        "integer",
        50,
        "canary, linear: how much worse than the old revision the new one may be, relative (50: up to 1.5 times its 5xx rate or latency).",
        ECS_ONLY,
        minimum=0,
        maximum=1000,
    ),
    Key(
        "canaryErrorFloorPercent",
        "number",
        0.5,
        "canary, linear: a new revision's 5xx rate at or below this percent never fails the canary judge, however it compares.",
        ECS_ONLY,
        minimum=0.0,
        maximum=100.0,
        step=0.1,
    ),
    Key(
        "canaryLatencyFloorMs",
        "integer",
        100,
        "canary, linear: a new revision's latency at or below this many milliseconds never fails the canary judge, however it compares.",
        ECS_ONLY,
        minimum=0,
        maximum=60000,
    ),
    Key(
        "canaryMinRequests",
        "integer",
        50,
        "canary, linear: requests each revision must have served on the compared minutes before the canary judge gives a verdict; fewer is "
        "'not enough traffic' (canaryNotEnoughTraffic).",
        ECS_ONLY,
        minimum=1,
        maximum=1000000,
    ),
    Key("canaryLatencyPercentile", "string", "p99", "canary, linear: the latency statistic the canary judge compares.", ECS_ONLY, allowed=("p95", "p99")),
    Key(
        "canaryNotEnoughTraffic",
        "string",
        "continue",
        "canary, linear: what happens when, at the last traffic shift, the canary judge still has not enough traffic to judge: the deployment continues, or rolls back.",
        ECS_ONLY,
        allowed=("continue", "rollback"),
    ),
    Key("notificationEmails", "array", [], "Email addresses subscribed to the delivery topic (pipeline events, approvals, alarms). Each confirms once by email."),
    Key("notificationHttpsEndpoints", "array", [], "HTTPS endpoints subscribed to the delivery topic (chat webhooks, incident tools)."),
    Key("alarm5xxPercent", "integer", 5, "Alarm when 5xx responses exceed this percent of requests.", minimum=1, maximum=100),
    Key("alarmLatencyP95Ms", "integer", 1000, "Alarm when the p95 target response time exceeds this many milliseconds.", minimum=10, maximum=60000),
    Key("alarmUnhealthyTargets", "integer", 1, "Alarm when at least this many targets are unhealthy.", minimum=1, maximum=100),
    Key("alarmCpuPercent", "integer", 85, "Alarm when service CPU utilisation exceeds this percent.", minimum=10, maximum=100),
    Key("alarmMemoryPercent", "integer", 85, "Alarm when service memory utilisation exceeds this percent.", minimum=10, maximum=100),
    Key("manualApproval", "string", "auto", "Manual approval before Deploy; auto: on when production.", allowed=Toggle),
    Key(
        "bakeTimeMinutes",
        "integer",
        10,
        "Production: minutes the Deploy stage watches the service alarms before it succeeds; 0 turns the watch off, and a watch lasts "
        f"at least {ALARM_DETECTION_MINUTES} (the time the alarms need to fire).",
        minimum=0,
        maximum=60,
    ),
    Key(
        "deploymentWindowCron",
        "string",
        "",
        "Deploy only inside this window: a CodePipeline DeploymentWindow cron 'seconds minutes hours day-of-month month "
        "day-of-week [year]' (seconds '*', '?' in one day field), e.g. '* * 9-16 ? * MON-THU' (Monday to Thursday, "
        "09:00-16:59). Empty: any time. With blockDeployWhileAlarming, the stage before Deploy waits for the window and checks it "
        "again when done, and Deploy's entry then reads the alarm.",
    ),
    Key("deploymentWindowTimeZone", "string", "UTC", "Time zone of deploymentWindowCron: UTC or an IANA time zone name such as Europe/Berlin."),
    Key("blockDeployWhileAlarming", "boolean", False, "Do not enter the Deploy stage while a service alarm is firing."),
    Key(
        "scanSeverityThreshold",
        "string",
        "auto",
        "The scan gate: the least severe vulnerability (CodePipeline's InspectorScan action on the built digest, the upstream's SBOM in a "
        "promoting stack) that stops the image before it deploys; off: no scan (refused in production). auto: high when production, else critical; "
        "off in cn-north-1 and cn-northwest-1, which have no InspectorScan action.",
        allowed=ScanThreshold,
    ),
    Key(
        "imageSigning",
        "string",
        "auto",
        "The build signs each pushed digest with the stack's AWS Signer profile (Notation), and the image is verified against it before it "
        "deploys; off: neither (refused in production). auto: on.",
        allowed=Toggle,
    ),
    Key("auditTrail", "string", "auto", "CloudTrail trail for this stack; auto: on when production (off under an organisation trail).", allowed=Toggle),
    Key(
        "eksClusterName",
        "string",
        "",
        "Existing EKS cluster to deploy into (set vpcId and the subnets to its VPC). Empty: the stack creates an EKS Auto Mode cluster (x86_64 only).",
        EKS_ONLY,
    ),
    Key(
        "eksKubernetesVersion",
        "string",
        "1.35",
        "Kubernetes version of the created cluster (or of the existing one), one in EKS standard support; the manifests are validated against it.",
        EKS_ONLY,
        allowed=EKS_KUBERNETES_VERSIONS,
    ),
    Key(
        "eksPublicAccessCidrs",
        "array",
        [],
        "CIDRs allowed to reach a created cluster's public API endpoint (for operators' kubectl; pulumi up never needs it). Empty: private endpoint only.",
        EKS_ONLY,
    ),
    Key(
        "eksLoadBalancing",
        "string",
        "auto-mode",
        "Who registers the pods in the target group: EKS Auto Mode, or the AWS Load Balancer Controller an existing cluster runs.",
        EKS_ONLY,
        allowed=EksLoadBalancing,
    ),
    Key("eksPodCpuMillicores", "integer", 250, "CPU request and limit of each pod, in millicores.", EKS_ONLY, minimum=100, maximum=8000),
    Key("eksPodMemoryMiB", "integer", 512, "Memory request and limit of each pod, in MiB.", EKS_ONLY, minimum=128, maximum=32768),
)
