"""Container Insights on a created cluster: the `amazon-cloudwatch-observability` add-on, pinned to a
version whose default metrics are the ones the CPU and memory alarms read, and those metrics.

The add-on is the Helm chart aws-observability/helm-charts `charts/amazon-cloudwatch-observability`
packaged by EKS. Its CloudWatch agent runs two pipelines with separate switches (the chart's values.yaml):
Classic Container Insights (`containerInsights.enabled`, true in every version below), which publishes
the `ContainerInsights` metrics the alarms read, and OpenTelemetry Container Insights
(`otelContainerInsights.enabled`), whose metrics have other names and are queried with PromQL, so
alarms on Classic names never read them. Chart 6.0.0 turned the OpenTelemetry pipeline on by default
("Introduce OTel Container Insights (enabled by default)"), 6.2.0 off again ("Disable Otel Container
Insights by default"): RELEASE_NOTES.

Functions that create resources under the target component (`parent`): their names and parents are
the ones they had as the target's methods, so no URN changed when they moved here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import MetricRef

CONTAINER_INSIGHTS_NAMESPACE = "ContainerInsights"
CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
# The add-on version a created cluster runs. Omitted, EKS installs the version it marks default for the
# cluster's Kubernetes version, which changes over time ("The version with True in the Defaultversion
# column is the version that the add-on is created with", EKS user guide, eks-add-ons). v6.2.0-eksbuild.1
# is the version the CloudWatch guide names for this add-on
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html):
# Classic Container Insights on, OpenTelemetry Container Insights off by default. Moving it: docs/eks.md.
CONTAINER_INSIGHTS_ADDON_VERSION = "v6.2.0-eksbuild.1"

# The Classic dimension set of the per-service pod metrics: the CloudWatch agent's EMF exporter declares
# [Service, Namespace, ClusterName] for pod_cpu_utilization_over_pod_limit and
# pod_memory_utilization_over_pod_limit (aws/amazon-cloudwatch-agent
# translator/translate/otel/exporter/awsemf/kubernetes.go), and tags pods with their Service by default
# (tag_service, default true). https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-EKS.html
_PER_SERVICE = frozenset({"ClusterName", "Namespace", "Service"})
_CLASSIC_POD_LIMIT_METRICS = frozenset(
    (CONTAINER_INSIGHTS_NAMESPACE, metric, _PER_SERVICE) for metric in ("pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit")
)


@dataclass(frozen=True)
class AddonDefaults:
    """What one add-on version publishes with its default configuration."""

    metrics: frozenset[tuple[str, str, frozenset[str]]]
    """(namespace, metric name, dimension names) of the metrics alarms could read. Only the per-service
    pod metrics are listed: the ones this stack's alarms and dashboard read."""
    otel_by_default: bool
    """The OpenTelemetry pipeline is on as well: a second copy of the metrics, under other names, that
    no alarm here reads and that is ingested (and billed) besides the Classic ones."""


# Versions whose default metrics are known (from their chart's values.yaml and RELEASE_NOTES), each with
# an EKS add-on version string AWS documents: v4.10.3-eksbuild.1 (pinned in aws-observability/
# application-signals-demo), v6.0.1-eksbuild.1 (CloudWatch guide, container-insights-otel-metrics),
# v6.2.0-eksbuild.1 (CloudWatch guide, install-CloudWatch-Observability-EKS-addon).
ADDON_DEFAULTS: dict[str, AddonDefaults] = {
    "v4.10.3-eksbuild.1": AddonDefaults(metrics=_CLASSIC_POD_LIMIT_METRICS, otel_by_default=False),
    "v6.0.1-eksbuild.1": AddonDefaults(metrics=_CLASSIC_POD_LIMIT_METRICS, otel_by_default=True),
    "v6.2.0-eksbuild.1": AddonDefaults(metrics=_CLASSIC_POD_LIMIT_METRICS, otel_by_default=False),
}


def eks_saturation_metrics(cluster_name: pulumi.Input[str], namespace: str, service_name: str) -> list[MetricRef]:
    """Pod CPU and memory utilisation (percent of the limits) per Kubernetes service, from Container
    Insights (the amazon-cloudwatch-observability add-on must be installed to publish them)."""
    dimensions = {"ClusterName": cluster_name, "Namespace": namespace, "Service": service_name}
    return [
        MetricRef(CONTAINER_INSIGHTS_NAMESPACE, "pod_cpu_utilization_over_pod_limit", dimensions, "cpu"),
        MetricRef(CONTAINER_INSIGHTS_NAMESPACE, "pod_memory_utilization_over_pod_limit", dimensions, "memory"),
    ]


def container_insights(name: str, cluster: aws.eks.Cluster, *, tags: dict[str, str], context: AwsContext, parent: pulumi.Resource) -> None:
    """The CloudWatch Observability add-on publishes the Container Insights pod metrics that the
    CPU and memory alarms watch; its agent gets CloudWatch rights through EKS Pod Identity
    (built into Auto Mode). An existing cluster must run the add-on already (docs/eks.md).
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html
    """
    role = aws.iam.Role(
        f"{name}-cloudwatch-agent-role",
        description="CloudWatch agent of the amazon-cloudwatch-observability add-on (EKS Pod Identity)",
        assume_role_policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "pods.eks.amazonaws.com"},
                        # Pod Identity needs TagSession as well as AssumeRole.
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            }
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    attachment = aws.iam.RolePolicyAttachment(
        f"{name}-cloudwatch-agent-policy",
        role=role.name,
        # The AWS-managed policy the add-on's documentation prescribes for its agent.
        policy_arn=context.managed_policy("CloudWatchAgentServerPolicy"),
        opts=pulumi.ResourceOptions(parent=role),
    )
    aws.eks.Addon(
        f"{name}-container-insights",
        cluster_name=cluster.name,
        addon_name=CONTAINER_INSIGHTS_ADDON,
        # A changed version is an in-place UpdateAddon (addon_version is not replace-only).
        addon_version=CONTAINER_INSIGHTS_ADDON_VERSION,
        pod_identity_associations=[{"role_arn": role.arn, "service_account": "cloudwatch-agent"}],
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        tags=tags,
        # The agent starts with the add-on: its role's policy must be attached by then.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[attachment]),
    )
