"""IAM documents as data, and the one way this project creates a role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# A policy statement as data: plain values or Outputs, serialised once with Output.json_dumps.
Statement = dict[str, Any]

# Services that AWS documents putting aws:SourceAccount / aws:SourceArn in the request context when they assume a
# role (cross-service confused-deputy protection). A trust-policy condition on a key the service does not set makes
# its AssumeRole fail (a missing key makes a condition false: IAM reference_policies_elements_condition_operators),
# so a role of any other service carries none. ECS documents them for the task role, not the task execution role
# (task-iam-roles.html); the ECS infrastructure role, ECS's lifecycle-hook role, Lambda execution roles and
# EventBridge target roles have no such documentation, and their documented trust policies carry no condition.
SOURCE_KEYS_DOCUMENTED: dict[str, tuple[frozenset[str], str]] = {
    "codebuild.amazonaws.com": (
        frozenset({"aws:SourceAccount", "aws:SourceArn"}),
        "https://docs.aws.amazon.com/codebuild/latest/userguide/cross-service-confused-deputy-prevention.html",
    ),
    "vpc-flow-logs.amazonaws.com": (frozenset({"aws:SourceAccount", "aws:SourceArn"}), "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html"),
    # The task role only (the containers' own credentials).
    "ecs-tasks.amazonaws.com": (frozenset({"aws:SourceAccount", "aws:SourceArn"}), "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html"),
}


def trust_policy(service: str, conditions: dict | None = None) -> pulumi.Output[str]:
    """A trust policy that lets exactly one AWS service principal assume the role; `conditions` only on keys
    SOURCE_KEYS_DOCUMENTED says the service sets."""
    keys = {key for operator in (conditions or {}).values() for key in operator}
    documented = SOURCE_KEYS_DOCUMENTED.get(service, (frozenset(), ""))[0]
    if not keys <= documented:
        raise ValueError(f"trust_policy: {service} is not documented to set {sorted(keys - documented)} when it assumes a role; AssumeRole would fail. Remove the condition")
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        statement["Condition"] = conditions
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [statement]})


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class ServiceRole:
    """A role and its inline policy, referenced through outputs that wait for both.

    Pass `arn` to whatever assumes the role: a resource taking it then depends on the
    policy too. `depends_on=[role]` is not enough, because the SDK leaves the children of a custom
    resource (the policy is the role's child) out of dependencies.
    """

    role: aws.iam.Role
    policy: aws.iam.RolePolicy | None
    """The role's inline policy. None: the role has no permissions."""
    arn: pulumi.Output[str]
    """The role's ARN, known once its policy exists."""


def service_role(
    name: str,
    service: str,
    statements: Sequence[Statement],
    parent: pulumi.Resource,
    tags: dict[str, str],
    description: str,
    conditions: dict | None = None,
) -> ServiceRole:
    """A role trusted by one service principal, with its permissions as one inline policy.

    Inline (not managed) policies: the permissions live and die with the role and are scoped
    to this stack's resources, so nothing outside the stack can attach them elsewhere.
    """
    role = aws.iam.Role(
        name,
        assume_role_policy=trust_policy(service, conditions),
        description=description,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    policy = None
    if statements:
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=role),
        )
    return ServiceRole(role=role, policy=policy, arn=_once_granted(role.arn, policy))


def _once_granted(value: pulumi.Output[str], policy: aws.iam.RolePolicy | None) -> pulumi.Output[str]:
    """`value`, carrying a dependency on `policy`. Services use the role as soon as the resource taking it exists
    (a new pipeline starts an execution on creation; CreateTrail checks that it can deliver to the log group)."""
    if policy is None:
        return value
    return pulumi.Output.all(value, policy.id).apply(lambda values: values[0])


def logs_statement(log_group_arn: pulumi.Input[str], *, sid: str = "Logs", streams: str = ":*", include_group: bool = True) -> Statement:
    """Write log events to one log group's streams (`<group arn><streams>`); with `include_group`, the
    group ARN itself too (CodeBuild checks it). Omitted options: the `Logs` statement of a CodeBuild role."""
    stream_arns = pulumi.Output.concat(log_group_arn, streams)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [log_group_arn, stream_arns] if include_group else stream_arns,
    }


def registry_login_statement() -> Statement:
    """ecr:GetAuthorizationToken has no resource-level permissions; it only issues a token, and what the
    token may do is decided by the role's repository statements."""
    return {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
