"""IAM documents as data, and the one way this project creates a role."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.contracts import Statement


def trust_policy(service: str, conditions: dict | None = None) -> str:
    """A trust policy that lets exactly one AWS service principal assume the role."""
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


def service_role(
    name: str,
    service: str,
    statements: Sequence[Statement],
    parent: pulumi.Resource,
    tags: dict[str, str],
    description: str,
    conditions: dict | None = None,
) -> aws.iam.Role:
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
    if statements:
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=role),
        )
    return role
