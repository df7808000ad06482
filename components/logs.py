"""The stack's CloudWatch Logs: the key every log group is encrypted with, and log groups that belong
to a deploy target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import StepEnvironment
from components.kms import encryption_key

# What CloudWatch Logs does with a log group's key: encrypt and decrypt events, and describe the key
# when the group is associated with it.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


def logs_key_policy(context: AwsContext) -> dict[str, Any]:
    """The account administers the key through IAM; CloudWatch Logs of this region may use it for this
    account's log groups only (the encryption context CloudWatch Logs passes is the log group's ARN).

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": context.root()},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptsLogGroups",
                "Effect": "Allow",
                # The regional principal: CloudWatch Logs of another region cannot use the key.
                "Principal": {"Service": pulumi.Output.concat("logs.", context.region, ".amazonaws.com")},
                "Action": LOGS_KEY_ACTIONS,
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": context.arn("logs", "log-group:*")}},
            },
        ],
    }


@dataclass(frozen=True)
class LogsKeyArgs:
    production: bool
    """When True the key is protected from deletion."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the key. Omitted: untagged."""


class LogsKey(pulumi.ComponentResource):
    """The customer managed key of every log group the stack creates (build, deploy steps, task logs,
    the audit trail's copy, VPC flow logs).

    It belongs to the stack, not to a deploy target: a target switch keeps it, and with it the kept
    log groups of the old target stay readable. The key policy is part of the key, so a log group
    that names the key (and so depends on it) is created only once CloudWatch Logs may use it.

    Outputs: `key_arn`.
    """

    def __init__(self, name: str, args: LogsKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:logs:LogsKey", name, None, opts)
        key = encryption_key(
            f"{name}-key",
            description="Encrypts the stack's CloudWatch log groups",
            policy=logs_key_policy(AwsContext(self)),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        self.key_arn = key.arn
        self.register_outputs({"key_arn": self.key_arn})


def target_log_group(name: str, name_prefix: str, inputs: StepEnvironment, parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    """A log group that outlives its deploy target (or its pipeline step), encrypted with the stack's logs key.

    A switch of `deployTarget` deletes the old target's resources; its logs are evidence a team still
    wants, so the group is kept in CloudWatch (`retain_on_delete`; it empties itself after its
    retention) instead of being deleted or protected (a protected one would stop the switch). Kept
    groups must not block the next one: CloudWatch Logs completes `name_prefix` with a unique suffix,
    so switching back, or `pulumi destroy` and `pulumi up` again, never meets an existing name.
    """
    return aws.cloudwatch.LogGroup(
        name,
        name_prefix=name_prefix,
        retention_in_days=inputs.log_retention_days,
        kms_key_id=inputs.log_key_arn,
        tags=inputs.tags,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
    )
