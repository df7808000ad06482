"""The records bucket: what the stack keeps about each digest it verified, next to its deployment records.

Keys: `sbom/<digest>.json` (the CycloneDX SBOM of the digest, `sha256:<hex>`) and `scan/<digest>.json` (the scan
verdict, `verdict_document`). Current objects expire after the stack's log retention, with the deployment records
(log groups) that name them; encrypted with the pipeline's artifact key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.buckets import private_bucket, tls_only_statements
from components.contracts import Statement
from components.iam import policy_document

SBOM_PREFIX = "sbom/"
"""Where the SBOM of a digest is kept: `sbom/<digest>.json`."""
SCAN_PREFIX = "scan/"
"""Where the scan verdict of a digest is kept: `scan/<digest>.json`."""


def sbom_key(digest: str) -> str:
    """The key of a digest's SBOM."""
    return f"{SBOM_PREFIX}{digest}.json"


def scan_key(digest: str) -> str:
    """The key of a digest's scan verdict."""
    return f"{SCAN_PREFIX}{digest}.json"


@dataclass(frozen=True)
class RecordsArgs:
    expiry_days: int
    """Days after which records (current and noncurrent versions) expire: the stack's logRetentionDays."""
    key_arn: pulumi.Input[str]
    """KMS key the records are encrypted with (the pipeline's artifact key)."""
    production: bool
    """When True the bucket is protected: `pulumi destroy` stops instead of deleting it."""
    reader_accounts: Sequence[str] = ()
    """Accounts whose roles may read the SBOMs (`sbom/*`): the accounts of promoting stacks. Omitted: none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the bucket. Omitted: untagged."""
    bucket_prefix: str | None = None
    """The start of the bucket's name (at most 37 characters): the stack's. Omitted: the engine's name."""


class Records(pulumi.ComponentResource):
    """A private, versioned, TLS-only bucket for SBOMs and scan verdicts, keyed by digest.

    Outputs: `bucket_name`, `bucket_arn`.
    """

    def __init__(self, name: str, args: RecordsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:supply:Records", name, None, opts)
        created = private_bucket(name, key_arn=args.key_arn, parent=self, protect=args.production, tags=args.tags, bucket_prefix=args.bucket_prefix)
        bucket = created.bucket
        created.expire(name, "expire-records", days=args.expiry_days, noncurrent_days=args.expiry_days)
        statements = [*tls_only_statements(bucket.arn), *reader_statements(bucket.arn, args.reader_accounts)]
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[created.public_access]),
        )
        self.bucket_name: pulumi.Output[str] = bucket.bucket
        self.bucket_arn: pulumi.Output[str] = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})

    def write_statements(self) -> list[Statement]:
        """What a step that records a digest's SBOM and verdict needs (the key's statement comes with the artifacts')."""
        return [
            {
                "Sid": "WriteRecords",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": [pulumi.Output.concat(self.bucket_arn, f"/{SBOM_PREFIX}*"), pulumi.Output.concat(self.bucket_arn, f"/{SCAN_PREFIX}*")],
            }
        ]


def reader_statements(bucket_arn: pulumi.Input[str], accounts: Sequence[str]) -> list[Statement]:
    """Let the roles of `accounts` read the SBOMs (their own IAM policies must allow it too)."""
    if not accounts:
        return []
    return [
        {
            "Sid": "PromotingAccountsReadSboms",
            "Effect": "Allow",
            # An account id as principal is that account's root: whom the account's own IAM policies allow.
            "Principal": {"AWS": list(accounts)},
            "Action": "s3:GetObject",
            "Resource": pulumi.Output.concat(bucket_arn, f"/{SBOM_PREFIX}*"),
        }
    ]


def verdict_document(*, digest: str, threshold: str | None, highest: str | None, counts: dict[str, int], verdict: str, scanned_at: str, source: str, execution: str) -> dict:
    """The scan verdict as `scan/<digest>.json` holds it (the steps write the same fields with jq)."""
    return {
        "digest": digest,
        "threshold": threshold,
        "highestSeverity": highest,
        "counts": counts,
        "verdict": verdict,
        "scannedAt": scanned_at,
        "source": source,
        "execution": execution,
    }
