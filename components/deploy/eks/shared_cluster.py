"""The EKS Auto Mode cluster of a stack with several services: created once by the stack (not by one service's
target, so removing a service keeps it), each service in its own namespace of it (`EksTargetArgs.cluster`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.aws_context import AwsContext
from components.deploy.eks.cluster import ControlPlaneLogs, auto_mode_cluster, created_cluster_name
from components.deploy.eks.insights import container_insights

TYPE = "container-cicd:deploy:EksCluster"


@dataclass(frozen=True)
class EksClusterArgs:
    name_prefix: str
    """Physical-name prefix of the stack (project-stack-serviceName): the cluster is named from it."""
    kubernetes_version: str
    """Kubernetes version of the cluster (eksKubernetesVersion)."""
    network_variant: str
    """What decides the cluster's VPC (vpcId, or the created VPC's CIDR): part of the cluster's name."""
    public_access_cidrs: tuple[str, ...]
    """Who may reach the public API endpoint. Empty: private endpoint only (eksPublicAccessCidrs)."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """The VPC's private subnets: the cluster's and its nodes'."""
    logs: ControlPlaneLogs
    """Retention, key and retention-on-delete of the control-plane log group."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the taggable children. Omitted: untagged."""


class EksCluster(pulumi.ComponentResource):
    """The stack's Auto Mode cluster with its roles, secrets key, control-plane logs and Container Insights.

    Outputs: `cluster` (the aws.eks.Cluster), `cluster_name` (its physical name, known up front)."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        context = AwsContext(self)
        self.cluster_name = created_cluster_name(args.name_prefix, args.network_variant)
        self.cluster = auto_mode_cluster(
            name,
            name_prefix=args.name_prefix,
            kubernetes_version=args.kubernetes_version,
            network_variant=args.network_variant,
            public_access_cidrs=args.public_access_cidrs,
            subnet_ids=args.subnet_ids,
            logs=args.logs,
            tags=args.tags,
            context=context,
            parent=self,
        )
        container_insights(name, self.cluster, tags=args.tags, context=context, parent=self)
        self.register_outputs({"cluster_name": self.cluster.name})
