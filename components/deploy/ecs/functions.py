"""The ECS target's Lambda functions (the smoke-test hook, the deployment verifier): one code package from
the repository's `functions/` folder, and each function with its own role and kept, encrypted log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import DeployInputs, Statement
from components.iam import ServiceRole, logs_statement, service_role
from components.logs import target_log_group

# The package, file by file: the same files give the same archive (Pulumi hashes an AssetArchive's
# contents), so `pulumi up` updates the code only when one of them changed. A folder archive would also
# pack the interpreter's __pycache__, which changes without a code change. Paths are relative to the
# project directory, where the Pulumi CLI runs the program.
FUNCTION_FILES = ("functions/__init__.py", "functions/deployment_record.py", "functions/ecs_smoke_test.py", "functions/ecs_verify_deployment.py")
# The newest Python runtime: its included SDK (boto3) is newer than the ECS service-deployment APIs of 2025
# the verifier calls (ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions).
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
RUNTIME = "python3.14"
# Pure Python: Graviton is the cheaper architecture for the same work.
ARCHITECTURE = "arm64"
MEMORY_MIB = 128


def functions_archive() -> pulumi.AssetArchive:
    return pulumi.AssetArchive({path: pulumi.FileAsset(path) for path in FUNCTION_FILES})


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
    inputs: DeployInputs,
    function_name: str,
    description: str,
    handler: str,
    timeout_seconds: int,
    environment: Mapping[str, pulumi.Input[str]],
    context: AwsContext,
    statements: Sequence[Statement] = (),
    vpc: FunctionVpc | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> StackFunction:
    """A function of the packaged `functions/` folder with its log group (kept when the target goes, like
    every target log group) and its role: write that group, plus `statements`."""
    log_group = target_log_group(f"{name}-logs", f"/aws/lambda/{function_name}-", inputs, parent=parent)
    role = service_role(
        f"{name}-role",
        "lambda.amazonaws.com",
        [logs_statement(log_group.arn, include_group=False), *(vpc_statements(context, vpc) if vpc else []), *statements],
        parent=parent,
        tags=inputs.tags,
        description=f"Lambda role of {function_name}",
    )
    function = aws.lambda_.Function(
        f"{name}-function",
        name=function_name,
        description=description,
        role=role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=handler,
        code=functions_archive(),
        timeout=timeout_seconds,
        memory_size=MEMORY_MIB,
        environment={"variables": dict(environment)},
        # The function logs to the stack's encrypted, kept group instead of /aws/lambda/<name>, which
        # Lambda would create unencrypted and with no retention.
        logging_config={"log_format": "Text", "log_group": log_group.name},
        vpc_config={"subnet_ids": vpc.subnet_ids, "security_group_ids": [vpc.security_group_id]} if vpc else None,
        tags=inputs.tags,
        # role=role.arn waits for the role's inline policy too.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
    return StackFunction(function=function, role=role, log_group=log_group)
