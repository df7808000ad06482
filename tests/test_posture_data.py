"""Production posture of the stack's data: log groups under the stack's own CloudWatch Logs key,
VPC flow logs, the audit bucket's lifecycle and server access logs, the CodeCommit approval rule."""

from __future__ import annotations

import json

import pytest
from policy_sentry.querying.actions import get_action_data

from offline.mocks import ACCOUNT, StackResult

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"


@pytest.fixture(scope="module")
def variants(dev, prod, prod_ecs, evaluate) -> dict[str, StackResult]:
    return {"dev": dev, "prod": prod, "prod_ecs": prod_ecs, "dev_audit": evaluate("dev", auditTrail="on")}


# --- CloudWatch Logs key -------------------------------------------------------------------------


def test_one_logs_key_per_stack_with_rotation(variants):
    for label, result in variants.items():
        key = result.named("logs-key")
        assert key.type == KEY, label
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] == 30
        assert key.parent_urn.endswith("container-cicd:logs:LogsKey::logs"), label


def test_logs_key_protected_in_production_only(dev, prod):
    assert prod.named("logs-key").protect is True
    assert dev.named("logs-key").protect is False


def test_logs_key_policy_statements_exactly(dev):
    policy = json.loads(dev.named("logs-key").inputs["policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}},
            },
        ],
    }


def test_logs_key_actions_exist_in_the_iam_database(dev):
    policy = json.loads(dev.named("logs-key").inputs["policy"])
    for pattern in policy["Statement"][1]["Action"]:
        prefix = pattern.removesuffix("*").split(":")[1]
        # Every wildcard covers at least one real KMS action.
        matches = [a for a in ("Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey", "DescribeKey") if a.startswith(prefix)]
        assert matches, pattern
        for action in matches:
            assert get_action_data("kms", action), f"kms:{action}"


def test_every_log_group_is_encrypted_with_the_logs_key_and_waits_for_it(variants):
    for label, result in variants.items():
        key = result.named("logs-key")
        groups = result.of_type(LOG_GROUP)
        assert groups, label
        for group in groups:
            assert group.inputs.get("kmsKeyId") == key.outputs["arn"], (label, group.name)
            assert key.ref in group.depends_on, (label, group.name)


# --- VPC flow logs -------------------------------------------------------------------------------


def test_created_vpc_flow_logs_all_traffic_to_an_encrypted_group(dev, prod_ecs):
    for result in (dev, prod_ecs):
        [flow_log] = result.of_type("aws:ec2/flowLog:FlowLog")
        group = result.named("deploy-network-flow-logs")
        assert flow_log.inputs["vpcId"] == result.named("deploy-network-vpc").id
        assert flow_log.inputs["trafficType"] == "ALL"
        assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
        assert flow_log.inputs["logDestination"] == group.outputs["arn"]
        assert flow_log.inputs["iamRoleArn"] == result.named("deploy-network-flow-logs-role").outputs["arn"]
        assert group.inputs["kmsKeyId"] == result.named("logs-key").outputs["arn"]
        assert group.inputs["retentionInDays"] == (90 if result.stack == "prod" else 14)
        assert group.inputs["namePrefix"] == f"/aws/vpc/container-cicd-{result.stack}-app-flow-logs-"


def test_flow_log_role_trust_and_permissions(dev):
    role = dev.named("deploy-network-flow-logs-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-flow-log/*"},
            },
        }
    ]
    group = dev.named("deploy-network-flow-logs").outputs["arn"]
    policy = json.loads(dev.named("deploy-network-flow-logs-role-policy").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "DeliverFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [group, f"{group}:*"],
        }
    ]
    for action in policy["Statement"][0]["Action"]:
        assert get_action_data("logs", action.split(":")[1]), action


def test_existing_vpc_gets_no_flow_log(evaluate):
    result = evaluate(
        "prod",
        natGateways=None,
        vpcCidr=None,
        vpcId="vpc-0a1b2c3d4e5f60718",
        publicSubnetIds=["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"],
        privateSubnetIds=["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"],
    )
    assert result.of_type("aws:ec2/flowLog:FlowLog") == []
    assert [r.name for r in result.resources if "flow-logs" in r.name] == []


# --- audit bucket lifecycle ----------------------------------------------------------------------


def test_audit_bucket_expires_noncurrent_versions_and_aborts_unfinished_uploads(prod):
    lifecycle = prod.named("audit-lifecycle")
    assert lifecycle.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    assert lifecycle.inputs["bucket"] == prod.named("audit-bucket").id
    assert lifecycle.inputs["rules"] == [
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {},
            "noncurrentVersionExpiration": {"noncurrentDays": 90},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        }
    ]
    # Current log files never expire: they are the evidence.
    assert "expiration" not in lifecycle.inputs["rules"][0]
    # S3 rejects noncurrent-version rules on a bucket whose versioning is not yet on.
    assert prod.named("audit-versioning").ref in lifecycle.depends_on


# --- audit bucket access logs --------------------------------------------------------------------


def test_only_the_audit_bucket_has_server_access_logs_and_no_bucket_logs_to_itself(variants):
    """Where the trail is on, its bucket logs to the access-log bucket; the access-log bucket, a log target,
    has no access log of its own (AWS: a target bucket should not have server access logging enabled)."""
    for label, result in variants.items():
        loggings = result.of_type("aws:s3/bucketLogging:BucketLogging")
        if not result.of_type("aws:cloudtrail/trail:Trail"):
            assert loggings == [], label
            continue
        [logging] = loggings
        assert logging.inputs["bucket"] == result.named("audit-bucket").id, label
        assert logging.inputs["targetBucket"] == result.named("audit-access-logs-bucket").outputs["bucket"], label
        assert logging.inputs["targetBucket"] != logging.inputs["bucket"], label
        assert result.named("audit-access-logs-bucket").protect is (result.stack == "prod"), label


def test_the_trail_is_on_in_prod_and_where_asked(variants):
    """The variants above cover both sides: stacks with and without the audit trail."""
    assert {label for label, result in variants.items() if result.of_type("aws:cloudtrail/trail:Trail")} == {"prod", "prod_ecs", "dev_audit"}


# --- CodeCommit approval rule --------------------------------------------------------------------


def test_created_codecommit_repository_needs_one_approval_on_pull_requests_into_the_branch(dev):
    template = dev.one("aws:codecommit/approvalRuleTemplate:ApprovalRuleTemplate")
    assert template.name == "source-approval-rule"
    assert template.inputs["name"] == "container-cicd-dev-app-approval"
    # The shape CreateApprovalRuleTemplate documents: Version 2018-11-08, destination refs, Approvers.
    assert json.loads(template.inputs["content"]) == {
        "Version": "2018-11-08",
        "DestinationReferences": ["refs/heads/main"],
        "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}],
    }
    association = dev.one("aws:codecommit/approvalRuleTemplateAssociation:ApprovalRuleTemplateAssociation")
    assert association.inputs == {
        "approvalRuleTemplateName": template.outputs["name"],
        "repositoryName": dev.named("source-repo").outputs["repositoryName"],
    }
    assert template.ref in association.depends_on and dev.named("source-repo").ref in association.depends_on


def test_no_approval_rule_without_a_created_repository(evaluate):
    for result in (
        evaluate("dev", createSourceRepository=False, sourceRepository="existing-repo"),
        evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service", sourceFilePaths=["app/**", "lib/**"]),
    ):
        assert result.of_type("aws:codecommit/approvalRuleTemplate:ApprovalRuleTemplate") == []
        assert result.of_type("aws:codecommit/approvalRuleTemplateAssociation:ApprovalRuleTemplateAssociation") == []
