"""EKS settings: parsed only for deployTarget eks, validated with messages that say how to fix them."""

from __future__ import annotations

import re

import pytest

from components.settings import (
    EKS_KUBERNETES_VERSIONS,
    PROJECT,
    DeployTargetKind,
    EksLoadBalancing,
    EksSettings,
    SettingsError,
    parse_settings,
)

EXISTING_VPC = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "privateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}


def parse(**raw):
    return parse_settings(raw, PROJECT, "dev")


def fails(message: str, **raw):
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse(**raw)


def test_eks_settings_exist_only_for_eks():
    assert parse().eks is None
    assert parse(deployTarget="eks").eks == EksSettings(
        cluster_name=None,
        kubernetes_version="1.35",
        public_access_cidrs=(),
        load_balancing=EksLoadBalancing.AUTO_MODE,
        pod_cpu_millicores=250,
        pod_memory_mib=512,
    )


def test_eks_values_are_read():
    settings = parse(
        deployTarget="eks",
        eksKubernetesVersion="1.36",
        eksPublicAccessCidrs=["203.0.113.0/24"],
        eksPodCpuMillicores=1000,
        eksPodMemoryMiB=2048,
    )
    assert settings.deploy_target is DeployTargetKind.EKS
    assert settings.eks.kubernetes_version == "1.36"
    assert settings.eks.public_access_cidrs == ("203.0.113.0/24",)
    assert (settings.eks.pod_cpu_millicores, settings.eks.pod_memory_mib) == (1000, 2048)


def test_existing_cluster_in_an_existing_vpc():
    settings = parse(deployTarget="eks", eksClusterName="platform", eksLoadBalancing="aws-load-balancer-controller", **EXISTING_VPC)
    assert settings.eks.cluster_name == "platform"
    assert settings.eks.load_balancing is EksLoadBalancing.AWS_LOAD_BALANCER_CONTROLLER


def test_eks_key_under_ecs_is_reported():
    fails(
        "eksClusterName: is set but deployTarget is 'ecs', and only eks uses it; Fix: remove it (`pulumi config rm eksClusterName`) or set deployTarget to eks",
        eksClusterName="platform",
    )


def test_ecs_key_under_eks_is_reported():
    fails(
        "ecsCpu: is set but deployTarget is 'eks', and only ecs uses it; Fix: remove it (`pulumi config rm ecsCpu`) or set deployTarget to ecs",
        deployTarget="eks",
        ecsCpu=512,
    )


def test_unsupported_kubernetes_version():
    allowed = ", ".join(EKS_KUBERNETES_VERSIONS)
    fails(
        f"eksKubernetesVersion: '1.29' is not valid; allowed: {allowed} (EKS standard support). Fix: set eksKubernetesVersion to {EKS_KUBERNETES_VERSIONS[-1]}",
        deployTarget="eks",
        eksKubernetesVersion="1.29",
    )


def test_public_endpoint_open_to_the_internet_is_refused():
    fails(
        "eksPublicAccessCidrs: '0.0.0.0/0' is not valid; the Kubernetes API must not be open to the whole internet. "
        "Fix: list your operators' egress CIDRs, or remove eksPublicAccessCidrs for a private endpoint",
        deployTarget="eks",
        eksPublicAccessCidrs=["0.0.0.0/0"],
    )


def test_public_access_cidr_must_be_ipv4_and_valid():
    fails(
        "eksPublicAccessCidrs: '2001:db8::/32' is not valid; the EKS public endpoint accepts IPv4 CIDRs only. Fix: use an IPv4 CIDR",
        deployTarget="eks",
        eksPublicAccessCidrs=["2001:db8::/32"],
    )
    fails(
        "eksPublicAccessCidrs: '10.0.0.300/32' is not valid; not a CIDR block such as 203.0.113.0/24. Fix: write an address and a prefix length, e.g. 203.0.113.0/24",
        deployTarget="eks",
        eksPublicAccessCidrs=["10.0.0.300/32"],
    )


def test_existing_cluster_needs_its_vpc():
    fails(
        "eksClusterName: 'platform' is not valid; an existing cluster needs vpcId: the load balancer must be in the "
        "cluster's VPC. Fix: set vpcId, publicSubnetIds and privateSubnetIds to the cluster's VPC and subnets",
        deployTarget="eks",
        eksClusterName="platform",
    )


def test_existing_cluster_name_format():
    fails(
        "eksClusterName: '-bad name' is not valid; allowed: 1-100 letters, digits, '-' and '_', starting with a letter or digit. Fix: copy the name from the EKS console",
        deployTarget="eks",
        eksClusterName="-bad name",
        **EXISTING_VPC,
    )


def test_public_access_cidrs_are_for_created_clusters_only():
    fails(
        "eksPublicAccessCidrs: ['203.0.113.0/24'] is not valid; only used when the stack creates the cluster. Fix: remove eksPublicAccessCidrs, or remove eksClusterName",
        deployTarget="eks",
        eksClusterName="platform",
        eksPublicAccessCidrs=["203.0.113.0/24"],
        **EXISTING_VPC,
    )


def test_load_balancer_controller_needs_an_existing_cluster():
    fails(
        "eksLoadBalancing: 'aws-load-balancer-controller' is not valid; a created cluster runs EKS Auto Mode. "
        "Fix: remove eksLoadBalancing, or set eksClusterName to a cluster that runs the AWS Load Balancer Controller",
        deployTarget="eks",
        eksLoadBalancing="aws-load-balancer-controller",
    )
    fails(
        "eksLoadBalancing: 'nginx' is not supported; use 'auto-mode' or 'aws-load-balancer-controller'",
        deployTarget="eks",
        eksLoadBalancing="nginx",
    )


def test_container_name_must_be_a_dns_label_on_eks():
    assert parse(containerName="My_App").workload.container_name == "My_App"  # fine for ECS
    fails(
        "containerName: 'My_App' is not valid; with deployTarget eks: a DNS label (1-63 chars of a-z, 0-9 and '-'). Fix: use e.g. 'app'",
        deployTarget="eks",
        containerName="My_App",
    )


@pytest.mark.parametrize(("key", "value", "low", "high"), [("eksPodCpuMillicores", 50, 100, 8000), ("eksPodMemoryMiB", 64, 128, 32768)])
def test_pod_size_ranges(key, value, low, high):
    fails(
        f"{key}: {value} is not valid; allowed: {low} to {high}. Fix: set {key} between {low} and {high}",
        deployTarget="eks",
        **{key: value},
    )


def test_arm64_is_accepted_on_a_created_cluster_an_existing_one_and_on_ecs():
    """A created Auto Mode cluster gets a NodePool for it (tests/test_eks_node_pool.py); an existing cluster's owners provide arm64 nodes."""
    assert parse(deployTarget="eks", cpuArchitecture="arm64").eks.cluster_name is None
    assert parse(deployTarget="eks", eksClusterName="platform", cpuArchitecture="arm64", **EXISTING_VPC).eks.cluster_name == "platform"
    assert parse(cpuArchitecture="arm64").eks is None
