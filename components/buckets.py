"""The one way this project makes an S3 bucket: private, owner-enforced, versioned, SSE-KMS."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def encrypted_private_bucket(
    name: str,
    *,
    key_arn: pulumi.Input[str],
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
    """A bucket with every public access path blocked, ACLs disabled, versioning on and SSE-KMS
    under `key_arn`. It is never force-destroyed: `pulumi destroy` stops while it holds objects.

    Returns the bucket and its versioning resource (a lifecycle rule must wait for versioning).
    The caller adds the bucket policy (TLS-only at least) and any lifecycle rules.
    """
    bucket = aws.s3.Bucket(
        f"{name}-bucket",
        force_destroy=False,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
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
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
                # S3 Bucket Keys cut KMS request costs for many small objects.
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
    return bucket, versioning


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
