"""Which policies count for a request (tests/iam_authz.py), on cases with known answers from the IAM policy evaluation
logic; the statements themselves are evaluated by tests/iam_eval.py (tests/test_iam_eval.py)."""

from __future__ import annotations

import pytest

from tests.iam_authz import Caller, Request, World, authorize, requests_for

A, B = "111111111111", "222222222222"
ROLE = f"arn:aws:iam::{A}:role/verifier"
CALLER = Caller(role_arn=ROLE, account=A, region="us-east-1")
SERVICE = f"arn:aws:ecs:us-east-1:{A}:service/c/s"
DEPLOYMENT = f"arn:aws:ecs:us-east-1:{A}:service-deployment/c/s/EZe5RNVLH6PPzHXINuP28"


def allow(action, resource, condition=None) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def world(*statements, **extra) -> World:
    return World(identity={ROLE: list(statements)}, **extra)


def test_an_action_with_two_required_resource_types_needs_both():
    """DescribeServiceDeployments carries the deployment and its service (both required in the reference)."""
    request = requests_for("ecs", "DescribeServiceDeployments", {"serviceDeploymentArns": [DEPLOYMENT]}, CALLER)
    assert set(request.resources) == {DEPLOYMENT, SERVICE}
    only_deployment = authorize(world(allow("ecs:DescribeServiceDeployments", f"arn:aws:ecs:us-east-1:{A}:service-deployment/c/s/*")), CALLER, request)
    assert not only_deployment.allowed
    assert only_deployment.reasons == (f"ecs:DescribeServiceDeployments on {SERVICE}: no statement of the role allows it",)
    both = world(allow("ecs:DescribeServiceDeployments", [f"arn:aws:ecs:us-east-1:{A}:service-deployment/c/s/*", SERVICE]))
    assert authorize(both, CALLER, request).allowed


def test_a_condition_on_a_key_the_call_does_not_set_refuses():
    request = requests_for("cloudwatch", "PutMetricData", {"Namespace": "ContainerCicd/Deployments", "MetricData": []}, CALLER)
    assert request.resources == ("*",)
    assert authorize(world(allow("cloudwatch:PutMetricData", "*", {"StringEquals": {"cloudwatch:namespace": "ContainerCicd/Deployments"}})), CALLER, request).allowed
    assert not authorize(world(allow("cloudwatch:PutMetricData", "*", {"StringEquals": {"cloudwatch:namespace": "Other"}})), CALLER, request).allowed
    assert not authorize(world(allow("cloudwatch:PutMetricData", "*", {"StringEquals": {"ecs:cluster": "x"}})), CALLER, request).allowed


def test_explicit_deny_wins_and_not_action_excludes():
    request = Request("ssm:PutParameter", (f"arn:aws:ssm:us-east-1:{A}:parameter/p",))
    assert not authorize(world(allow("ssm:*", "*"), {"Effect": "Deny", "Action": "ssm:PutParameter", "Resource": "*"}), CALLER, request).allowed
    assert not authorize(world({"Effect": "Allow", "NotAction": "ssm:Put*", "Resource": "*"}), CALLER, request).allowed
    assert authorize(world({"Effect": "Allow", "Action": "SSM:putparameter", "Resource": "*"}), CALLER, request).allowed  # actions ignore case


def test_another_accounts_resource_needs_its_resource_policy_too():
    repository = f"arn:aws:ecr:us-east-1:{B}:repository/app"
    request = requests_for("ecr", "DescribeImages", {"registryId": B, "repositoryName": "app", "imageIds": [{"imageTag": "t"}]}, CALLER)
    assert request.resources == (repository,)
    identity = world(allow("ecr:DescribeImages", repository))
    assert authorize(identity, CALLER, request).reasons == (
        f"ecr:DescribeImages on {repository} (account {B}) from account {A}: not allowed by the resource policy of account {B}",
    )
    grant = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": ["ecr:DescribeImages"]}
    shared = world(allow("ecr:DescribeImages", repository), resource_policies=[(repository, [grant])])
    assert authorize(shared, CALLER, request).allowed
    no_identity = world(resource_policies=[(repository, [grant])])
    assert not authorize(no_identity, CALLER, request).allowed


def test_without_a_registry_id_the_callers_own_registry_is_asked():
    request = requests_for("ecr", "DescribeImages", {"repositoryName": "app", "imageIds": [{"imageTag": "t"}]}, CALLER)
    assert request.resources == (f"arn:aws:ecr:us-east-1:{A}:repository/app",)


def test_a_key_policy_decides_before_the_role():
    key = f"arn:aws:kms:us-east-1:{A}:key/k"
    request = Request("kms:GenerateDataKey", (key,))
    root_only = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"}
    assert authorize(world(allow("kms:GenerateDataKey", key), resource_policies=[(key, [root_only])], key_policies={key}), CALLER, request).allowed
    other = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/other"}, "Action": "kms:*", "Resource": "*"}
    refused = authorize(world(allow("kms:GenerateDataKey", key), resource_policies=[(key, [other])], key_policies={key}), CALLER, request)
    assert refused.reasons == (f"kms:GenerateDataKey on {key}: the key policy does not allow it",)


def test_a_required_resource_type_without_a_binder_is_reported():
    with pytest.raises(KeyError, match=r"ecs:DescribeTasks requires resource type 'task': add a binder"):
        requests_for("ecs", "DescribeTasks", {"cluster": "c", "tasks": ["t"]}, CALLER)
