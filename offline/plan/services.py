"""The plan of a stack with `services`: which service each resource belongs to, and one summary row a service.

A named service `s` builds its own components under logical names `<s>-<base>` ("api-pipeline", "api-deploy")
and tags its resources `service: s`; shared parts (network, load balancer, cluster, logs key, artifacts,
records, audit trail) keep the stack's names and the stack's tags. A stack without `services` has one
implicit service and its plan keeps the single-service shape: nothing here applies to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.settings import KEYS, DeployTargetKind, ServiceSettings, Settings, parse_settings
from offline import cost
from offline.mocks import PROJECT, Resource, StackResult
from offline.stackfile import config_strings

SERVICES_KEY = f"{PROJECT}:services"
STACK_TYPE = "pulumi:pulumi:Stack"
PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
TARGET_GROUP_TYPE = "aws:lb/targetGroup:TargetGroup"
RULE_TYPE = "aws:lb/listenerRule:ListenerRule"
METRIC_ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM_TYPE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
FUNCTION_TYPE = "aws:lambda/function:Function"
# The path router's function variable: {pipeline name: file patterns} (components/delivery/path_router.py).
ROUTES_VARIABLE = "ROUTES"
# Types that exist once per service, never as a shared part: one tagged with a service's name belongs to that
# service even when its component hangs under a shared one (a target group under the load balancer), and even
# when the service is the entry named like the stack's serviceName (whose tag the shared parts carry too).
PER_SERVICE_TYPES = frozenset(
    {
        PIPELINE_TYPE,
        TARGET_GROUP_TYPE,
        RULE_TYPE,
        METRIC_ALARM_TYPE,
        COMPOSITE_ALARM_TYPE,
        "aws:codebuild/project:Project",
        "aws:ecr/repository:Repository",
        "aws:ecs/service:Service",
        "aws:ecs/taskDefinition:TaskDefinition",
    }
)


def named_services(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the stack's `services` entries, in their order (empty: no `services` key, one implicit service)."""
    value = config.get(SERVICES_KEY)
    if not value:
        return ()
    entries = json.loads(value) if isinstance(value, str) else value
    return tuple(str(e["name"]) for e in entries if isinstance(e, Mapping) and e.get("name"))


def has_services(result: StackResult) -> bool:
    return bool(named_services(result.config))


def stack_services(result: StackResult) -> tuple[ServiceSettings, ...]:
    """The stack's services as the program read them (`Settings.service_list`)."""
    raw = {k.split(":", 1)[1]: v for k, v in config_strings(result.config).items() if k.startswith(f"{PROJECT}:")}
    return parse_settings(raw, PROJECT, result.stack).service_list


def _top_level(resource: Resource, by_ref: Mapping[str, Resource]) -> Resource:
    """The component `resource` is under that the program created at the top (`resource` itself when it is one)."""
    current = resource
    while (parent := by_ref.get(current.parent_urn or "")) is not None and parent.type != STACK_TYPE:
        current = parent
    return current


def owners(result: StackResult) -> dict[str, str | None]:
    """The service each resource belongs to, by URN; None: a shared part (or the stack has no `services`).

    A resource belongs to named service `s` when it or the top-level component it is under is named `<s>-...` (the
    longest such name, so that `api-v2-deploy` is `api-v2`'s, not `api`'s: a service's attachment to the shared load
    balancer is named after the service) and it carries no other named service's tag;
    or when it is of a per-service type (PER_SERVICE_TYPES) tagged `service: s`, or tagged `s` where `s` is not
    the stack's own serviceName (whose tag the shared parts carry)."""
    names = sorted(named_services(result.config), key=len, reverse=True)
    if not names:
        return {r.urn: None for r in result.resources}
    stack_service = str(result.config.get(f"{PROJECT}:serviceName") or KEYS["serviceName"].default)
    by_ref = {r.ref: r for r in result.resources if r.ref}
    found: dict[str, str | None] = {}
    for r in result.resources:
        tag = (r.inputs.get("tags") or {}).get("service") if isinstance(r.inputs.get("tags"), Mapping) else None
        top = _top_level(r, by_ref).name
        # A tag naming another service than the stack's own overrides the name (a service named like a shared part).
        by_name = next((s for s in names if (top.startswith(f"{s}-") or r.name.startswith(f"{s}-")) and tag in (None, s, stack_service)), None)
        by_tag = tag if tag in names and (tag != stack_service or r.type in PER_SERVICE_TYPES) else None
        found[r.urn] = by_name or by_tag
    # A listener rule (named and tagged as the load balancer's) belongs to the service whose target groups it forwards to.
    group_owner = {g.outputs.get("arn"): found[g.urn] for g in result.of_type(TARGET_GROUP_TYPE)}
    for rule in result.of_type(RULE_TYPE):
        actions = rule.inputs.get("actions") or []
        arns = [a.get("targetGroupArn") for a in actions] + [g.get("arn") for a in actions for g in (a.get("forward") or {}).get("targetGroups") or []]
        targets = {group_owner.get(arn) for arn in arns if arn}
        if len(targets) == 1 and None not in targets:
            found[rule.urn] = targets.pop()
    return found


def resources_of(result: StackResult, service: str | None, owner: Mapping[str, str | None] | None = None) -> list[Resource]:
    """The resources of `service` (None: the shared parts), by URN."""
    owner = owners(result) if owner is None else owner
    return sorted((r for r in result.resources if owner[r.urn] == service), key=lambda r: r.urn)


# ----------------------------------------------------------------------------------------------
# The summary table


@dataclass(frozen=True)
class ServiceRow:
    service: str
    route: str
    strategy: str
    size: str
    pipeline: str
    source_filters: str
    target_groups: str
    alarms: str

    def markdown(self) -> str:
        cells = (self.service, self.route, self.strategy, self.size, self.pipeline, self.source_filters, self.target_groups, self.alarms)
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


HEADER = ("| Service | Route | Strategy | Size | Pipeline | Source filters | Target groups | Alarms |", "|---|---|---|---|---|---|---|---:|")


def route_text(service: ServiceSettings) -> str:
    """Which requests the listener sends the service: its rule's conditions and priority, or the default action."""
    if service.routing is None:
        return "default action"
    conditions = []
    if service.routing.hosts:
        conditions.append("host " + ", ".join(f"`{h}`" for h in service.routing.hosts))
    if service.routing.paths:
        conditions.append("path " + ", ".join(f"`{p}`" for p in service.routing.paths))
    return f"{' and '.join(conditions)} (priority {service.priority})"


def strategy_text(settings: Settings) -> str:
    if settings.deploy_target is DeployTargetKind.EKS:
        return "rolling (Deployment)"
    if settings.ecs is None:
        return "-"
    return settings.ecs.strategy.kind.resolve(settings.production).value


def size_text(settings: Settings) -> str:
    """Replicas times each one's CPU and memory."""
    count = settings.workload.desired_count
    if settings.deploy_target is DeployTargetKind.EKS and settings.eks is not None:
        return f"{count} × {settings.eks.pod_cpu_millicores}m / {settings.eks.pod_memory_mib} MiB"
    if settings.ecs is not None:
        return f"{count} × {settings.ecs.cpu / 1024:g} vCPU / {settings.ecs.memory / 1024:g} GB"
    return f"{count}"


def _physical(r: Resource) -> str:
    return f"`{r.inputs.get('name') or r.name}`"


def router_routes(result: StackResult) -> dict[str, list[str]]:
    """The CodeCommit path router's routes (its function's ROUTES: file patterns by pipeline name); empty without one."""
    found: dict[str, list[str]] = {}
    for function in result.of_type(FUNCTION_TYPE):
        routes = ((function.inputs.get("environment") or {}).get("variables") or {}).get(ROUTES_VARIABLE)
        if isinstance(routes, str):
            found.update(json.loads(routes))
    return found


def _filters(pipelines: Sequence[Resource], routes: Mapping[str, Sequence[str]]) -> str:
    """The file paths whose changes start the service's pipeline, and what applies them: the pipeline's V2 push
    trigger (connections) or the path router (CodeCommit); neither: every push to the branch starts it."""
    triggered = [
        path
        for p in pipelines
        for trigger in p.inputs.get("triggers") or []
        for push in (trigger.get("gitConfiguration") or {}).get("pushes") or []
        for path in ((push.get("filePaths") or {}).get("includes") or [])
    ]
    if triggered:
        return ", ".join(f"`{p}`" for p in triggered) + " (trigger)"
    routed = [str(p.inputs.get("name")) for p in pipelines if str(p.inputs.get("name")) in routes]
    if routed:
        paths = [path for name in routed for path in routes[name]]
        return (", ".join(f"`{p}`" for p in paths) or "every push") + " (path router)"
    return "every push"


def summary_rows(result: StackResult, services: Sequence[ServiceSettings]) -> list[ServiceRow]:
    """One row per service, in the stack file's order: what it serves, how it deploys, and its own resources."""
    owner, routes = owners(result), router_routes(result)
    rows = []
    for service in services:
        mine = resources_of(result, service.name, owner)
        pipelines = [r for r in mine if r.type == PIPELINE_TYPE]
        groups = [r for r in mine if r.type == TARGET_GROUP_TYPE]
        metric = sum(1 for r in mine if r.type == METRIC_ALARM_TYPE)
        composite = sum(1 for r in mine if r.type == COMPOSITE_ALARM_TYPE)
        rows.append(
            ServiceRow(
                service=f"`{service.name}`",
                route=route_text(service),
                strategy=strategy_text(service.settings),
                size=size_text(service.settings),
                pipeline=", ".join(_physical(p) for p in pipelines) or "none",
                source_filters=_filters(pipelines, routes),
                target_groups=", ".join(_physical(g) for g in groups) or "none",
                alarms=f"{metric}" + (f" + {composite} composite" if composite else ""),
            )
        )
    return rows


def services_section(result: StackResult, services: Sequence[ServiceSettings]) -> list[str]:
    """The plan's Services section: the summary table, then what a request no rule matches gets."""
    rows = summary_rows(result, services)
    default = next((s.name for s in services if s.routing is None), None)
    fallback = (
        f"A request that no rule matches goes to `{default}` (the listener's default action)."
        if default
        else "No service is the default: a request that no rule matches gets 404 from the load balancer."
    )
    shared = sum(1 for owner in owners(result).values() if owner is None)
    return [
        f"{len(rows)} services share one network, load balancer and cluster ({shared} shared resources and components); "
        "each has its own pipeline, image record, target group(s), alarms and dashboard section. Rules are evaluated by priority, "
        "lowest first.",
        "",
        *HEADER,
        *(row.markdown() for row in rows),
        "",
        fallback,
    ]


def services_report(result: StackResult) -> list[str]:
    """The report's `## Services` section and its blank line; nothing for a stack without `services`."""
    if not has_services(result):
        return []
    return ["## Services", "", *services_section(result, stack_services(result)), ""]


def sharing_report(result: StackResult) -> list[str]:
    """What the services save by sharing the stack's parts (offline/cost.py), for the cost section; nothing for a
    stack without `services`."""
    count = len(named_services(result.config))
    if not count:
        return []
    found = cost.savings(cost.estimate(result), count)
    return [
        "",
        f"### What {count} services save by sharing",
        "",
        f"One stack per service would pay each shared part {count} times: USD per month, same prices.",
        "",
        found.markdown().rstrip(),
    ]


def routes(services: Sequence[ServiceSettings]) -> dict[str, str]:
    """Each named service's route in words, by name (the architecture diagram's load balancer edges)."""
    return {s.name: route_text(s).replace("`", "") for s in services if not s.implicit}


# What Mermaid renders at most by default (its config's maxTextSize and maxEdges; GitHub and GitLab keep the defaults):
# a diagram over either is shown as an error instead.
MERMAID_MAX_TEXT = 50_000
MERMAID_MAX_EDGES = 500


def mermaid_notes(mermaid: Mapping[str, str]) -> list[str]:
    """A note for each diagram (Mermaid text by name) that Mermaid would refuse to draw: too long or too many edges."""
    notes = []
    for name, text in mermaid.items():
        edges = sum(1 for line in text.splitlines() if "-->" in line or ".->" in line)
        if len(text) > MERMAID_MAX_TEXT or edges > MERMAID_MAX_EDGES:
            notes.append(
                f"The {name} diagram has {len(text)} characters and {edges} edges, over what Mermaid draws by default "
                f"({MERMAID_MAX_TEXT} characters, {MERMAID_MAX_EDGES} edges): read `{name}.dot` with Graphviz instead."
            )
    return notes
