"""The EKS part (deployTarget eks only): an existing cluster or a created one, its API access, load balancing and pod size."""

from __future__ import annotations

import ipaddress
import re
from datetime import date

from components.settings.constants import EKS_KUBERNETES_VERSIONS, EKS_STANDARD_SUPPORT_ENDS, EKS_SUPPORT_WARNING_DAYS
from components.settings.enums import EksLoadBalancing
from components.settings.model import EksSettings
from components.settings.network import cidr_problem
from components.settings.reading import _duplicates, _enum, _fail, _in_range, _Reader

_EKS_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _next_minor(version: str) -> str | None:
    """The allowed version one minor above `version` (EKS upgrades one minor version at a time)."""
    major, _, minor = version.partition(".")
    following = f"{major}.{int(minor) + 1}" if minor.isdigit() else ""
    return following if following in EKS_KUBERNETES_VERSIONS else None


def kubernetes_version_problem(version: str, existing_cluster: str | None) -> tuple[str, str] | None:
    """(what is allowed, the fix) when `version` may not be named, else None. A version whose standard
    support has ended gets its own message: EKS has upgraded (or is about to upgrade) such a cluster."""
    allowed = ", ".join(EKS_KUBERNETES_VERSIONS)
    if version in EKS_KUBERNETES_VERSIONS:
        return None
    if version not in EKS_STANDARD_SUPPORT_ENDS:
        return f"allowed: {allowed} (EKS standard support)", f"set eksKubernetesVersion to {EKS_KUBERNETES_VERSIONS[-1]}"
    ended = EKS_STANDARD_SUPPORT_ENDS[version].isoformat()
    if existing_cluster:
        return (
            f"EKS standard support for {version} ended on {ended}; allowed: {allowed}",
            f"set eksKubernetesVersion to the version cluster {existing_cluster!r} runs once its owners (or EKS) have upgraded it "
            f"(aws eks describe-cluster --name {existing_cluster} --query cluster.version)",
        )
    upgrade = _next_minor(version) or EKS_KUBERNETES_VERSIONS[0]
    return (
        f"EKS standard support for {version} ended on {ended}, and EKS then upgrades the cluster to {upgrade} itself (upgrade policy STANDARD); allowed: {allowed}",
        f"set eksKubernetesVersion to {upgrade} and run `pulumi up --refresh`, which upgrades the cluster if EKS has not yet (docs/eks.md, Kubernetes versions)",
    )


def standard_support_notice(version: str, today: date, existing_cluster: str | None = None) -> str | None:
    """The warning `pulumi preview` and `pulumi up` show from EKS_SUPPORT_WARNING_DAYS before `version`'s
    standard support ends (and after), or None. Pure: the caller passes the date."""
    ends = EKS_STANDARD_SUPPORT_ENDS.get(version)
    if ends is None or (ends - today).days > EKS_SUPPORT_WARNING_DAYS:
        return None
    upgrade = _next_minor(version) or "the next minor version"
    days = (ends - today).days
    when = f"ends on {ends.isoformat()} (in {days} days)" if days > 0 else f"ended on {ends.isoformat()} ({-days} days ago)" if days < 0 else f"ends today ({ends.isoformat()})"
    if existing_cluster:
        return (
            f"eksKubernetesVersion {version}: EKS standard support {when}. Once cluster {existing_cluster!r} runs {upgrade} "
            f"(its owners upgrade it, or EKS does under upgrade policy STANDARD), set eksKubernetesVersion to {upgrade}."
        )
    return (
        f"eksKubernetesVersion {version}: EKS standard support {when}. Then EKS upgrades the cluster (upgrade policy STANDARD) "
        f"to {upgrade} itself, and {version} in this stack asks EKS for a downgrade it refuses at the next `pulumi up --refresh`. "
        f"Set eksKubernetesVersion to {upgrade} and run `pulumi up --refresh` (docs/eks.md, Kubernetes versions)."
    )


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
    problem = kubernetes_version_problem(version, cluster)
    if problem:
        raise _fail("eksKubernetesVersion", version, *problem)
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
