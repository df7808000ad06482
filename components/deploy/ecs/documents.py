"""The ECS target's documents as data: the task roles' and the deploy action's IAM statements, the
record step's buildspec, the failure-event pattern and the saturation metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import yaml

from components.contracts import MetricRef, Statement
from components.delivery.buildspec import IMAGE_DEFINITIONS_FILE
from components.delivery.image_record import record_commands
from components.iam import logs_statement, registry_login_statement


def execution_statements(repository_arn: pulumi.Input[str], log_group_arn: pulumi.Input[str]) -> list[Statement]:
    """The ECS agent pulls the image and writes the container's logs; nothing else."""
    return [
        registry_login_statement(),
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": repository_arn,
        },
        logs_statement(log_group_arn, include_group=False),
    ]


def deploy_statements(
    *,
    cluster_arn: pulumi.Input[str],
    service_arn: pulumi.Input[str],
    task_family_arn_pattern: pulumi.Input[str],
    role_arns: Sequence[pulumi.Input[str]],
) -> list[Statement]:
    """What CodePipeline's ECS deploy action needs: register a revision, update this service, pass its roles."""
    return [
        {
            "Sid": "UpdateService",
            "Effect": "Allow",
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": service_arn,
        },
        {
            # DescribeTaskDefinition supports no resource-level permissions (IAM service authorization reference).
            "Sid": "DescribeTaskDefinitions",
            "Effect": "Allow",
            "Action": "ecs:DescribeTaskDefinition",
            "Resource": "*",
        },
        {
            # RegisterTaskDefinition is authorised against the task-definition ARN: only this family.
            "Sid": "RegisterTaskDefinitions",
            "Effect": "Allow",
            "Action": "ecs:RegisterTaskDefinition",
            "Resource": task_family_arn_pattern,
        },
        {
            "Sid": "TagTaskDefinitions",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": task_family_arn_pattern,
            "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        },
        {
            # Tasks of this cluster only: arn:aws:ecs:<region>:<account>:task/<cluster-name>/<task-id>.
            "Sid": "DescribeTasks",
            "Effect": "Allow",
            "Action": "ecs:DescribeTasks",
            "Resource": pulumi.Output.from_input(cluster_arn).apply(lambda arn: arn.replace(":cluster/", ":task/", 1) + "/*"),
        },
        {
            # ListTasks is authorised against container instances, which Fargate tasks do not have;
            # the ecs:cluster condition keeps it to this cluster.
            "Sid": "WatchTasks",
            "Effect": "Allow",
            "Action": "ecs:ListTasks",
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}},
        },
        {
            "Sid": "PassTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": list(role_arns),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
    ]


def record_buildspec(parameter_name: str, repository_url: str, repository_name: str, *, tag_deployed: bool = True) -> dict:
    """The record step's buildspec (version 0.2) as data: it records the image the deploy action
    deployed, as the digest reference imagedefinitions.json names."""
    return {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "build": {
                "on-failure": "ABORT",
                "commands": [
                    "set -euo pipefail",
                    f"IMAGE_URI=\"$(jq -r '.[0].imageUri' {IMAGE_DEFINITIONS_FILE})\"",
                    f'test -n "$IMAGE_URI" && test "$IMAGE_URI" != null || {{ echo "{IMAGE_DEFINITIONS_FILE} names no image"; exit 1; }}',
                    *record_commands(parameter_name, repository_url, repository_name, tag_deployed=tag_deployed),
                ],
            }
        },
    }


def render_buildspec(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, width=1000)


def deployment_failed_pattern(service_arn_prefix: pulumi.Input[str]) -> dict[str, Any]:
    """ECS gave up on a deployment of one of this stack's services (circuit breaker or alarm rollback).

    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
    """
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": [{"prefix": service_arn_prefix}],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }


def ecs_saturation_metrics(cluster_name: pulumi.Input[str], service_name: pulumi.Input[str]) -> list[MetricRef]:
    """Service CPU and memory utilisation (percent of what the tasks reserve), from the AWS/ECS namespace."""
    dimensions = {"ClusterName": cluster_name, "ServiceName": service_name}
    return [
        MetricRef("AWS/ECS", "CPUUtilization", dimensions, "cpu"),
        MetricRef("AWS/ECS", "MemoryUtilization", dimensions, "memory"),
    ]
