"""ECR rules: repositories scan, pin and encrypt their images; no repository is open to everyone."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from .common import Subject, _document, _get, _items, _public_principal, _sid, _statements, _true, rule, stack_rule

ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ECR_REGISTRY_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
ECR_PUBLIC_REPOSITORY = "aws:ecrpublic/repository:Repository"


def _enhanced_scanning_covers(registry_scanning: Mapping[str, Any], repository_name: Any) -> bool:
    if _get(registry_scanning, "scanType") != "ENHANCED":
        return False
    for scan_rule in _items(_get(registry_scanning, "rules")):
        for flt in _items(_get(scan_rule, "repositoryFilters")):
            pattern = _get(flt, "filter")
            if isinstance(pattern, str) and isinstance(repository_name, str) and fnmatch.fnmatchcase(repository_name, pattern):
                return True
    return False


@stack_rule("ecr-image-scanning", "ECR repositories scan images on push, or enhanced scanning covers them (checkov CKV_AWS_163).", types=(ECR_REPOSITORY, ECR_REGISTRY_SCANNING))
def ecr_image_scanning(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    registry_scans = [r.props for r in resources if r.type == ECR_REGISTRY_SCANNING]
    found = []
    for repo in resources:
        if repo.type != ECR_REPOSITORY or _true(_get(repo.props, "imageScanningConfiguration", "scanOnPush")):
            continue
        name = _get(repo.props, "name")
        if any(_enhanced_scanning_covers(scan, name) for scan in registry_scans):
            continue
        found.append(
            (
                repo.urn,
                (
                    f"ECR repository {repo.name} scans no image: set imageScanningConfiguration.scanOnPush=true, "
                    "or cover the repository with an ENHANCED aws:ecr/registryScanningConfiguration rule"
                ),
            )
        )
    return found


@rule("ecr-immutable-tags", "ECR repositories have immutable image tags (checkov CKV_AWS_51).", types=(ECR_REPOSITORY,))
def ecr_immutable_tags(type_: str, props: Mapping[str, Any]) -> list[str]:
    mutability = _get(props, "imageTagMutability") or "MUTABLE"
    if mutability in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        return []
    return [f"ECR repository has imageTagMutability {mutability!r}: set 'IMMUTABLE' so a pushed tag always names the same image"]


@rule("ecr-kms-encryption", "ECR repositories are encrypted with KMS (checkov CKV_AWS_136).", types=(ECR_REPOSITORY,))
def ecr_kms_encryption(type_: str, props: Mapping[str, Any]) -> list[str]:
    kinds = [_get(c, "encryptionType") for c in _items(_get(props, "encryptionConfigurations"))]
    if kinds and all(k in ("KMS", "KMS_DSSE") for k in kinds):
        return []
    shown = kinds[0] if kinds else "AES256 (the default)"
    return [f"ECR repository is encrypted with {shown}: set encryptionConfigurations=[{{encryptionType: 'KMS'}}]"]


@rule(
    "ecr-no-public-policy",
    "ECR repository policies do not open the repository to everyone (checkov CKV_AWS_32, cdk-nag AwsSolutions-ECR1).",
    types=(ECR_REPOSITORY_POLICY, ECR_PUBLIC_REPOSITORY),
)
def ecr_no_public_policy(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ == ECR_PUBLIC_REPOSITORY:
        return ["ECR Public repository: every image is world-readable; use a private aws:ecr/repository:Repository"]
    found = []
    for i, st in enumerate(_statements(_document(_get(props, "policy")))):
        if st.get("Effect") == "Allow" and _public_principal(st.get("Principal")) and not st.get("Condition"):
            found.append(f"ECR repository policy {_sid(st, i)} allows Principal '*' without a Condition: name the accounts or add a condition")
    return found
