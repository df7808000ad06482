"""The policy pack's layout: RULES keeps its names and order."""

from __future__ import annotations

from policy.rules import RULES

# The pack's rules as they were before policy/rules.py was split by service. The engine reports and the
# offline plan list violations in this order, and docs/policy.md's table follows it.
RULE_ORDER = [
    "ecr-image-scanning", "ecr-immutable-tags", "ecr-kms-encryption", "ecr-no-public-policy",
    "s3-public-access-blocked", "s3-kms-encryption", "s3-versioning", "s3-tls-only",
    "codebuild-logging", "codebuild-kms-key", "codebuild-no-plaintext-credentials", "codebuild-privileged-only-for-docker",
    "codepipeline-artifacts-kms", "codepipeline-rollback-mode",
    "ecs-container-insights", "ecs-awslogs", "ecs-no-privileged", "ecs-separate-roles", "ecs-no-plain-secrets",
    "ecs-no-public-ip", "ecs-circuit-breaker",
    "eks-control-plane-logs", "eks-secrets-encryption", "eks-public-endpoint",
    "iam-no-wildcard-actions", "iam-no-admin", "iam-passrole-not-wildcard",
    "sns-kms", "cloudtrail-log-validation", "cloudtrail-kms", "log-group-retention", "kms-rotation",
]


def test_rules_keep_their_names_and_order():
    assert [r.name for r in RULES] == RULE_ORDER
