"""The offline plan's view of the ECS target: its key settings, report rows and diagram blocks."""

from __future__ import annotations

import json
from typing import Any

from components.deploy.ecs.progressive import PROVIDER_SERVICE_WAIT_MINUTES, SERVICE_WAIT_MARGIN_MINUTES, service_wait_minutes
from components.deploy.report import ArchitectureEdge, PlanView, Recorded, TargetReport, get
from components.settings import DeploymentStrategyKind, DeploymentStrategySettings, Settings, linear_shifts, percent_text


def _service_safety(service: Recorded) -> list[str]:
    breaker = service.inputs.get("deploymentCircuitBreaker") or {}
    alarms = service.inputs.get("alarms") or {}
    lines = [f"  - circuit breaker: {'on' if breaker.get('enable') else 'off'}, {'rolls back' if breaker.get('rollback') else 'no rollback'} when tasks fail to become healthy"]
    names = alarms.get("alarmNames") or []
    if alarms.get("enable") and names:
        action = "rolls the deployment back" if alarms.get("rollback") else "fails the deployment (no rollback)"
        lines.append(f"  - deployment alarms: {', '.join(f'`{n}`' for n in names)}; one in ALARM during a deployment {action}")
    else:
        lines.append("  - deployment alarms: none")
    return lines


def _resource_rows(resource: Recorded, view: PlanView) -> list[str]:
    if resource.type == "aws:ecs/service:Service":
        return _service_safety(resource)
    if resource.type != "aws:ecs/taskDefinition:TaskDefinition":
        return []
    record = view.image_record()
    record_note = f" (what the image record `{record.inputs.get('name')}` holds at this `pulumi up`)" if record is not None else ""
    lines = []
    for c in json.loads(resource.inputs.get("containerDefinitions") or "[]"):
        ports = [m.get("containerPort") for m in c.get("portMappings") or []]
        lines.append(f"  - container `{c.get('name')}`: image `{c.get('image')}`{record_note}, ports {ports}, log driver `{get(c, 'logConfiguration.logDriver')}`")
    return lines


def _traffic_text(strategy: DeploymentStrategySettings) -> str:
    """How production traffic moves to the new revision, in words."""
    kind = strategy.kind
    if kind is DeploymentStrategyKind.CANARY:
        return f"{percent_text(strategy.canary_percent)} of production traffic for {strategy.canary_bake_minutes} min, then 100 %"
    if kind is DeploymentStrategyKind.LINEAR:
        shifts = linear_shifts(strategy.linear_step_percent)
        return f"{percent_text(strategy.linear_step_percent)} more production traffic every {strategy.linear_step_bake_minutes} min until 100 % ({shifts} shifts)"
    if kind is DeploymentStrategyKind.BLUE_GREEN:
        return "all production traffic at once"
    return "new tasks replace the old ones in place (no second target group, no test listener)"


def _strategy_rows(view: PlanView) -> list[str]:
    """The deployment strategy, its traffic steps and final bake, and its worst case against the deploy
    action's timeout."""
    settings = view.settings()
    if settings.ecs is None:
        return []
    strategy, timeout = settings.ecs.strategy, settings.workload.deployment_timeout_minutes
    lines = [f"- Deployment strategy: `{strategy.kind.value}`: {_traffic_text(strategy)}"]
    if strategy.kind.shifts_traffic:
        reach = " and ".join(["the smoke-test hook", *(f"`{c}`" for c in strategy.test_listener_cidrs)])
        paths = ", ".join(f"`{p}`" for p in (settings.workload.health_check_path, *strategy.smoke_test_paths))
        lines += [
            f"  - final bake: {strategy.bake_minutes} min with both revisions running, then the old one stops",
            f"  - test listener: port `{strategy.test_listener_port}`, reachable by {reach}; the smoke test requests {paths}",
        ]
    worst = strategy.worst_case
    fits = "within" if worst.minutes <= timeout else "longer than"
    lines.append(f"  - worst case {worst.minutes} min, {fits} the deploy action's {timeout} min timeout (`deploymentTimeoutMinutes`): {worst.text}")
    lines.append(_wait_row(strategy))
    for service in view.of_type(_SERVICE):
        lines += _applied_rows(service, strategy)
    for pipeline in view.of_type("aws:codepipeline/pipeline:Pipeline"):
        for stage in pipeline.inputs.get("stages") or []:
            names = [a.get("name") for a in stage.get("actions") or []]
            if "VerifyDeployment" in names:
                lines.append(
                    f"  - verified: stage `{stage.get('name')}` runs {', then '.join(f'`{n}`' for n in names)}; `VerifyDeployment` (Lambda) "
                    "succeeds only when ECS reports the deployment SUCCESSFUL and its revision runs the build's digest"
                )
    return lines


def _wait_row(strategy: DeploymentStrategySettings) -> str:
    """How long `pulumi up` waits for the deployment a change of the service starts."""
    minutes = service_wait_minutes(strategy)
    why = "the provider's default" if minutes == PROVIDER_SERVICE_WAIT_MINUTES else f"the worst case and {SERVICE_WAIT_MARGIN_MINUTES} min"
    return f"  - `pulumi up` waits up to {minutes} min ({why}) for the deployment it starts, and fails if ECS rolls it back"


def _applied_rows(service: Recorded, strategy: DeploymentStrategySettings) -> list[str]:
    """What the service's recorded deploymentConfiguration applies: its strategy and lifecycle hooks."""
    # ECS rolls when a service names no strategy (botocore ecs: DeploymentConfiguration.strategy).
    applied = get(service.inputs, "deploymentConfiguration.strategy") or DeploymentStrategyKind.ROLLING.ecs_strategy
    if applied != strategy.kind.ecs_strategy:
        return [f"  - not applied: service `{service.name}` deploys with strategy `{applied}`"]
    hooks = get(service.inputs, "deploymentConfiguration.lifecycleHooks") or []
    described = [f"`{str(h.get('hookTargetArn', '')).rsplit(':', 1)[-1]}` at {', '.join(h.get('lifecycleStages') or [])}" for h in hooks]
    return [f"  - applied: service `{service.name}` deploys with strategy `{applied}`" + (f"; lifecycle hook {', '.join(described)}" if described else "")]


def _resolved_note(key: str, value: Any, settings: Settings) -> str:
    """deploymentStrategy's auto, and the deploy timeout's default that follows the strategy."""
    if settings.ecs is None:
        return ""
    kind = settings.ecs.strategy.kind
    timeout = settings.workload.deployment_timeout_minutes
    if key == "deploymentStrategy" and value == DeploymentStrategyKind.AUTO.value:
        return f"→ {kind.value} (production is {str(settings.production).lower()})"
    if key == "deploymentTimeoutMinutes" and value != timeout:
        return f"→ {timeout} (the default with deploymentStrategy {kind.value})"
    return ""


_SERVICE = "aws:ecs/service:Service"
_RULE = "aws:lb/listenerRule:ListenerRule"
_FUNCTION = "aws:lambda/function:Function"
REPORT = TargetReport(
    key_settings={
        "aws:ecs/cluster:Cluster": ("name", "settings"),
        _SERVICE: (
            "name",
            "launchType",
            "desiredCount",
            "deploymentMinimumHealthyPercent",
            "deploymentMaximumPercent",
            "networkConfiguration.assignPublicIp",
            "healthCheckGracePeriodSeconds",
        ),
        "aws:ecs/taskDefinition:TaskDefinition": ("family", "cpu", "memory", "runtimePlatform.cpuArchitecture", "requiresCompatibilities"),
    },
    resolved_note=_resolved_note,
    resource_rows=_resource_rows,
    deploy_rows=_strategy_rows,
    architecture_nodes=(
        ("aws:ecs/cluster:Cluster", "ECS cluster"),
        (_SERVICE, "ECS Fargate service"),
        (_RULE, "Listener rules: production, test listener (ECS sets the weights)"),
        (_FUNCTION, "Lambda function (verifier, smoke-test hook, canary judge)"),
    ),
    architecture_edges=(
        ArchitectureEdge("aws:codepipeline/pipeline:Pipeline", _SERVICE, "deploys"),
        ArchitectureEdge("aws:ecs/cluster:Cluster", _SERVICE, "runs"),
        ArchitectureEdge("aws:lb/loadBalancer:LoadBalancer", _SERVICE, "routes to"),
        ArchitectureEdge("aws:ecr/repository:Repository", _SERVICE, "pulls"),
        ArchitectureEdge("aws:lb/loadBalancer:LoadBalancer", _RULE, "production and test traffic"),
        ArchitectureEdge(_RULE, _SERVICE, "shifts to the new revision"),
        ArchitectureEdge("aws:codepipeline/pipeline:Pipeline", _FUNCTION, "verifies the deployment", dashed=True),
        # Drawn only with the listener rules (blue-green, canary, linear): the hook requests the test listener.
        ArchitectureEdge(_FUNCTION, _RULE, "smoke-tests the test listener", dashed=True),
    ),
)
