"""Audit trail: on in prod, off in dev, configurable; multi-region, validated, KMS, CloudWatch Logs,
its own private TLS-only versioned bucket with a CloudTrail policy scoped to this trail."""

from __future__ import annotations

import json

import pytest

from components.settings import SettingsError, parse_settings
from offline.mocks import ACCOUNT, Resource, StackResult
from tests.aws_models import assert_valid, validate

TRAIL = "aws:cloudtrail/trail:Trail"
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/container-cicd-prod-app-trail"


def test_on_in_prod_off_in_dev_by_default(dev, prod):
    assert dev.of_type(TRAIL) == []
    assert [r for r in dev.resources if r.name.startswith("audit")] == []
    assert len(prod.of_type(TRAIL)) == 1


def test_config_turns_it_on_and_off(evaluate):
    assert len(evaluate("dev", auditTrail="on").of_type(TRAIL)) == 1
    off = evaluate("prod", auditTrail="off")
    assert off.of_type(TRAIL) == []
    assert [r for r in off.resources if r.name.startswith("audit")] == []


def test_bad_value_fails_in_settings():
    with pytest.raises(SettingsError, match=r"^auditTrail: 'true' is not supported; use 'auto', 'on' or 'off'$"):
        parse_settings({"auditTrail": "true"}, "container-cicd", "prod")


def test_trail_settings(prod):
    trail = prod.one(TRAIL).inputs
    assert trail["name"] == "container-cicd-prod-app-trail"
    assert trail["isMultiRegionTrail"] is True
    assert trail["includeGlobalServiceEvents"] is True
    assert trail["enableLogFileValidation"] is True
    assert trail["kmsKeyId"] == prod.named("audit-key").outputs["arn"]
    assert trail["s3BucketName"] == prod.named("audit-bucket").outputs["bucket"]
    assert trail["cloudWatchLogsGroupArn"] == prod.named("audit-logs").outputs["arn"] + ":*"
    assert trail["cloudWatchLogsRoleArn"] == prod.named("audit-logs-role").outputs["arn"]


def test_trail_waits_for_its_bucket_policy(prod):
    assert prod.named("audit-bucket-policy").ref in prod.one(TRAIL).depends_on


def test_log_group_has_retention_and_is_protected(prod):
    group = prod.named("audit-logs")
    assert group.inputs["name"] == "/aws/cloudtrail/container-cicd-prod-app-trail"
    assert group.inputs["retentionInDays"] == 90
    assert group.protect is True


def test_logs_role_is_trusted_by_cloudtrail_and_writes_only_its_group(prod):
    role = prod.named("audit-logs-role").inputs
    trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert "Condition" not in trust  # as AWS documents it; the permissions below are what limits it
    [statement] = json.loads(prod.named("audit-logs-role-policy").inputs["policy"])["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == prod.named("audit-logs").outputs["arn"] + ":log-stream:*"


def test_key_rotates_and_only_this_trail_may_encrypt(prod):
    key = prod.named("audit-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.protect is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    encrypt = statements["CloudTrailEncryptsLogs"]
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"] == {
        "StringEquals": {"aws:SourceArn": TRAIL_ARN},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"},
    }


def test_bucket_is_private_versioned_encrypted_and_protected(prod):
    bucket = prod.named("audit-bucket")
    assert bucket.protect is True
    assert bucket.inputs["forceDestroy"] is False
    block = prod.named("audit-public-access").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert prod.named("audit-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    [rule] = prod.named("audit-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": prod.named("audit-key").outputs["arn"]}


def test_bucket_policy_is_cloudtrail_for_this_trail_and_tls_only(prod):
    bucket_arn = prod.named("audit-bucket").outputs["arn"]
    statements = {s["Sid"]: s for s in json.loads(prod.named("audit-bucket-policy").inputs["policy"])["Statement"]}
    assert statements["CloudTrailAclCheck"] == {
        "Sid": "CloudTrailAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": bucket_arn,
        "Condition": {"StringEquals": {"aws:SourceArn": TRAIL_ARN}},
    }
    assert statements["CloudTrailWrite"] == {
        "Sid": "CloudTrailWrite",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/AWSLogs/{ACCOUNT}/*",
        "Condition": {"StringEquals": {"aws:SourceArn": TRAIL_ARN, "s3:x-amz-acl": "bucket-owner-full-control"}},
    }
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"


# --- S3 server access logs of the audit bucket ---------------------------------------------------

LOGGING = "aws:s3/bucketLogging:BucketLogging"
LOG_BUCKET_URN = "urn:pulumi:prod::container-cicd::container-cicd:audit:AuditTrail$aws:s3/bucket:Bucket::audit-access-logs-bucket"


def _log_bucket_children(result: StackResult) -> dict[str, Resource]:
    parent = result.named("audit-access-logs-bucket").ref
    return {r.name: r for r in result.resources if r.parent_urn == parent}


def test_access_log_bucket_is_private_owner_enforced_versioned_sse_s3_and_protected(prod):
    bucket = prod.named("audit-access-logs-bucket")
    assert bucket.type == "aws:s3/bucket:Bucket"
    assert bucket.urn == LOG_BUCKET_URN
    assert bucket.protect is True
    assert bucket.inputs["forceDestroy"] is False
    children = _log_bucket_children(prod)
    assert sorted(children) == [
        "audit-access-logs-encryption",
        "audit-access-logs-lifecycle",
        "audit-access-logs-ownership",
        "audit-access-logs-policy",
        "audit-access-logs-public-access",
        "audit-access-logs-versioning",
    ]
    assert all(c.inputs["bucket"] == bucket.id for c in children.values())
    block = children["audit-access-logs-public-access"].inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    # ACLs off: the logging service is admitted by the bucket policy, the only way with BucketOwnerEnforced.
    assert children["audit-access-logs-ownership"].inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert children["audit-access-logs-versioning"].inputs["versioningConfiguration"] == {"status": "Enabled"}
    # SSE-S3: S3 server access logging does not support SSE-KMS default encryption on its target bucket.
    assert children["audit-access-logs-encryption"].inputs["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]


def test_access_logs_expire_with_the_stacks_log_retention(prod, evaluate):
    lifecycle = prod.named("audit-access-logs-lifecycle")
    assert lifecycle.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    assert lifecycle.inputs["rules"] == [
        {
            "id": "expire-access-logs",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": 90},  # prod's logRetentionDays
            "noncurrentVersionExpiration": {"noncurrentDays": 90},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        }
    ]
    assert prod.named("audit-access-logs-versioning").ref in lifecycle.depends_on
    [rule] = evaluate("prod", logRetentionDays=365).named("audit-access-logs-lifecycle").inputs["rules"]
    assert rule["expiration"] == {"days": 365}


def test_access_log_bucket_policy_is_tls_only_and_admits_s3_logging_for_the_audit_bucket_only(prod):
    log_arn = prod.named("audit-access-logs-bucket").outputs["arn"]
    policy = prod.named("audit-access-logs-policy")
    assert json.loads(policy.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [log_arn, f"{log_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{log_arn}/audit-bucket/*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": prod.named("audit-bucket").outputs["arn"]},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            },
        ],
    }
    # S3 refuses a bucket policy while the public access block is changing.
    assert prod.named("audit-access-logs-public-access").ref in policy.depends_on


def test_audit_bucket_logs_to_the_access_log_bucket_after_the_grant_exists(prod):
    logging = prod.one(LOGGING)
    assert logging.name == "audit-bucket-logging"
    assert logging.parent_urn == prod.named("audit-bucket").ref
    assert logging.inputs == {
        "bucket": prod.named("audit-bucket").id,
        "targetBucket": prod.named("audit-access-logs-bucket").outputs["bucket"],
        "targetPrefix": "audit-bucket/",
        "targetObjectKeyFormat": {"partitionedPrefix": {"partitionDateSource": "EventTime"}},
    }
    # Logging is enabled only once the logging service may write: the bucket policy is a dependency.
    assert prod.named("audit-access-logs-policy").ref in logging.depends_on
    assert logging.property_dependencies["targetBucket"] == (prod.named("audit-access-logs-bucket").ref,)
    assert logging.property_dependencies["bucket"] == (prod.named("audit-bucket").ref,)
    # The grant's prefix is the prefix logs are written under.
    statement = json.loads(prod.named("audit-access-logs-policy").inputs["policy"])["Statement"][1]
    assert statement["Resource"].endswith("/" + logging.inputs["targetPrefix"] + "*")


def test_the_put_bucket_logging_request_is_valid_for_s3(prod):
    """The request the provider sends for the BucketLogging's inputs, checked against botocore's S3 model."""
    inputs = prod.one(LOGGING).inputs
    enabled = {
        "TargetBucket": inputs["targetBucket"],
        "TargetPrefix": inputs["targetPrefix"],
        "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": inputs["targetObjectKeyFormat"]["partitionedPrefix"]["partitionDateSource"]}},
    }
    assert_valid("s3", "PutBucketLogging", {"Bucket": inputs["bucket"], "BucketLoggingStatus": {"LoggingEnabled": enabled}})
    # The model does check the date source: an unknown one is refused.
    enabled["TargetObjectKeyFormat"]["PartitionedPrefix"]["PartitionDateSource"] = "WriteTime"
    assert validate("s3", "PutBucketLogging", {"Bucket": inputs["bucket"], "BucketLoggingStatus": {"LoggingEnabled": enabled}}) != []


def test_dev_with_audit_trail_gets_unprotected_access_logs_with_dev_retention(evaluate):
    result = evaluate("dev", auditTrail="on")
    assert result.named("audit-access-logs-bucket").protect is False
    assert result.named("audit-access-logs-bucket").inputs["forceDestroy"] is False
    [rule] = result.named("audit-access-logs-lifecycle").inputs["rules"]
    assert rule["expiration"] == {"days": 14}  # dev's logRetentionDays
    assert result.one(LOGGING).inputs["bucket"] == result.named("audit-bucket").id


def test_no_access_logs_without_the_trail(dev, evaluate):
    for result in (dev, evaluate("prod", auditTrail="off")):
        assert result.of_type(LOGGING) == []
        assert [r.name for r in result.resources if r.name.startswith("audit-access-logs")] == []
