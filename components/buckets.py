"""The one way this project makes an S3 bucket: private, owner-enforced, versioned, encrypted."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class PrivateBucket:
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    """A lifecycle configuration must wait for it (S3 refuses one while versioning changes)."""
    public_access: aws.s3.BucketPublicAccessBlock
    """A bucket policy must wait for it (S3 refuses a policy while the block changes)."""

    def expire(self, name: str, rule_id: str, *, days: int | None, noncurrent_days: int) -> aws.s3.BucketLifecycleConfiguration:
        """One lifecycle rule over the whole bucket, `{name}-lifecycle`: current objects expire after `days` (None:
        never), noncurrent versions after `noncurrent_days`, incomplete multipart uploads after a day. It waits for
        the versioning (S3 refuses a lifecycle configuration while versioning changes)."""
        rule: aws.s3.BucketLifecycleConfigurationRuleArgsDict = {"id": rule_id, "status": "Enabled", "filter": {}}
        if days is not None:
            rule["expiration"] = {"days": days}
        rule["noncurrent_version_expiration"] = {"noncurrent_days": noncurrent_days}
        rule["abort_incomplete_multipart_upload"] = {"days_after_initiation": 1}
        return aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[rule],
            opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[self.versioning]),
        )


def private_bucket(
    name: str,
    *,
    key_arn: pulumi.Input[str] | None,
    parent: pulumi.Resource,
    protect: bool,
    tags: dict[str, str],
    bucket_resource_name: str | None = None,
    bucket_prefix: str | None = None,
) -> PrivateBucket:
    """A bucket with every public access path blocked, ACLs disabled and versioning on, encrypted with
    SSE-KMS under `key_arn`, or with SSE-S3 when `key_arn` is None (for writers that support only
    SSE-S3, such as ELB access logs). It is never force-destroyed: `pulumi destroy` stops while it
    holds objects. The caller adds the bucket policy (TLS-only at least) and any lifecycle rules.

    `bucket_resource_name`: the bucket's resource name. Omitted: `{name}-bucket`. Its companions are
    `{name}-public-access`, `{name}-ownership`, `{name}-encryption` and `{name}-versioning`.
    `bucket_prefix`: the start of the bucket's name (at most 37 characters; the provider appends a unique suffix), so
    that its name says whose it is. Omitted: the engine's name from the resource name.
    """
    bucket = aws.s3.Bucket(
        bucket_resource_name or f"{name}-bucket",
        force_destroy=False,
        bucket_prefix=bucket_prefix,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    child = pulumi.ResourceOptions(parent=bucket)
    public_access = aws.s3.BucketPublicAccessBlock(
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
    rule: aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict = (
        {
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
            # S3 Bucket Keys cut KMS request costs for many small objects.
            "bucket_key_enabled": True,
        }
        if key_arn is not None
        else {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
    )
    aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-encryption", bucket=bucket.id, rules=[rule], opts=child)
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=child,
    )
    return PrivateBucket(bucket, versioning, public_access)


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
