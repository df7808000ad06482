"""The EKS Auto Mode cluster the target creates when no existing cluster is named: its IAM roles,
secrets key and control-plane logging with its log group (its add-on: insights.py).

Functions that create resources under the target component (`parent`): their names and parents are
the ones they had as the target's methods, so no URN changed when they moved here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.iam import trust_policy
from components.kms import encryption_key
from components.naming import variant_name

# All five control-plane log types. https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# EKS Auto Mode's built-in node pools: general-purpose runs the workload (amd64 only), system runs add-ons.
# https://docs.aws.amazon.com/eks/latest/userguide/set-builtin-node-pools.html
AUTO_MODE_NODE_POOLS = ("general-purpose", "system")
# The Auto Mode cluster role's managed policies (AWS guide "Create an EKS Auto Mode Cluster with the
# AWS CLI"). https://docs.aws.amazon.com/eks/latest/userguide/automode-get-started-cli.html
CLUSTER_ROLE_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
)
# The Auto Mode node role's managed policies (same guide). EKS creates the node role's access entry.
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly")


def created_cluster_name(prefix: str, network: str) -> str:
    """`<prefix>-eks-<hash of the network and compute mode>`: never the name of the pulumi-eks
    cluster of earlier versions (`<prefix>-eks`), nor of the cluster in another VPC, so a
    replacement can be created before the original is deleted."""
    return variant_name(prefix, "eks", 100, {"network": network, "compute": "auto-mode"}, {})


def control_plane_log_group_name(cluster_name: str) -> str:
    """Where EKS sends a cluster's control-plane logs: "The log group name format is
    /aws/eks/my-cluster/cluster." https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html"""
    return f"/aws/eks/{cluster_name}/cluster"


@dataclass(frozen=True)
class ControlPlaneLogs:
    """The stack's CloudWatch Logs settings for the control-plane log group."""

    retention_days: int
    key_arn: pulumi.Input[str]
    """The stack's logs key: its policy lets CloudWatch Logs of this region use it for any log group of the account."""
    production: bool
    """Keep the group in CloudWatch when the cluster goes (`retain_on_delete`)."""


def control_plane_log_group(name: str, cluster_name: str, logs: ControlPlaneLogs, *, tags: dict[str, str], parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    """The group EKS writes the control-plane logs to, created before the cluster with the stack's
    retention and key. Left to EKS, it appears with the first log events: no retention (kept and billed
    forever), no customer managed key, and never deleted. terraform-aws-modules/terraform-aws-eks creates
    it the same way and makes the cluster depend on it (main.tf, aws_cloudwatch_log_group.this).

    The name is fixed by EKS, so a kept group would make CreateLogGroup of the next cluster of the same
    name fail (switching deployTarget back, or `pulumi destroy` and `pulumi up`). A production stack keeps
    it all the same (its logs are audit evidence; re-creating that cluster needs the one documented step,
    docs/eks.md); any other stack's group goes with its cluster. Not protected: a target switch deletes
    the cluster, and a protected group would stop it."""
    return aws.cloudwatch.LogGroup(
        f"{name}-control-plane-logs",
        name=control_plane_log_group_name(cluster_name),
        retention_in_days=logs.retention_days,
        kms_key_id=logs.key_arn,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=logs.production),
    )


def auto_mode_cluster(
    name: str,
    *,
    name_prefix: str,
    kubernetes_version: str,
    network_variant: str,
    public_access_cidrs: Sequence[str],
    subnet_ids: pulumi.Input[Sequence[str]],
    logs: ControlPlaneLogs,
    tags: dict[str, str],
    context: AwsContext,
    parent: pulumi.Resource,
) -> aws.eks.Cluster:
    """An EKS Auto Mode cluster with plain pulumi-aws (no pulumi-eks: it needs the AWS CLI on the
    operator's machine and talks to the API endpoint). research.md Q4; pulumi_aws eks.Cluster
    "EKS Cluster with EKS Auto Mode"."""
    cluster_name = created_cluster_name(name_prefix, network_variant)
    # Not protected: the key goes with the cluster it serves (a switch of deployTarget), and its
    # deletion waits 30 days, during which `aws kms cancel-key-deletion` brings it back.
    key = encryption_key(
        f"{name}-secrets-key",
        description=f"Envelope encryption of Kubernetes secrets in {name_prefix}",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    cluster_role = aws.iam.Role(
        f"{name}-cluster-role",
        description=f"EKS Auto Mode cluster role of {name_prefix}",
        # sts:TagSession: the managed policies condition on ${aws:PrincipalTag/eks:eks-cluster-name}.
        assume_role_policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}],
            }
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-cluster-role-{policy}",
            role=cluster_role.name,
            policy_arn=context.managed_policy(policy),
            opts=pulumi.ResourceOptions(parent=cluster_role),
        )
        for policy in CLUSTER_ROLE_POLICIES
    ]
    node_role = aws.iam.Role(
        f"{name}-node-role",
        description=f"EKS Auto Mode node role of {name_prefix}",
        assume_role_policy=trust_policy("ec2.amazonaws.com"),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    attachments += [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-role-{policy}",
            role=node_role.name,
            policy_arn=context.managed_policy(policy),
            opts=pulumi.ResourceOptions(parent=node_role),
        )
        for policy in NODE_ROLE_POLICIES
    ]
    # First, or EKS creates the group itself with the cluster's first log events (terraform-provider-aws
    # eks_cluster docs: depends_on "to prevent ordering issues with EKS automatically creating the log group first").
    log_group = control_plane_log_group(name, cluster_name, logs, tags=tags, parent=parent)
    public = bool(public_access_cidrs)
    return aws.eks.Cluster(
        f"{name}-cluster",
        # name, role_arn and bootstrap_* are replace-only, and a cluster cannot move to another VPC:
        # the name carries the network, so a replacement is created under a new name first.
        name=cluster_name,
        version=kubernetes_version,
        role_arn=cluster_role.arn,
        vpc_config={
            # Control-plane ENIs and Auto Mode nodes both go into the private subnets only.
            "subnet_ids": subnet_ids,
            "endpoint_private_access": True,
            "endpoint_public_access": public,
            "public_access_cidrs": list(public_access_cidrs) if public else None,
        },
        access_config={
            # Access entries only: no aws-auth ConfigMap.
            "authentication_mode": "API",
            # No standing cluster-admin for whoever runs `pulumi up` (nor a route to use it): the
            # deploy step's role is the only workload identity; operators get an access entry.
            "bootstrap_cluster_creator_admin_permissions": False,
        },
        # EKS Auto Mode: compute, load balancing and block storage all on; no self-managed add-ons.
        bootstrap_self_managed_addons=False,
        compute_config={"enabled": True, "node_pools": list(AUTO_MODE_NODE_POOLS), "node_role_arn": node_role.arn},
        kubernetes_network_config={"elastic_load_balancing": {"enabled": True}},
        storage_config={"block_storage": {"enabled": True}},
        encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
        enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
        # Only standard-support versions are accepted: no extended-support billing at end of life.
        upgrade_policy={"support_type": "STANDARD"},
        tags=tags,
        # Not protected: a switch of deployTarget deletes it, and everything it runs is re-created
        # from the stack (the workload) and the registry (the image). The role's policies must
        # outlive the cluster, or EKS cannot clean up what it created (pulumi_aws docs, role_arn).
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*attachments, log_group]),
    )
