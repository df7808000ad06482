"""ECS rules: clusters, task definitions and services log, keep secrets out of plain variables, stay
private and roll back failed deployments."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .common import _ACCESS_KEY_VALUE, _get, _is_map, _items, _true, rule

ECS_CLUSTER = "aws:ecs/cluster:Cluster"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECS_SERVICE = "aws:ecs/service:Service"
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL", re.IGNORECASE)


def _containers(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = _get(props, "containerDefinitions")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [c for c in _items(value) if _is_map(c)]


@rule("ecs-container-insights", "ECS clusters have Container Insights on (checkov CKV_AWS_65, cdk-nag AwsSolutions-ECS4).", types=(ECS_CLUSTER,))
def ecs_container_insights(type_: str, props: Mapping[str, Any]) -> list[str]:
    values = [_get(s, "value") for s in _items(_get(props, "settings")) if _get(s, "name") == "containerInsights"]
    if values and values[-1] in ("enabled", "enhanced"):
        return []
    return ["ECS cluster has Container Insights off: add settings [{name: 'containerInsights', value: 'enabled'}]"]


@rule("ecs-awslogs", "Every ECS container logs with the awslogs driver (cdk-nag AwsSolutions-ECS7).", types=(ECS_TASK_DEFINITION,))
def ecs_awslogs(type_: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"ECS container {c.get('name')!r} has log driver {_get(c, 'logConfiguration', 'logDriver')!r}: set logConfiguration.logDriver 'awslogs'"
        for c in _containers(props)
        if _get(c, "logConfiguration", "logDriver") != "awslogs"
    ]


@rule("ecs-no-privileged", "No ECS container runs privileged (checkov CKV_AWS_334).", types=(ECS_TASK_DEFINITION,))
def ecs_no_privileged(type_: str, props: Mapping[str, Any]) -> list[str]:
    return [f"ECS container {c.get('name')!r} is privileged: remove privileged: true" for c in _containers(props) if _true(c.get("privileged"))]


@rule("ecs-separate-roles", "ECS task execution role differs from the task role (checkov CKV_AWS_249).", types=(ECS_TASK_DEFINITION,))
def ecs_separate_roles(type_: str, props: Mapping[str, Any]) -> list[str]:
    execution, task = _get(props, "executionRoleArn"), _get(props, "taskRoleArn")
    if execution and execution == task:
        return [f"ECS task definition uses {execution} as both execution and task role: give the app its own task role"]
    return []


@rule(
    "ecs-no-plain-secrets",
    "ECS containers pass no secret-looking values as plain environment variables (cdk-nag AwsSolutions-ECS2, which flags every variable; "
    "this rule flags names like PASSWORD/SECRET/TOKEN/API_KEY and AWS access key values).",
    types=(ECS_TASK_DEFINITION,),
)
def ecs_no_plain_secrets(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    for c in _containers(props):
        for var in _items(c.get("environment")):
            name, value = _get(var, "name"), _get(var, "value")
            if (isinstance(name, str) and _SECRET_NAME.search(name)) or (isinstance(value, str) and _ACCESS_KEY_VALUE.search(value)):
                found.append(f"ECS container {c.get('name')!r} passes {name} as a plain environment variable: move it to secrets (valueFrom Secrets Manager or SSM)")
    return found


@rule("ecs-no-public-ip", "ECS services assign no public IP to tasks (checkov CKV_AWS_333).", types=(ECS_SERVICE,))
def ecs_no_public_ip(type_: str, props: Mapping[str, Any]) -> list[str]:
    if not _true(_get(props, "networkConfiguration", "assignPublicIp")):
        return []
    return ["ECS service assigns public IPs to its tasks: set networkConfiguration.assignPublicIp false and reach the internet through a NAT gateway"]


@rule("ecs-circuit-breaker", "ECS services deployed by ECS roll back failed deployments with the circuit breaker (no checkov/cdk-nag equivalent).", types=(ECS_SERVICE,))
def ecs_circuit_breaker(type_: str, props: Mapping[str, Any]) -> list[str]:
    """The circuit breaker belongs to the ECS (rolling update) deployment controller; services deployed by
    CodeDeploy or an EXTERNAL controller roll back there instead and are not checked."""
    if _get(props, "deploymentController", "type") in ("CODE_DEPLOY", "EXTERNAL"):
        return []
    breaker = _get(props, "deploymentCircuitBreaker")
    if _true(_get(breaker, "enable")) and _true(_get(breaker, "rollback")):
        return []
    return ["ECS service has no deployment circuit breaker with rollback: set deploymentCircuitBreaker {enable: true, rollback: true}"]


@rule(
    "ecs-traffic-shift-safety",
    "ECS services that shift traffic to a new revision (BLUE_GREEN, CANARY, LINEAR: production's default) roll back on deployment "
    "alarms and run a Lambda lifecycle hook (no checkov/cdk-nag equivalent). The pack cannot tell a production stack from another, "
    "so it holds every such service to it.",
    types=(ECS_SERVICE,),
)
def ecs_traffic_shift_safety(type_: str, props: Mapping[str, Any]) -> list[str]:
    """A traffic-shifting deployment is safe only with a signal that stops it: alarms that roll it back while
    traffic moves and bakes, and a hook that tests the new revision before production traffic reaches it.
    A hook's target type defaults to AWS_LAMBDA (botocore ecs DeploymentLifecycleHook.targetType)."""
    strategy = _get(props, "deploymentConfiguration", "strategy")
    if strategy in (None, "ROLLING"):
        return []
    found = []
    alarms = _get(props, "alarms")
    if not (_true(_get(alarms, "enable")) and _true(_get(alarms, "rollback")) and _items(_get(alarms, "alarmNames"))):
        found.append(f"ECS service deploys with strategy {strategy} but no deployment alarm rolls it back: set alarms {{alarmNames: [...], enable: true, rollback: true}}")
    hooks = _items(_get(props, "deploymentConfiguration", "lifecycleHooks"))
    lambda_hooks = [h for h in hooks if (_get(h, "targetType") or "AWS_LAMBDA") == "AWS_LAMBDA" and _get(h, "hookTargetArn") and _items(_get(h, "lifecycleStages"))]
    if not lambda_hooks:
        found.append(
            f"ECS service deploys with strategy {strategy} but runs no Lambda lifecycle hook: add deploymentConfiguration.lifecycleHooks "
            "[{hookTargetArn: <function ARN>, roleArn: <role ECS invokes it with>, lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]}] that tests the new revision"
        )
    return found
