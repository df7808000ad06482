"""The promotion inbox: the S3 object a promoting stack's pipeline takes as its source.

The collector (or `python -m tools.revert --digest`) writes `promotion.zip` into a private, versioned,
KMS-encrypted, TLS-only bucket; S3 reports the new object to EventBridge, whose rule starts the
pipeline (the source action does not poll). Whatever is in the object, the Check stage after Source
deploys only an image the upstream stack verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.buckets import private_bucket, tls_only_statements
from components.contracts import SOURCE_ARTIFACT, SOURCE_NAMESPACE, Statement
from components.delivery.source import SOURCE_ACTION, SourceContribution
from components.iam import policy_document
from components.promotion.contract import INBOX_KEY


@dataclass(frozen=True)
class PromotionInboxArgs:
    key_arn: pulumi.Input[str]
    """KMS key of the bucket: the pipeline's artifact key, which the pipeline already uses to read its artifacts."""
    expiry_days: int
    """Days after which earlier versions of the object (earlier promotions) expire; the latest never does."""
    production: bool
    """When True the bucket is protected: `pulumi destroy` stops instead of deleting it."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


def object_created_pattern(bucket_name: pulumi.Input[str]) -> dict[str, Any]:
    """EventBridge pattern: the inbox object was written (S3's EventBridge notifications).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html"""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [INBOX_KEY]}},
    }


def source_statements(bucket_arn: pulumi.Input[str]) -> list[Statement]:
    """What the pipeline's S3 source action needs: the object's versions and the bucket's versioning (the
    key's use is in the artifact statements: the inbox shares the artifact key)."""
    return [
        {
            "Sid": "ReadPromotionInbox",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": pulumi.Output.concat(bucket_arn, f"/{INBOX_KEY}"),
        },
        {"Sid": "PromotionInboxVersioning", "Effect": "Allow", "Action": "s3:GetBucketVersioning", "Resource": bucket_arn},
    ]


class PromotionInbox(pulumi.ComponentResource):
    """Outputs: `bucket_name`, `bucket_arn`, `location` (s3://bucket/promotion.zip), `contribution` (the Source stage)."""

    def __init__(self, name: str, args: PromotionInboxArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:promotion:PromotionInbox", name, None, opts)
        created = private_bucket(name, key_arn=args.key_arn, parent=self, protect=args.production, tags=args.tags)
        bucket = created.bucket
        created.expire(name, "expire-earlier-promotions", days=None, noncurrent_days=args.expiry_days)
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=policy_document(tls_only_statements(bucket.arn)),
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[created.public_access]),
        )
        # Every object event of the bucket goes to EventBridge; the pipeline's start rule picks the inbox object's.
        aws.s3.BucketNotification(f"{name}-events", bucket=bucket.id, eventbridge=True, opts=pulumi.ResourceOptions(parent=bucket))
        action = aws.codepipeline.PipelineStageActionArgs(
            name=SOURCE_ACTION,
            category="Source",
            owner="AWS",
            provider="S3",
            version="1",
            namespace=SOURCE_NAMESPACE,
            output_artifacts=[SOURCE_ARTIFACT],
            configuration={
                "S3Bucket": bucket.bucket,
                "S3ObjectKey": INBOX_KEY,
                # Started by the EventBridge rule on the object's creation, not by polling.
                "PollForSourceChanges": "false",
            },
        )
        self.contribution = SourceContribution(
            stage=aws.codepipeline.PipelineStageArgs(name="Source", actions=[action]),
            pipeline_statements=source_statements(bucket.arn),
            start_event_pattern=object_created_pattern(bucket.bucket),
            start_trigger=f"a promotion written to {INBOX_KEY} in its inbox",
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.location = pulumi.Output.concat("s3://", bucket.bucket, f"/{INBOX_KEY}")
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "location": self.location})
