"""The EKS part (deployTarget eks only): an existing cluster or a created one, its API access, load balancing and pod size."""

from __future__ import annotations

import ipaddress
import re

from components.settings.enums import CpuArchitecture, EksLoadBalancing
from components.settings.keys import KEYS
from components.settings.model import EksSettings
from components.settings.network import cidr_problem
from components.settings.reading import _duplicates, _enum, _fail, _in_range, _Reader

_EKS_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _eks(reader: _Reader) -> EksSettings:
    cluster = reader.get("eksClusterName") or None
    if cluster:
        if not _EKS_CLUSTER_NAME.match(cluster):
            raise _fail("eksClusterName", cluster, "allowed: 1-100 letters, digits, '-' and '_', starting with a letter or digit", "copy the name from the EKS console")
        if not reader.get("vpcId"):
            raise _fail(
                "eksClusterName",
                cluster,
                "an existing cluster needs vpcId: the load balancer must be in the cluster's VPC",
                "set vpcId, publicSubnetIds and privateSubnetIds to the cluster's VPC and subnets",
            )
        if reader.is_set("eksPublicAccessCidrs"):
            raise _fail(
                "eksPublicAccessCidrs",
                list(reader.get("eksPublicAccessCidrs")),
                "only used when the stack creates the cluster",
                "remove eksPublicAccessCidrs, or remove eksClusterName",
            )
    version = reader.get("eksKubernetesVersion")
    versions = KEYS["eksKubernetesVersion"].allowed_values
    if version not in versions:
        raise _fail("eksKubernetesVersion", version, f"allowed: {', '.join(versions)} (EKS standard support)", f"set eksKubernetesVersion to {versions[-1]}")
    cidrs = reader.get("eksPublicAccessCidrs")
    for block in cidrs:
        problem = cidr_problem(block)
        if problem:
            raise _fail("eksPublicAccessCidrs", block, problem[0], problem[1])
        parsed = ipaddress.ip_network(block)
        if parsed.version != 4:
            raise _fail("eksPublicAccessCidrs", block, "the EKS public endpoint accepts IPv4 CIDRs only", "use an IPv4 CIDR")
        if parsed.prefixlen == 0:
            raise _fail(
                "eksPublicAccessCidrs",
                block,
                "the Kubernetes API must not be open to the whole internet",
                "list your operators' egress CIDRs, or remove eksPublicAccessCidrs for a private endpoint",
            )
    if _duplicates(list(cidrs)):
        raise _fail("eksPublicAccessCidrs", list(cidrs), "each CIDR block once", f"remove the repeated {_duplicates(list(cidrs))[0]!r}")
    load_balancing = _enum(reader, "eksLoadBalancing")
    if not cluster and load_balancing is not EksLoadBalancing.AUTO_MODE:
        raise _fail(
            "eksLoadBalancing",
            load_balancing.value,
            "a created cluster runs EKS Auto Mode",
            "remove eksLoadBalancing, or set eksClusterName to a cluster that runs the AWS Load Balancer Controller",
        )
    if not cluster and reader.get("cpuArchitecture") == CpuArchitecture.ARM64.value:
        # The image is built for one architecture and the pods are pinned to it; EKS Auto Mode's
        # built-in general-purpose node pool offers amd64 only (system is tainted for add-ons).
        # https://docs.aws.amazon.com/eks/latest/userguide/set-builtin-node-pools.html
        raise _fail(
            "cpuArchitecture",
            "arm64",
            "a created EKS Auto Mode cluster runs the workload on its general-purpose node pool, which offers amd64 nodes only",
            "set cpuArchitecture to x86_64, or set eksClusterName to a cluster with an arm64 node pool",
        )
    container = reader.get("containerName")
    if not _DNS_LABEL.match(container):
        raise _fail("containerName", container, "with deployTarget eks: a DNS label (1-63 chars of a-z, 0-9 and '-')", "use e.g. 'app'")
    return EksSettings(
        cluster_name=cluster,
        kubernetes_version=version,
        public_access_cidrs=cidrs,
        load_balancing=load_balancing,
        pod_cpu_millicores=_in_range(reader, "eksPodCpuMillicores"),
        pod_memory_mib=_in_range(reader, "eksPodMemoryMiB"),
    )
