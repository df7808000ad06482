"""Artifact store: the KMS key and S3 bucket that carry artifacts between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.iam import policy_document


@dataclass(frozen=True)
class ArtifactStoreArgs:
    expiry_days: int
    """Days after which artifacts (and noncurrent versions) expire."""
    production: bool = False
    """When True, the bucket and key are protected: `pulumi destroy` stops instead of deleting them."""
    tags: dict[str, str] = field(default_factory=dict)


class ArtifactStore(pulumi.ComponentResource):
    """Encrypted, versioned, private, TLS-only artifact bucket and its customer-managed KMS key.

    Outputs: `bucket_name`, `bucket_arn`, `key_arn`.
    """

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:pipeline:ArtifactStore", name, None, opts)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.production)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Pipeline artifacts of {pulumi.get_project()}/{pulumi.get_stack()}",
            enable_key_rotation=True,
            # The longest waiting period: a key deleted by mistake can still be cancelled.
            deletion_window_in_days=30,
            tags=args.tags,
            opts=stateful,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            # Never delete a bucket that still holds artifacts.
            force_destroy=False,
            tags=args.tags,
            opts=stateful,
        )
        child = pulumi.ResourceOptions(parent=bucket)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    # S3 Bucket Keys cut KMS request costs for the many small artifacts.
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-artifacts",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.expiry_days},
                    "noncurrent_version_expiration": {"noncurrent_days": args.expiry_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=policy_document(tls_only_statements(bucket.arn)),
            opts=child,
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "key_arn": self.key_arn})

    def read_write_statements(self) -> list[dict]:
        """What a role that reads and writes artifacts needs: the objects and the key."""
        return [
            {
                "Sid": "Artifacts",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                "Resource": pulumi.Output.concat(self.bucket_arn, "/*"),
            },
            {
                "Sid": "ArtifactBucket",
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:GetBucketVersioning"],
                "Resource": self.bucket_arn,
            },
            {
                "Sid": "ArtifactKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": self.key_arn,
            },
        ]


def tls_only_statements(bucket_arn: pulumi.Input[str]) -> list[dict]:
    """Deny every request to the bucket and its objects that does not use TLS."""
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
