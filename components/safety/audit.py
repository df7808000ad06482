"""Audit trail: a multi-region CloudTrail trail with validated, KMS-encrypted log files in its own bucket,
also delivered to CloudWatch Logs for search and alarms; the bucket's S3 server access logs go to a
second bucket.

Accounts under an AWS Organizations trail already have this; `auditTrail: off` skips the component.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.buckets import private_bucket, tls_only_statements
from components.iam import logs_statement, policy_document, service_role
from components.kms import encryption_key

# Overwritten or deleted log files (only possible for whoever may write the bucket) stay recoverable
# this long; current log files are kept until someone decides otherwise (they are the evidence).
NONCURRENT_VERSION_DAYS = 90
# CloudTrail writes small objects in one request; an unfinished multipart upload is debris that
# S3 would otherwise bill for ever.
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
# Server access log objects of the audit bucket are written under this prefix of the access-log bucket
# (partitioned: <prefix><account>/<region>/<bucket>/<yyyy>/<mm>/<dd>/...).
ACCESS_LOG_PREFIX = "audit-bucket/"
# S3 server access logging writes as this service principal; the target bucket's policy must admit it.
S3_LOGGING_SERVICE = "logging.s3.amazonaws.com"


@dataclass(frozen=True)
class AuditTrailArgs:
    trail_name: str
    """Physical trail name (unique per account and region)."""
    log_retention_days: int
    """Retention of the CloudWatch Logs copy (the S3 copy is kept)."""
    log_key_arn: pulumi.Input[str]
    """The stack's CloudWatch Logs key: the CloudWatch Logs copy is encrypted with it."""
    production: bool
    """When True, the bucket, key and log group are protected from deletion."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


def key_policy(context: AwsContext, source_arn: pulumi.Input[str]) -> dict[str, Any]:
    """CloudTrail may encrypt this trail's log files only; the account reads them through IAM.

    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
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
                "Sid": "CloudTrailEncryptsLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": source_arn},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": context.arn("cloudtrail", "trail/*", region="*")},
                },
            },
            {
                "Sid": "CloudTrailDescribesKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": source_arn}},
            },
        ],
    }


def bucket_statements(bucket_arn: pulumi.Input[str], account: pulumi.Input[str], source_arn: pulumi.Input[str]) -> list[dict]:
    """CloudTrail (for this trail only) checks the ACL and writes under AWSLogs/<account>/; TLS only.

    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
    """
    trail_only = {"StringEquals": {"aws:SourceArn": source_arn}}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": trail_only,
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(bucket_arn, "/AWSLogs/", account, "/*"),
            "Condition": {"StringEquals": {"aws:SourceArn": source_arn, "s3:x-amz-acl": "bucket-owner-full-control"}},
        },
        *tls_only_statements(bucket_arn),
    ]


def access_log_statement(log_bucket_arn: pulumi.Input[str], source_bucket_arn: pulumi.Input[str], account: pulumi.Input[str]) -> dict:
    """S3 server access logging may write the source bucket's logs under ACCESS_LOG_PREFIX, for that
    bucket of this account only (the policy and conditions "Enabling Amazon S3 server access logging"
    documents: https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html)."""
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": S3_LOGGING_SERVICE},
        "Action": "s3:PutObject",
        "Resource": pulumi.Output.concat(log_bucket_arn, f"/{ACCESS_LOG_PREFIX}*"),
        "Condition": {"ArnLike": {"aws:SourceArn": source_bucket_arn}, "StringEquals": {"aws:SourceAccount": account}},
    }


class AuditTrail(pulumi.ComponentResource):
    """CloudTrail trail: multi-region, global service events, log file validation, KMS CMK, own private
    versioned TLS-only bucket (noncurrent versions expire, unfinished uploads are aborted), CloudWatch
    Logs delivery with its own role. The bucket's S3 server access logs go to a private, versioned,
    TLS-only, SSE-S3 access-log bucket whose objects expire after `log_retention_days`.

    Outputs: `trail_arn`, `bucket_name`, `log_group_name`.
    """

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:audit:AuditTrail", name, None, opts)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.production)
        context = AwsContext(self)
        account = context.account_id
        arn = context.arn("cloudtrail", f"trail/{args.trail_name}")
        key = encryption_key(
            f"{name}-key",
            description=f"Encrypts the log files of trail {args.trail_name}",
            policy=key_policy(context, arn),
            tags=args.tags,
            opts=stateful,
        )
        # Audit logs are evidence: the bucket is never deleted while it holds them.
        created = private_bucket(name, key_arn=key.arn, parent=self, protect=args.production, tags=args.tags)
        bucket, versioning = created.bucket, created.versioning
        child = pulumi.ResourceOptions(parent=bucket)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
                }
            ],
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning]),
        )
        bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=bucket.id,
            policy=policy_document(bucket_statements(bucket.arn, account, arn)),
            opts=child,
        )
        self._access_logs(name, bucket, account, args)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/cloudtrail/{args.trail_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=args.tags,
            opts=stateful,
        )
        role = service_role(
            f"{name}-logs-role",
            "cloudtrail.amazonaws.com",
            [logs_statement(log_group.arn, sid="DeliverToLogGroup", streams=":log-stream:*", include_group=False)],
            parent=self,
            tags=args.tags,
            description=f"Lets CloudTrail deliver {args.trail_name} to CloudWatch Logs",
            # The trust policy AWS documents for this role has no condition; whether CloudTrail passes
            # aws:SourceArn when it assumes the role is not documented, and a wrong guess would make
            # CreateTrail fail. The role can only write to this one log group.
        )
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=args.trail_name,
            s3_bucket_name=bucket.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=key.arn,
            # CloudTrail wants the log group ARN with the ':*' stream wildcard.
            cloud_watch_logs_group_arn=pulumi.Output.concat(log_group.arn, ":*"),
            cloud_watch_logs_role_arn=role.arn,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket_policy, key]),
        )
        self.trail_arn = trail.arn
        self.bucket_name = bucket.bucket
        self.log_group_name = log_group.name
        self.register_outputs({"trail_arn": self.trail_arn, "bucket_name": self.bucket_name, "log_group_name": self.log_group_name})

    def _access_logs(self, name: str, audit_bucket: aws.s3.Bucket, account: pulumi.Input[str], args: AuditTrailArgs) -> None:
        """Who read or changed the audit bucket's objects (S3 server access logs), in a bucket of its own:
        the evidence of access to the evidence. A bucket logging to itself would log its own log deliveries
        for ever (AWS advises against it), so the access-log bucket has no access log of its own."""
        # SSE-S3 (key_arn None): "You can use default bucket encryption on the target bucket only if you
        # use server-side encryption with Amazon S3 managed keys (SSE-S3) [...]. Default server-side
        # encryption with AWS Key Management Service (AWS KMS) keys (SSE-KMS) is not supported."
        # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html)
        # Like the audit bucket it is protected in production and never force-destroyed.
        created = private_bucket(f"{name}-access-logs", key_arn=None, parent=self, protect=args.production, tags=args.tags)
        log_bucket = created.bucket
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            bucket=log_bucket.id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {},
                    # Access logs are kept as long as the stack keeps its other logs (logRetentionDays).
                    "expiration": {"days": args.log_retention_days},
                    # An expired or deleted log object stays recoverable as long as the audit bucket
                    # keeps its noncurrent versions.
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
                }
            ],
            # A lifecycle configuration on a bucket whose versioning is changing is refused.
            opts=pulumi.ResourceOptions(parent=log_bucket, depends_on=[created.versioning]),
        )
        log_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=log_bucket.id,
            policy=policy_document([*tls_only_statements(log_bucket.arn), access_log_statement(log_bucket.arn, audit_bucket.arn, account)]),
            # S3 refuses a policy while the public access block is being changed.
            opts=pulumi.ResourceOptions(parent=log_bucket, depends_on=[created.public_access]),
        )
        aws.s3.BucketLogging(
            f"{name}-bucket-logging",
            bucket=audit_bucket.id,
            target_bucket=log_bucket.bucket,
            target_prefix=ACCESS_LOG_PREFIX,
            # Keys <prefix><account>/<region>/<bucket>/<yyyy>/<mm>/<dd>/..., dated by the request (not the
            # delivery): one day's requests are one key prefix to read.
            target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}},
            # The grant to the logging service exists before S3 starts delivering.
            opts=pulumi.ResourceOptions(parent=audit_bucket, depends_on=[log_policy]),
        )
