"""The rules of the container-cicd policy pack, as pure functions, one module per AWS service.

A resource rule takes the resource type and its properties as the Pulumi engine hands them to a
policy pack (camelCase keys, nested mappings, JSON documents as strings) and returns the violation
messages; an empty list means compliant or not applicable. A stack rule takes every resource of the
stack (`Subject`) and returns (urn, message) pairs: it is used where compliance depends on a second
resource (an S3 bucket's public access block, ECR enhanced scanning set on the registry). Each rule is
declared once, next to its check, with `@rule(...)` / `@stack_rule(...)` (common.py).

policy/__main__.py adapts these functions to pulumi_policy; tests/test_policy*.py and offline/plan/
call them directly on what the program registers under offline/mocks.py, so all three run the same code.
The package imports its modules relatively: the policy runtime imports it as `rules` (the pack
directory is sys.path[0]), the tests and the offline plan as `policy.rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import audit, codebuild, codepipeline, ecr, ecs, eks, iam, s3
from .audit import CLOUDTRAIL, KMS_KEY, LOG_GROUP, SNS_TOPIC, cloudtrail_kms, cloudtrail_log_validation, kms_rotation, log_group_retention, sns_kms
from .codebuild import (
    CODEBUILD_PROJECT,
    codebuild_kms_key,
    codebuild_logging,
    codebuild_no_plaintext_credentials,
    codebuild_privileged_only_for_docker,
)
from .codepipeline import CODEPIPELINE, codepipeline_artifacts_kms, codepipeline_promotion_checked, codepipeline_rollback_mode, production_supply_chain_gate
from .common import REGISTRY, ResourceCheck, Rule, StackCheck, Subject
from .ecr import (
    ECR_PUBLIC_REPOSITORY,
    ECR_REGISTRY_SCANNING,
    ECR_REPOSITORY,
    ECR_REPOSITORY_POLICY,
    ecr_image_scanning,
    ecr_immutable_tags,
    ecr_kms_encryption,
    ecr_no_public_policy,
)
from .ecs import (
    ECS_CLUSTER,
    ECS_SERVICE,
    ECS_TASK_DEFINITION,
    ecs_awslogs,
    ecs_circuit_breaker,
    ecs_container_insights,
    ecs_no_plain_secrets,
    ecs_no_privileged,
    ecs_no_public_ip,
    ecs_separate_roles,
    ecs_traffic_shift_safety,
)
from .eks import EKS_CLUSTER, EKS_LOG_TYPES, eks_control_plane_logs, eks_public_endpoint, eks_secrets_encryption
from .iam import IAM_ATTACHMENTS, IAM_DOCUMENT_TYPES, IAM_ROLE, iam_no_admin, iam_no_wildcard_actions, iam_passrole_not_wildcard, identity_policies
from .s3 import (
    PUBLIC_ACCESS_FLAGS,
    S3_BUCKETS,
    S3_ENCRYPTION,
    S3_LOGGING,
    S3_POLICY,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_VERSIONING,
    s3_kms_encryption,
    s3_public_access_blocked,
    s3_tls_only,
    s3_versioning,
)

# The pack's order: the engine, the offline plan and docs/policy.md's table list rules in it.
SERVICES = (ecr, s3, codebuild, codepipeline, ecs, eks, iam, audit)
RULES: tuple[Rule, ...] = tuple(r for service in SERVICES for r in REGISTRY.declared_in(service.__name__))


@dataclass(frozen=True)
class Violation:
    rule: str
    resource_type: str
    resource_name: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource_type} {self.resource_name}: {self.message}"


def run_rules(resources: Sequence[Subject], rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Every violation of `rules` in a stack: what the engine would report, in rule order."""
    by_urn = {r.urn: r for r in resources}
    found = []
    for rule in rules:
        if rule.check is not None:
            for r in resources:
                found += [Violation(rule.name, r.type, r.name, r.urn, m) for m in rule.check(r.type, r.props)]
        if rule.stack_check is not None:
            for urn, message in rule.stack_check(resources):
                r = by_urn.get(urn)
                found.append(Violation(rule.name, r.type if r else "", r.name if r else "", urn, message))
    return found


def subjects(resources: Iterable[Any]) -> list[Subject]:
    """Subjects from offline.mocks.Resource records: inputs as props (what the engine validates per
    resource), the mock monitor's URNs so dependencies, property dependencies and parents resolve."""
    return [
        Subject(r.type, r.name, r.ref or r.urn, r.inputs, tuple(r.depends_on), dict(getattr(r, "property_dependencies", {})), bool(getattr(r, "protect", False))) for r in resources
    ]


__all__ = [
    "CLOUDTRAIL",
    "CODEBUILD_PROJECT",
    "CODEPIPELINE",
    "ECR_PUBLIC_REPOSITORY",
    "ECR_REGISTRY_SCANNING",
    "ECR_REPOSITORY",
    "ECR_REPOSITORY_POLICY",
    "ECS_CLUSTER",
    "ECS_SERVICE",
    "ECS_TASK_DEFINITION",
    "EKS_CLUSTER",
    "EKS_LOG_TYPES",
    "IAM_ATTACHMENTS",
    "IAM_DOCUMENT_TYPES",
    "IAM_ROLE",
    "KMS_KEY",
    "LOG_GROUP",
    "PUBLIC_ACCESS_FLAGS",
    "RULES",
    "S3_BUCKETS",
    "S3_ENCRYPTION",
    "S3_LOGGING",
    "S3_POLICY",
    "S3_PUBLIC_ACCESS_BLOCK",
    "S3_VERSIONING",
    "SERVICES",
    "SNS_TOPIC",
    "ResourceCheck",
    "Rule",
    "StackCheck",
    "Subject",
    "Violation",
    "cloudtrail_kms",
    "cloudtrail_log_validation",
    "codebuild_kms_key",
    "codebuild_logging",
    "codebuild_no_plaintext_credentials",
    "codebuild_privileged_only_for_docker",
    "codepipeline_artifacts_kms",
    "codepipeline_promotion_checked",
    "codepipeline_rollback_mode",
    "ecr_image_scanning",
    "ecr_immutable_tags",
    "ecr_kms_encryption",
    "ecr_no_public_policy",
    "ecs_awslogs",
    "ecs_circuit_breaker",
    "ecs_container_insights",
    "ecs_no_plain_secrets",
    "ecs_no_privileged",
    "ecs_no_public_ip",
    "ecs_separate_roles",
    "ecs_traffic_shift_safety",
    "eks_control_plane_logs",
    "eks_public_endpoint",
    "eks_secrets_encryption",
    "iam_no_admin",
    "iam_no_wildcard_actions",
    "iam_passrole_not_wildcard",
    "identity_policies",
    "kms_rotation",
    "log_group_retention",
    "production_supply_chain_gate",
    "run_rules",
    "s3_kms_encryption",
    "s3_public_access_blocked",
    "s3_tls_only",
    "s3_versioning",
    "sns_kms",
    "subjects",
]
