"""Contracts between components: artifact names, stage contributions, the deploy-target interface.

The pipeline is assembled from what each component contributes; nothing here creates resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws

from components.delivery.buildspec import IMAGE_DEFINITIONS_FILE as IMAGE_DEFINITIONS_FILE
from components.delivery.image_record import ImageRecord
from components.iam import Statement
from components.network.attach import Attachment, RouteArgs
from components.network.loadbalancer import LoadBalancer
from components.network.vpc import Network
from components.settings import WorkloadSettings

# Artifact and variable-namespace names, declared once and used by every stage.
SOURCE_ARTIFACT = "SourceOutput"
BUILD_ARTIFACT = "BuildOutput"
SOURCE_NAMESPACE = "SourceVariables"
BUILD_NAMESPACE = "BuildVariables"
# IMAGE_DEFINITIONS_FILE (imported above) is the build's: the buildspec writes it, so it is declared there.
# What the Build stage exports to later actions: the image as a digest reference, and the full commit id.
IMAGE_URI_VARIABLE = f"#{{{BUILD_NAMESPACE}.IMAGE_URI}}"
COMMIT_ID_VARIABLE = f"#{{{BUILD_NAMESPACE}.COMMIT_ID}}"
# The supply-chain gate's namespace in a building stack (the Scan stage's VerifyImage action).
SUPPLY_NAMESPACE = "SupplyVariables"
# The gate actions that export SBOM_URI and SCAN_VERDICT, and their namespaces: a building stack's VerifyImage, a
# promoting stack's CheckVerified (in the Build stage's namespace it stands in for).
GATE_EXPORTERS = {"VerifyImage": SUPPLY_NAMESPACE, "CheckVerified": BUILD_NAMESPACE}


@dataclass(frozen=True)
class StageContribution:
    """One pipeline stage a component contributes, and what the pipeline's role needs to run it."""

    stage: aws.codepipeline.PipelineStageArgs
    pipeline_statements: Sequence[Statement] = ()


class StepEnvironment(Protocol):
    """What a pipeline step's CodeBuild project needs from the stack: its logs and the pipeline's artifacts.
    `DeployInputs` has it (a deploy target's steps); `StepContext` is it alone (steps outside a target)."""

    @property
    def log_retention_days(self) -> int: ...

    @property
    def log_key_arn(self) -> pulumi.Input[str]: ...

    @property
    def tags(self) -> dict[str, str]: ...

    @property
    def artifact_statements(self) -> Sequence[Statement]: ...

    @property
    def artifact_key_arn(self) -> pulumi.Input[str] | None: ...


@dataclass(frozen=True)
class StepContext:
    """A `StepEnvironment` for a step that belongs to no deploy target (the promotion steps)."""

    log_retention_days: int
    """Retention of the step's log group."""
    log_key_arn: pulumi.Input[str]
    """The stack's CloudWatch Logs key: the step's log group is encrypted with it."""
    artifact_statements: Sequence[Statement]
    """What the step's role needs to read and write the pipeline's artifacts."""
    artifact_key_arn: pulumi.Input[str] | None
    """KMS key of the pipeline's artifacts, for the step's project. None: the AWS managed aws/s3 key."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the step's taggable resources. Omitted: untagged."""


@dataclass(frozen=True)
class GateVariables:
    """The supply-chain gate's pipeline variables a deploy step writes into the deployment record."""

    sbom_uri: str
    """`#{<namespace>.SBOM_URI}`: s3://<records bucket>/sbom/<digest>.json."""
    scan_verdict: str
    """`#{<namespace>.SCAN_VERDICT}`: PASSED."""

    @classmethod
    def in_namespace(cls, namespace: str) -> GateVariables:
        return cls(sbom_uri=f"#{{{namespace}.SBOM_URI}}", scan_verdict=f"#{{{namespace}.SCAN_VERDICT}}")

    @classmethod
    def exported_by(cls, stages: Sequence[StageContribution]) -> GateVariables | None:
        """The variables of the gate action among `stages` that exports them (`GATE_EXPORTERS`); None without one (a
        pipeline may only name a namespace an earlier action of its own declares)."""
        # A stage's actions are plain args here (Input only in the type): the program builds them.
        present = {str(action.name) for contribution in stages for action in cast(Sequence[aws.codepipeline.PipelineStageActionArgs], contribution.stage.actions)}
        return next((cls.in_namespace(namespace) for action, namespace in GATE_EXPORTERS.items() if action in present), None)


@dataclass(frozen=True)
class SharedCluster:
    """The cluster a stack of several services creates once for all of them (it belongs to the stack: removing a
    service keeps it); each service's target runs in it (an ECS service, an EKS namespace)."""

    name: str
    """Its physical name, known before it exists."""
    resource: aws.ecs.Cluster | aws.eks.Cluster
    """The cluster, of the stack's deploy target."""


@dataclass(frozen=True)
class DeployInputs:
    """What every deploy target receives from the rest of the stack."""

    workload: WorkloadSettings
    network: Network
    """The stack's VPC: the target runs its tasks or pods in the private subnets."""
    load_balancer: LoadBalancer
    """The stack's ALB: the target attaches itself (`load_balancer.attach`, with `route`, `attachment_name` and
    `standby` below), registers its tasks or pods in the target group it gets, and connects its workload's security
    group to the load balancer's (`Attachment.connect`)."""
    image_record: ImageRecord
    """The image that runs (`image_record.image`: the bootstrap image, then what the pipeline deployed
    last) and the parameter the target's deploy step records each deployment in."""
    repository_url: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    repository_name: pulumi.Input[str]
    log_retention_days: int
    log_key_arn: pulumi.Input[str]
    """The stack's CloudWatch Logs key (`LogsKey`): every log group of the target is encrypted with it."""
    production: bool
    alarm_names: tuple[str, ...] = ()
    """Physical names of the service's CloudWatch alarms (created after the target, names known
    up front): a target rolls a deployment back when one of them fires while it deploys."""
    tags: dict[str, str] = field(default_factory=dict)
    artifact_statements: Sequence[Statement] = ()
    """What a role needs to read the pipeline's artifacts (bucket and key), for targets whose deploy
    action runs under their own role (a CodeBuild deploy step). Omitted: no artifact access."""
    artifact_key_arn: pulumi.Input[str] | None = None
    """KMS key of the pipeline's artifacts, for a deploy step's CodeBuild project. Omitted: the AWS
    managed aws/s3 key."""
    tag_deployed_images: bool = True
    """Tag each deployed image `deployed-<commit tag>` in the repository. False when the repository belongs to
    another account (a promoting stack's upstream, promoteFromAccount), whose policy lets this account pull and
    describe images, not tag them. Omitted: tagged."""
    trusted_signer: pulumi.Input[str] | None = None
    """The AWS Signer profile whose signature an image must carry before the target runs it (the stack's own, or
    a promoting stack's upstream's): a target that applies images itself (EKS's deploy step) verifies it before
    anything is applied. Omitted: None (imageSigning off)."""
    gate_variables: GateVariables | None = None
    """The supply-chain gate's variables, for the deployment record's `sbom` and `scan`. Omitted (the gate does not
    scan): both are null."""
    shared_cluster: SharedCluster | None = None
    """The cluster the stack's services share. Omitted (a stack of one service): the target creates its own, or uses
    the existing cluster its settings name."""
    workload_connected: bool = False
    """True: the stack opens the load balancer to the workload's security group once for all its services (EKS pods
    share their nodes' group, and EC2 refuses the same rule twice), so the target adds no rule pair of its own.
    Omitted: the target connects its workload (`Attachment.connect`)."""
    route: RouteArgs | None = None
    """The service's requests by host and path (a listener rule). Omitted: the listener's default action."""
    attachment_name: str | None = None
    """Stem of the names of what the target attaches to the load balancer. Omitted: the load balancer's own name
    (the implicit service's names)."""
    standby: bool = False
    """nextDeployTarget: the target runs beside the deploy target in a target group of its own with weight 0 (no
    production traffic). Omitted: it serves."""
    hook_source_ips: Sequence[pulumi.Input[str]] = ()
    """Public addresses the stack's functions reach the load balancer from (the NAT gateways' of a created VPC, or
    those looked up in an existing one): a traffic-shifting target opens its test port to them. Omitted: none."""


@dataclass(frozen=True)
class MetricRef:
    """A CloudWatch metric of the running service."""

    namespace: str
    metric_name: str
    dimensions: dict[str, pulumi.Input[str]]
    kind: str
    """'cpu' or 'memory': what saturation it measures, in percent."""


@dataclass(frozen=True)
class ServiceMetrics:
    """Where the running service's metrics live, for alarms and the dashboard."""

    load_balancer: pulumi.Input[str]
    """ALB ARN suffix: the LoadBalancer dimension of AWS/ApplicationELB metrics."""
    target_group: pulumi.Input[str]
    """Target group ARN suffix: the TargetGroup dimension."""
    saturation: Sequence[MetricRef]
    alternate_target_group: pulumi.Input[str] | None = None
    """The second target group's ARN suffix, when the target shifts traffic between two (ECS blue-green,
    canary, linear): after a deployment the service may run in either, so alarms and graphs watch both.
    Omitted: one target group."""


@dataclass(frozen=True)
class FailureEvents:
    """EventBridge events in which a target says it gave up on a deployment (beyond the pipeline's own
    failed-action events, which the notifications route for every target)."""

    rule_suffix: str
    """Child-name suffix of the notifications rule that routes them (`<notifications>-<suffix>`)."""
    description: str
    pattern: dict[str, Any]
    """The EventBridge event pattern (values may be Outputs)."""


class DeployTarget(Protocol):
    """What the rest of the stack needs from a deploy target (ECS, EKS, ...)."""

    @property
    def stages(self) -> Sequence[StageContribution]:
        """The Deploy stage(s), in order, appended after the Build stage."""
        ...

    @property
    def attachment(self) -> Attachment:
        """Its place on the load balancer (target group, rule, URL)."""
        ...

    @property
    def service_url(self) -> pulumi.Output[str]:
        """Public URL of the running service."""
        ...

    @property
    def metrics(self) -> ServiceMetrics:
        """The service's load balancer and saturation metrics."""
        ...

    @property
    def deployment_record_log_groups(self) -> Sequence[pulumi.Output[str]]:
        """Log groups that hold the target's deployment records (functions/deployment_record.py: one JSON
        line per deployment with its verdict); the dashboard queries them. Empty: the target writes none."""
        ...

    @property
    def failure_events(self) -> Sequence[FailureEvents]:
        """Events in which the target reports a failed deployment; empty when the pipeline's failed-action
        events already say everything (the target's deploy action is what fails)."""
        ...

    @property
    def outputs(self) -> Mapping[str, pulumi.Input[str]]:
        """Stack outputs the target adds (what a person needs from it, e.g. manifests an existing cluster's
        administrators apply). Empty: none."""
        ...
