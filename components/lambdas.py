"""The stack's Lambda functions, made one way: each with its own role and a kept, encrypted log group.

The ECS target's smoke-test hook and deployment verifier and a promoting stack's collector use it; each
gives its own code package (an AssetArchive of files from the repository's `functions/` folder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import Statement, StepEnvironment
from components.iam import ServiceRole, logs_statement, service_role
from components.logs import target_log_group

# The newest Python runtime, GA since November 2025
# (https://aws.amazon.com/about-aws/whats-new/2025/11/aws-lambda-python-314/): its included SDK (boto3)
# is newer than the ECS service-deployment APIs of 2025 the verifier calls (ListServiceDeployments,
# DescribeServiceDeployments, DescribeServiceRevisions). https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
RUNTIME = "python3.14"
# "The Init phase is limited to 10 seconds. If all three tasks do not complete within 10 seconds, Lambda retries
# the Init phase at the time of the first function invocation with the configured function timeout."
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html) So an invocation answers at the
# latest this long plus the function's timeout after it was asked.
INIT_LIMIT_SECONDS = 10
# Pure Python: Graviton is the cheaper architecture for the same work.
ARCHITECTURE = "arm64"
MEMORY_MIB = 128


@dataclass(frozen=True)
class FunctionVpc:
    """The private subnets a function runs in (to reach what the VPC reaches) and its security group."""

    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]


def vpc_statements(context: AwsContext, vpc: FunctionVpc) -> list[Statement]:
    """A function in a VPC: Lambda creates, uses and removes its network interfaces with the function's role.
    The actions of AWS's AWSLambdaVPCAccessExecutionRole (v3) but its log actions (`logs_statement` scopes
    those), on this account's and region's network interfaces, the function's subnets and its security
    group; the two Describe actions support no resource-level permissions.
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions"""
    subnets = pulumi.Output.from_input(vpc.subnet_ids).apply(lambda ids: pulumi.Output.all(*[context.arn("ec2", f"subnet/{subnet}") for subnet in ids]))
    network_interfaces = context.arn("ec2", "network-interface/*")
    security_group = context.arn("ec2", pulumi.Output.concat("security-group/", vpc.security_group_id))
    return [
        {
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            "Resource": pulumi.Output.all(network_interfaces, security_group, subnets).apply(lambda v: [v[0], v[1], *v[2]]),
        },
        {"Sid": "DescribeVpcNetwork", "Effect": "Allow", "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], "Resource": "*"},
    ]


@dataclass(frozen=True)
class StackFunction:
    function: aws.lambda_.Function
    role: ServiceRole
    log_group: aws.cloudwatch.LogGroup


def stack_function(
    name: str,
    *,
    parent: pulumi.Resource,
    environment: StepEnvironment,
    function_name: str,
    description: str,
    handler: str,
    code: pulumi.Archive,
    timeout_seconds: int,
    variables: Mapping[str, pulumi.Input[str]],
    context: AwsContext,
    statements: Sequence[Statement] = (),
    role_description: str | None = None,
    logs_include_group: bool = False,
    vpc: FunctionVpc | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> StackFunction:
    """A function with its log group (kept when its component goes, like every target log group) and its
    role: write that group (`logs_include_group`: the group's ARN besides its streams), plus `statements`.
    Omitted: the role is described as the function's, outside a VPC. Its trust policy carries no condition: Lambda
    is not documented to set aws:SourceAccount or aws:SourceArn when it assumes an execution role."""
    log_group = target_log_group(f"{name}-logs", f"/aws/lambda/{function_name}-", environment, parent=parent)
    role = service_role(
        f"{name}-role",
        "lambda.amazonaws.com",
        [logs_statement(log_group.arn, include_group=logs_include_group), *(vpc_statements(context, vpc) if vpc else []), *statements],
        parent=parent,
        tags=environment.tags,
        description=role_description or f"Lambda role of {function_name}",
    )
    function = aws.lambda_.Function(
        f"{name}-function",
        name=function_name,
        description=description,
        role=role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=handler,
        code=code,
        timeout=timeout_seconds,
        memory_size=MEMORY_MIB,
        environment={"variables": dict(variables)},
        # The function logs to the stack's encrypted, kept group instead of /aws/lambda/<name>, which
        # Lambda would create unencrypted and with no retention.
        logging_config={"log_format": "Text", "log_group": log_group.name},
        vpc_config={"subnet_ids": vpc.subnet_ids, "security_group_ids": [vpc.security_group_id]} if vpc else None,
        tags=environment.tags,
        # role=role.arn waits for the role's inline policy too.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
    return StackFunction(function=function, role=role, log_group=log_group)


def invoked_by_rule(name: str, rule: aws.cloudwatch.EventRule, function: aws.lambda_.Function) -> None:
    """`rule` sends its events to `function`: the rule's target, and the function's permission for EventBridge to
    invoke it, granted to this rule alone (SourceArn). EventBridge invokes the function asynchronously."""
    aws.lambda_.Permission(
        f"{name}-invoke",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=pulumi.ResourceOptions(parent=function),
    )
    aws.cloudwatch.EventTarget(f"{name}-target", rule=rule.name, arn=function.arn, opts=pulumi.ResourceOptions(parent=rule))
