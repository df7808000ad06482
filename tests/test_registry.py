"""Registry: a private ECR repository with scanning, immutable tags, KMS and a lifecycle policy."""

from __future__ import annotations

import json

from components.registry import lifecycle_policy

REGISTRY = "container-cicd:registry:Registry"
# One non-default dev stack shared by several test modules (same dict => one cached evaluation).
CUSTOM = {"containerName": "Web_Frontend", "buildTimeoutMinutes": 45, "deploymentTimeoutMinutes": 9,
          "imageRetentionCount": 7, "untaggedImageExpiryDays": 3, "buildComputeType": "BUILD_GENERAL1_LARGE"}


def registry_resources(result):
    return [r for r in result.resources if r.custom and f"{REGISTRY}$" in r.urn]


def test_exactly_a_repository_and_its_lifecycle_policy(dev):
    assert sorted(r.type for r in registry_resources(dev)) == [
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repository:Repository",
    ]


def test_no_repository_policy_means_no_public_or_cross_account_access(dev, prod):
    for result in (dev, prod):
        assert result.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy") == []
        assert result.of_type("aws:ecr/registryPolicy:RegistryPolicy") == []
        assert result.of_type("aws:ecrpublic/repository:Repository") == []


def test_repository_is_scanned_immutable_and_kms_encrypted(dev):
    repo = dev.named("registry-repo")
    assert repo.inputs["name"] == "container-cicd-dev-app"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repo.inputs["forceDelete"] is False
    assert dev.outputs["repositoryUrl"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app"


def test_repository_is_protected_only_in_production(dev, prod):
    assert prod.named("registry-repo").protect is True
    assert dev.named("registry-repo").protect is False


def test_lifecycle_policy_rules(dev):
    policy = dev.named("registry-lifecycle")
    assert policy.inputs["repository"] == "container-cicd-dev-app"
    rules = json.loads(policy.inputs["policy"])["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2]
    untagged, tagged = rules
    assert untagged["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}
    # Pulumi.dev.yaml: imageRetentionCount 20.
    assert tagged["selection"] == {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 20}
    assert all(r["action"] == {"type": "expire"} for r in rules)


def test_lifecycle_counts_come_from_config(evaluate, prod):
    rules = json.loads(prod.named("registry-lifecycle").inputs["policy"])["rules"]
    assert rules[1]["selection"]["countNumber"] == 100  # Pulumi.prod.yaml
    r = evaluate("dev", **CUSTOM)
    rules = json.loads(r.named("registry-lifecycle").inputs["policy"])["rules"]
    assert (rules[0]["selection"]["countNumber"], rules[1]["selection"]["countNumber"]) == (3, 7)


def test_lifecycle_policy_is_valid_for_ecr():
    """ECR rejects a 'tagged' rule without tagPrefixList/tagPatternList, and duplicate priorities."""
    rules = json.loads(lifecycle_policy(5, 2))["rules"]
    assert len({r["rulePriority"] for r in rules}) == len(rules)
    for rule in rules:
        sel = rule["selection"]
        if sel["tagStatus"] == "tagged":
            assert sel.get("tagPatternList") or sel.get("tagPrefixList")
        if sel["countType"] == "sinceImagePushed":
            assert sel["countUnit"] == "days"
        else:
            assert "countUnit" not in sel
