"""EKS rules, read from the aws:eks/cluster:Cluster resource's inputs: control-plane logs, secrets
encryption, and an API endpoint that is not open to the internet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import _get, _items, _true, rule

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
_OPEN = ("0.0.0.0/0", "::/0")


@rule("eks-control-plane-logs", "EKS clusters log all control-plane log types (checkov CKV_AWS_37, cdk-nag AwsSolutions-EKS2).", types=(EKS_CLUSTER,))
def eks_control_plane_logs(type_: str, props: Mapping[str, Any]) -> list[str]:
    enabled = set(_items(_get(props, "enabledClusterLogTypes")))
    missing = [t for t in EKS_LOG_TYPES if t not in enabled]
    if not missing:
        return []
    return [f"EKS cluster does not log control-plane types {', '.join(missing)}: set enabledClusterLogTypes to all of {', '.join(EKS_LOG_TYPES)}"]


@rule("eks-secrets-encryption", "EKS clusters encrypt Kubernetes secrets with KMS (checkov CKV_AWS_58).", types=(EKS_CLUSTER,))
def eks_secrets_encryption(type_: str, props: Mapping[str, Any]) -> list[str]:
    config = _get(props, "encryptionConfig")
    if "secrets" in _items(_get(config, "resources")) and _get(config, "provider", "keyArn"):
        return []
    return ["EKS cluster does not encrypt Kubernetes secrets with KMS: set encryptionConfig {resources: ['secrets'], provider: {keyArn}}"]


@rule("eks-public-endpoint", "EKS API endpoints are not public to 0.0.0.0/0 (checkov CKV_AWS_38, cdk-nag AwsSolutions-EKS1).", types=(EKS_CLUSTER,))
def eks_public_endpoint(type_: str, props: Mapping[str, Any]) -> list[str]:
    endpoint = _get(props, "vpcConfig") or {}
    public = _get(endpoint, "endpointPublicAccess")
    if public is not None and not _true(public):
        return []
    # The EKS API defaults to a public endpoint open to 0.0.0.0/0.
    cidrs = _items(_get(endpoint, "publicAccessCidrs")) or ["0.0.0.0/0 (the default)"]
    open_ = [c for c in cidrs if c.split(" ")[0] in _OPEN]
    if not open_:
        return []
    return [f"EKS API endpoint is public to {', '.join(open_)}: set vpcConfig.endpointPublicAccess false, or vpcConfig.publicAccessCidrs to your networks"]
