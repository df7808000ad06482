"""The stack's customer managed KMS keys, all set up one way."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

# The longest waiting period KMS allows: a key deleted by mistake can be brought back for 30 days
# (`aws kms cancel-key-deletion`).
DELETION_WINDOW_DAYS = 30


def encryption_key(
    name: str,
    *,
    description: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    policy: dict[str, Any] | None = None,
) -> aws.kms.Key:
    """A symmetric key with yearly automatic rotation and the 30-day deletion window.

    `policy`: the key policy as data. Omitted: KMS's default policy (the account administers and
    uses the key through IAM)."""
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=DELETION_WINDOW_DAYS,
        policy=pulumi.Output.json_dumps(policy) if policy is not None else None,
        tags=tags,
        opts=opts,
    )
