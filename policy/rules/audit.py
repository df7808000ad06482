"""Rules for what keeps the audit trail and its keys: SNS topics, CloudTrail trails, CloudWatch log
groups and KMS keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import _get, _true, rule

SNS_TOPIC = "aws:sns/topic:Topic"
CLOUDTRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"


@rule("sns-kms", "SNS topics are encrypted with KMS (checkov CKV_AWS_26, cdk-nag AwsSolutions-SNS2).", types=(SNS_TOPIC,))
def sns_kms(type_: str, props: Mapping[str, Any]) -> list[str]:
    if _get(props, "kmsMasterKeyId"):
        return []
    return ["SNS topic is not encrypted: set kmsMasterKeyId to a customer managed KMS key"]


@rule("cloudtrail-log-validation", "CloudTrail trails validate log files (checkov CKV_AWS_36, cdk-nag NIST.800.53.R5-CloudTrailLogFileValidationEnabled).", types=(CLOUDTRAIL,))
def cloudtrail_log_validation(type_: str, props: Mapping[str, Any]) -> list[str]:
    if _true(_get(props, "enableLogFileValidation")):
        return []
    return ["CloudTrail trail has log file validation off: set enableLogFileValidation true"]


@rule("cloudtrail-kms", "CloudTrail trails encrypt logs with KMS (checkov CKV_AWS_35, cdk-nag NIST.800.53.R5-CloudTrailEncryptionEnabled).", types=(CLOUDTRAIL,))
def cloudtrail_kms(type_: str, props: Mapping[str, Any]) -> list[str]:
    if _get(props, "kmsKeyId"):
        return []
    return ["CloudTrail trail logs are not encrypted with KMS: set kmsKeyId to a customer managed key ARN"]


@rule("log-group-retention", "CloudWatch log groups have a retention period (checkov CKV_AWS_66, cdk-nag NIST.800.53.R5-CloudWatchLogGroupRetentionPeriod).", types=(LOG_GROUP,))
def log_group_retention(type_: str, props: Mapping[str, Any]) -> list[str]:
    days = _get(props, "retentionInDays")
    if isinstance(days, (int, float)) and not isinstance(days, bool) and days > 0:
        return []
    name = _get(props, "name") or _get(props, "namePrefix") or ""
    return [f"CloudWatch log group {name} keeps logs forever: set retentionInDays".replace("  ", " ")]


@rule("kms-rotation", "Symmetric KMS keys rotate automatically (checkov CKV_AWS_7, cdk-nag AwsSolutions-KMS5).", types=(KMS_KEY,))
def kms_rotation(type_: str, props: Mapping[str, Any]) -> list[str]:
    """AWS rotates only symmetric encryption keys; asymmetric and HMAC keys are not checked."""
    spec = _get(props, "customerMasterKeySpec") or _get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    usage = _get(props, "keyUsage") or "ENCRYPT_DECRYPT"
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT" or _true(_get(props, "enableKeyRotation")):
        return []
    return ["KMS key has automatic rotation off: set enableKeyRotation true"]
