"""Registry: the private ECR repository the build pushes to and the deploy target pulls from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# The deploy step adds a tag starting with this prefix to every image it deployed. Stage rollback
# re-deploys the image of the stage's last successful execution, so that image must outlive the
# count-based rule below however many builds follow it.
DEPLOYED_TAG_PREFIX = "deployed-"
# Deployed images kept: rollback needs only the last one; ten leave `python -m tools.revert` a few
# releases to go back to. A constant rather than imageRetentionCount, which counts builds: a team that
# builds often but deploys rarely would otherwise lose its last deployed image to newer builds.
DEPLOYED_IMAGE_RETENTION_COUNT = 10
# The Publish stage tags an image it deployed and verified with this prefix (components/promotion/). A
# stack that promotes from this one runs, scales out and rolls back to those images from this
# repository, possibly many upstream deployments later (a promotion waits for its approval): they are
# kept longer than other deployed images.
VERIFIED_TAG_PREFIX = "verified-"
VERIFIED_IMAGE_RETENTION_COUNT = 30


@dataclass(frozen=True)
class RegistryArgs:
    repository_name: str
    """Physical repository name; must be unique in the account and region."""
    image_retention_count: int
    """Tagged images kept; older tagged images expire. The last `DEPLOYED_IMAGE_RETENTION_COUNT`
    images tagged `DEPLOYED_TAG_PREFIX...` are kept besides them."""
    untagged_image_expiry_days: int
    """Untagged images (superseded layers, failed pushes) expire after this many days."""
    production: bool
    """When True the repository is protected: `pulumi destroy` stops instead of deleting it."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


def lifecycle_policy(image_retention_count: int, untagged_image_expiry_days: int) -> str:
    """ECR lifecycle policy: keep the last verified and deployed images, expire untagged images, keep the
    newest N tagged ones.

    The verified-images rule comes first and the deployed-images rule second because "an image that matches the tagging requirements of a
    rule cannot be expired by a rule with a lower priority"
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html): the 'keep the last
    N tagged' rule never removes an image that served traffic. Parameters as documented in
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html
    (tagPatternList, AWS's recommended form, rather than tagPrefixList; never both in one rule).
    """
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the last {VERIFIED_IMAGE_RETENTION_COUNT} verified images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": [f"{VERIFIED_TAG_PREFIX}*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": VERIFIED_IMAGE_RETENTION_COUNT,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {DEPLOYED_IMAGE_RETENTION_COUNT} deployed images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": [f"{DEPLOYED_TAG_PREFIX}*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": DEPLOYED_IMAGE_RETENTION_COUNT,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 3,
                    "description": f"Expire untagged images after {untagged_image_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_image_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 4,
                    "description": f"Keep the last {image_retention_count} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": image_retention_count,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


class Registry(pulumi.ComponentResource):
    """Private ECR repository: scan on push, immutable tags, KMS encryption, lifecycle policy.

    No repository policy is attached, so only principals of this account that IAM allows can
    pull or push; nothing is public. Outputs: `repository_url`, `repository_arn`, `repository_name`.
    """

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:registry:Registry", name, None, opts)
        repo = aws.ecr.Repository(
            f"{name}-repo",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            # KMS with the AWS-managed aws/ecr key: ECR manages the grants, so pushers and
            # pullers need no kms:* permissions.
            encryption_configurations=[{"encryption_type": "KMS"}],
            # Never delete a repository that still holds images.
            force_delete=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repo.name,
            policy=lifecycle_policy(args.image_retention_count, args.untagged_image_expiry_days),
            opts=pulumi.ResourceOptions(parent=repo),
        )
        self.repository_url = repo.repository_url
        self.repository_arn = repo.arn
        self.repository_name = repo.name
        self.register_outputs({"repository_url": self.repository_url, "repository_arn": self.repository_arn, "repository_name": self.repository_name})
