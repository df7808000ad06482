"""Audit trail: on in prod, off in dev, configurable; multi-region, validated, KMS, CloudWatch Logs,
its own private TLS-only versioned bucket with a CloudTrail policy scoped to this trail."""

from __future__ import annotations

import json

import pytest

from components.settings import SettingsError, parse_settings
from offline.mocks import ACCOUNT

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
