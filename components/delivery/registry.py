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
# The build tags the Notation signature it made of an image `sig-<commit tag>-<12 hex of the signature's digest>`
# (components/supply/notation.py). ECR keeps the signature in this repository as an untagged OCI artifact whose
# `subject` is the image, and lifecycle rules treat it as one more image
# (https://github.com/aws/containers-roadmap/issues/2613): untagged, the untagged rule below would expire it after
# `untaggedImageExpiryDays` while its image is kept, and every later verification (a promoting stack's Check, a
# revert) would refuse a good image. ECR itself deletes a signature once its image is deleted: "When reference
# artifacts are present in a repository, Amazon ECR lifecycle policies will automatically clean up those artifacts
# within 24 hours of the deletion of the subject image"
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-signing.html), so the rule for signature tags only
# keeps them out of the other rules: it expires nothing unless far more signatures than kept images pile up.
SIGNATURE_TAG_PREFIX = "sig-"
# A bound, never reached while ECR removes each signature with its image: the other rules keep at most
# imageRetentionCount (<= 1000) + 10 + 30 images, each with one signature of its build. A tenth of the 100,000 images
# a repository may hold by default (https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html).
SIGNATURE_RETENTION_COUNT = 10000


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
    """ECR lifecycle policy: keep the signatures of kept images, keep the last verified and deployed images, expire
    untagged images, keep the newest N tagged ones.

    The signatures' rule comes first: "an image that matches the tagging requirements of a rule cannot be expired by a
    rule with a lower priority", and an image a rule selects is not counted by the rules after it, so a signature tag
    neither expires by the untagged rule nor takes one of the N places of the last rule. The verified-images rule comes
    next and the deployed-images rule second because "an image that matches the tagging requirements of a
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
                    "description": "Keep the signatures of kept images (ECR deletes a signature with its image)",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": [f"{SIGNATURE_TAG_PREFIX}*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": SIGNATURE_RETENTION_COUNT,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
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
                    "rulePriority": 3,
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
                    "rulePriority": 4,
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
                    "rulePriority": 5,
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
