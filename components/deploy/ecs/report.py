"""The offline plan's view of the ECS target: its key settings, report rows and diagram blocks."""

from __future__ import annotations

import json

from components.deploy.report import ArchitectureEdge, PlanView, Recorded, TargetReport, get


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


_SERVICE = "aws:ecs/service:Service"
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
    resource_rows=_resource_rows,
    architecture_nodes=(("aws:ecs/cluster:Cluster", "ECS cluster"), (_SERVICE, "ECS Fargate service")),
    architecture_edges=(
        ArchitectureEdge("aws:codepipeline/pipeline:Pipeline", _SERVICE, "deploys"),
        ArchitectureEdge("aws:ecs/cluster:Cluster", _SERVICE, "runs"),
        ArchitectureEdge("aws:lb/loadBalancer:LoadBalancer", _SERVICE, "routes to"),
        ArchitectureEdge("aws:ecr/repository:Repository", _SERVICE, "pulls"),
    ),
)
