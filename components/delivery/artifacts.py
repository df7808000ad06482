"""Artifact store: the KMS key and S3 bucket that carry artifacts between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.buckets import private_bucket, tls_only_statements
from components.iam import policy_document
from components.kms import encryption_key
from components.settings import KEYS

# Stage rollback needs the last successful execution's artifacts: the floor is declared (and explained)
# on the artifactExpiryDays key, the one place it lives.
_floor = KEYS["artifactExpiryDays"].minimum
assert isinstance(_floor, int), "artifactExpiryDays needs its (whole) minimum"
MIN_EXPIRY_DAYS: int = _floor


@dataclass(frozen=True)
class ArtifactStoreArgs:
    expiry_days: int
    """Days after which artifacts (and noncurrent versions) expire; at least `MIN_EXPIRY_DAYS`.
    Stage rollback is unavailable once the last successful execution's artifacts are older."""
    production: bool
    """When True, the bucket and key are protected: `pulumi destroy` stops instead of deleting them."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""

    def __post_init__(self) -> None:
        if isinstance(self.expiry_days, int) and self.expiry_days < MIN_EXPIRY_DAYS:
            raise ValueError(
                f"expiry_days: {self.expiry_days} is too short; stage rollback needs the last successful execution's artifacts. Fix: use at least {MIN_EXPIRY_DAYS} days"
            )


class ArtifactStore(pulumi.ComponentResource):
    """Encrypted, versioned, private, TLS-only artifact bucket and its customer-managed KMS key.

    Outputs: `bucket_name`, `bucket_arn`, `key_arn`, `key_id`.
    """

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:pipeline:ArtifactStore", name, None, opts)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.production)
        key = encryption_key(
            f"{name}-key",
            description=f"Pipeline artifacts of {pulumi.get_project()}/{pulumi.get_stack()}",
            tags=args.tags,
            opts=stateful,
        )
        created = private_bucket(name, key_arn=key.arn, parent=self, protect=args.production, tags=args.tags)
        bucket = created.bucket
        created.expire(name, "expire-artifacts", days=args.expiry_days, noncurrent_days=args.expiry_days)
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=policy_document(tls_only_statements(bucket.arn)),
            opts=pulumi.ResourceOptions(parent=bucket),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.key_id = key.key_id
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
