"""The EKS cluster of a stack with several services: created once by the stack in EKS Auto Mode (not by one service's
target, so removing a service keeps it), or the existing one eksClusterName names, each service in its own namespace
(`DeployInputs.shared_cluster`). Its nodes' security group is one for all the services' pods: the load balancer is
opened to it once per container port (`open_to`), not once per service (EC2 refuses a rule twice)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.deploy.eks.cluster import ControlPlaneLogs, auto_mode_cluster, created_cluster_name
from components.deploy.eks.insights import container_insights
from components.network.attach import Attachment

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
    existing_cluster_name: str | None = None
    """An existing cluster the services go into (eksClusterName): looked up, nothing created. Omitted: created."""


class EksCluster(pulumi.ComponentResource):
    """The stack's cluster: a created Auto Mode cluster with its roles, secrets key, control-plane logs and Container
    Insights, or an existing one looked up.

    Outputs: `cluster` (the created aws.eks.Cluster; None for an existing one), `cluster_name` (its physical name),
    `node_security_group_id` (the cluster security group its nodes and pods carry)."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self.cluster: aws.eks.Cluster | None = None
        if args.existing_cluster_name:
            existing = aws.eks.get_cluster_output(name=args.existing_cluster_name, opts=pulumi.InvokeOutputOptions(parent=self))
            self.cluster_name = args.existing_cluster_name
            self.node_security_group_id: pulumi.Output[str] = existing.vpc_config.cluster_security_group_id
        else:
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
            # Auto Mode nodes (and so the pods, which share the node's ENIs) carry the EKS-created cluster security group.
            self.node_security_group_id = self.cluster.vpc_config.cluster_security_group_id
            container_insights(name, self.cluster, tags=args.tags, context=context, parent=self)
        self.register_outputs({"cluster_name": self.cluster_name})

    def open_to(self, attachment: Attachment, ports: Sequence[int], first_port: int) -> None:
        """The load balancer reaches the pods on each of `ports` (the services' container ports), one rule pair per
        port for all the services that listen on it: `<name>-alb-to-pods` for `first_port` (the stack's top-level
        containerPort), `<name>-<port>-alb-to-pods` for any other. Any service's attachment names the load balancer."""
        for port in sorted(set(ports)):
            attachment.connect(self._name if port == first_port else f"{self._name}-{port}", self.node_security_group_id, port, parent=self, workload="pods")
