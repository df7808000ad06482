"""Dashboard: one CloudWatch dashboard per stack with service health, pipeline executions and delivery
metrics, computed by CloudWatch itself (no code runs in the account).

Delivery metrics come from EventBridge rules without targets: EventBridge publishes `MatchedEvents` per
rule (namespace AWS/Events, dimension RuleName) every minute a rule matches, so one rule per pipeline
event type turns pipeline events into countable metrics
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html). Those metrics are
best-effort, like every EventBridge metric: the panels are trends, not an audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import ServiceMetrics
from components.safety.alarms import MIN_REQUESTS_FOR_RATE
from components.safety.dora import dora_widgets
from components.safety.supply_panels import supply_widgets
from components.settings import AlarmThresholds
from functions.deployment_record import DIMENSION_NAME, DURATION_METRIC, FAILED_METRIC, METRIC_NAMESPACE, RECORD_TYPE, SUCCEEDED_METRIC

DAY = 86400
MINUTE = 60


def delivery_event_patterns(pipeline_name: str, deploy_stages: Sequence[pulumi.Input[str]]) -> dict[str, dict[str, Any]]:
    """One EventBridge pattern per counted event: rule suffix -> pattern.

    Deploy stages are named by the deploy target; every one of them counts.
    """

    def stage(state: str) -> dict[str, Any]:
        return {
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Stage Execution State Change"],
            "detail": {"pipeline": [pipeline_name], "stage": list(deploy_stages), "state": [state]},
        }

    def execution(state: str) -> dict[str, Any]:
        return {
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Pipeline Execution State Change"],
            "detail": {"pipeline": [pipeline_name], "state": [state]},
        }

    return {
        "deploy-succeeded": stage("SUCCEEDED"),
        "deploy-failed": stage("FAILED"),
        "execution-started": execution("STARTED"),
        "execution-succeeded": execution("SUCCEEDED"),
        "execution-failed": execution("FAILED"),
    }


def _events(rule_name: pulumi.Input[str], id_: str, label: str, visible: bool = True) -> list[Any]:
    return ["AWS/Events", "MatchedEvents", "RuleName", rule_name, {"id": id_, "label": label, "stat": "Sum", "visible": visible}]


# The deployment records' fields the records table shows, newest first (functions/deployment_record.py).
RECORD_COLUMNS = ("finishedAt", "outcome", "strategy", "commit", "digest", "durationSeconds", "reason")
RECORD_ROWS = 50


def deployment_records_query(log_groups: Sequence[str]) -> str:
    """The Logs Insights query of the records table: every deployment record in `log_groups`, newest first."""
    sources = " | ".join(f"SOURCE '{group}'" for group in log_groups)
    return f"{sources} | filter recordType = '{RECORD_TYPE}' | fields {', '.join(RECORD_COLUMNS)} | sort finishedAt desc | limit {RECORD_ROWS}"


def deployment_widgets(region: pulumi.Input[str], service_id: str, log_groups: Sequence[pulumi.Input[str]], y: int) -> list[dict[str, Any]]:
    """Deployment duration and outcomes from the deployment records' metrics (namespace
    ContainerCicd/Deployments, dimension Service), the records themselves as a table, and the DORA panels over them."""
    service = [DIMENSION_NAME, service_id]

    def deployments(name: str, id_: str, label: str, stat: str) -> list[Any]:
        return [METRIC_NAMESPACE, name, *service, {"id": id_, "label": label, "stat": stat}]

    widgets: list[dict[str, Any]] = [
        {
            "type": "metric",
            "x": 0,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": "Deployment duration (s, per day)",
                "region": region,
                "metrics": [deployments(DURATION_METRIC, "longest", "longest", "Maximum"), deployments(DURATION_METRIC, "mean", "average", "Average")],
                "period": DAY,
                "view": "bar",
            },
        },
        {
            "type": "metric",
            "x": 12,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": "Deployment outcomes (verified, per day)",
                "region": region,
                "metrics": [deployments(SUCCEEDED_METRIC, "succeeded", "succeeded", "Sum"), deployments(FAILED_METRIC, "failed", "failed, rolled back or stopped", "Sum")],
                "period": DAY,
                "view": "bar",
            },
        },
    ]
    if log_groups:
        widgets.append(
            {
                "type": "log",
                "x": 0,
                "y": y + 6,
                "width": 24,
                "height": 8,
                "properties": {
                    "title": f"Deployment records (last {RECORD_ROWS})",
                    "region": region,
                    "query": pulumi.Output.all(*log_groups).apply(deployment_records_query),
                    "view": "table",
                },
            }
        )
        widgets += dora_widgets(region, log_groups, y + 14)
    return widgets


def dashboard_body(
    *,
    region: pulumi.Input[str],
    metrics: ServiceMetrics,
    thresholds: AlarmThresholds,
    rule_names: dict[str, pulumi.Input[str]],
    alarm_arns: Sequence[pulumi.Input[str]],
    service_id: str = "",
    deployment_record_log_groups: Sequence[pulumi.Input[str]] = (),
    scan_panels: bool = False,
) -> dict[str, Any]:
    """The dashboard body (CloudWatch dashboard body structure) as data. `service_id`: the deployment
    metrics' Service dimension ("": no deployment panels). `scan_panels`: the supply-chain gate scans, so the
    scan verdict of each deployment is shown below everything else."""
    lb, tg, alt = metrics.load_balancer, metrics.target_group, metrics.alternate_target_group
    elb = "AWS/ApplicationELB"
    # Response times of the service's targets: of the one target group, or with two (ECS blue-green, canary,
    # linear) of the load balancer, which serves this service only.
    latency_dimensions: list[Any] = ["LoadBalancer", lb] if alt is not None else ["LoadBalancer", lb, "TargetGroup", tg]
    alternate_hosts: list[list[Any]] = (
        [
            [elb, "HealthyHostCount", "LoadBalancer", lb, "TargetGroup", alt, {"label": "healthy (alternate)"}],
            [elb, "UnHealthyHostCount", "LoadBalancer", lb, "TargetGroup", alt, {"label": "unhealthy (alternate)"}],
        ]
        if alt is not None
        else []
    )

    def graph(title: str, rows: list, x: int, y: int, period: int = MINUTE, stat: str = "Sum", **extra: Any) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 8,
            "height": 6,
            "properties": {"title": title, "region": region, "metrics": rows, "period": period, "stat": stat, "view": "timeSeries", **extra},
        }

    saturation = [[ref.namespace, ref.metric_name, *[v for kv in ref.dimensions.items() for v in kv], {"label": f"{ref.kind} %", "stat": "Average"}] for ref in metrics.saturation]
    widgets = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 2,
            "properties": {
                "markdown": (
                    "## Service health and delivery\n"
                    "Delivery panels count pipeline events (EventBridge MatchedEvents, best-effort). "
                    "See docs/safety.md for what each panel measures and its limits."
                )
            },
        },
        graph("Requests per minute", [[elb, "RequestCount", "LoadBalancer", lb, {"label": "requests"}]], 0, 2),
        graph(
            "5xx responses and rate",
            [
                [elb, "HTTPCode_Target_5XX_Count", "LoadBalancer", lb, "TargetGroup", tg, {"id": "targetErrors", "label": "target 5xx"}],
                [elb, "HTTPCode_ELB_5XX_Count", "LoadBalancer", lb, {"id": "lbErrors", "label": "load balancer 5xx"}],
                [elb, "RequestCount", "LoadBalancer", lb, {"id": "requests", "visible": False}],
                [
                    {
                        "id": "errorRate",
                        "label": "5xx rate %",
                        "yAxis": "right",
                        "expression": f"IF(requests >= {MIN_REQUESTS_FOR_RATE}, 100 * (FILL(targetErrors, 0) + FILL(lbErrors, 0)) / requests, 0)",
                    }
                ],
            ],
            8,
            2,
            annotations={"horizontal": [{"label": "alarm", "value": thresholds.error_rate_percent, "yAxis": "right"}]},
        ),
        graph(
            "Target response time (s)",
            [
                [elb, "TargetResponseTime", *latency_dimensions, {"stat": "p50", "label": "p50"}],
                [elb, "TargetResponseTime", *latency_dimensions, {"stat": "p95", "label": "p95"}],
                [elb, "TargetResponseTime", *latency_dimensions, {"stat": "p99", "label": "p99"}],
            ],
            16,
            2,
            annotations={"horizontal": [{"label": "p95 alarm", "value": thresholds.latency_p95_ms / 1000}]},
        ),
        graph(
            "Healthy / unhealthy targets",
            [
                [elb, "HealthyHostCount", "LoadBalancer", lb, "TargetGroup", tg, {"label": "healthy"}],
                [elb, "UnHealthyHostCount", "LoadBalancer", lb, "TargetGroup", tg, {"label": "unhealthy"}],
                *alternate_hosts,
            ],
            0,
            8,
            stat="Maximum",
        ),
        graph("CPU and memory (% of reservation)", saturation, 8, 8, stat="Average", yAxis={"left": {"min": 0, "max": 100}}),
        {
            "type": "alarm",
            "x": 16,
            "y": 8,
            "width": 8,
            "height": 6,
            "properties": {"title": "Service alarms", "alarms": list(alarm_arns)},
        },
        graph(
            "Pipeline executions per day",
            [
                _events(rule_names["execution-started"], "started", "started"),
                _events(rule_names["execution-succeeded"], "succeeded", "succeeded"),
                _events(rule_names["execution-failed"], "failed", "failed"),
            ],
            0,
            14,
            period=DAY,
            view="bar",
        ),
        graph(
            "Deployment frequency (successful deploys per day)",
            [
                _events(rule_names["deploy-succeeded"], "deploys", "successful deploys"),
            ],
            8,
            14,
            period=DAY,
            view="bar",
        ),
        graph(
            "Change failure rate (% of deploys that failed, per day)",
            [
                _events(rule_names["deploy-succeeded"], "ok", "succeeded", visible=False),
                _events(rule_names["deploy-failed"], "ko", "failed", visible=False),
                [{"id": "cfr", "label": "change failure rate %", "expression": "IF(FILL(ok, 0) + FILL(ko, 0) > 0, 100 * FILL(ko, 0) / (FILL(ok, 0) + FILL(ko, 0)), 0)"}],
            ],
            16,
            14,
            period=DAY,
            yAxis={"left": {"min": 0, "max": 100}},
        ),
        graph(
            "Time to restore: service impaired (1 = impaired; block width = time to restore)",
            [
                [elb, "HTTPCode_Target_5XX_Count", "LoadBalancer", lb, "TargetGroup", tg, {"id": "te", "visible": False}],
                [elb, "HTTPCode_ELB_5XX_Count", "LoadBalancer", lb, {"id": "le", "visible": False}],
                [elb, "RequestCount", "LoadBalancer", lb, {"id": "rq", "visible": False}],
                [elb, "UnHealthyHostCount", "LoadBalancer", lb, "TargetGroup", tg, {"id": "uh", "stat": "Maximum", "visible": False}],
                [
                    {
                        "id": "impaired",
                        "label": "impaired",
                        "expression": (
                            f"IF((rq >= {MIN_REQUESTS_FOR_RATE} AND 100 * (FILL(te, 0) + FILL(le, 0)) / rq > {thresholds.error_rate_percent})"
                            f" OR FILL(uh, 0) >= {thresholds.unhealthy_targets}, 1, 0)"
                        ),
                    }
                ],
            ],
            0,
            20,
            period=MINUTE,
            view="timeSeries",
            stacked=False,
        )
        | {"width": 24},
    ]
    if service_id:
        widgets += deployment_widgets(region, service_id, deployment_record_log_groups, 26)
    if scan_panels:
        widgets += supply_widgets(region, deployment_record_log_groups, max(w["y"] + w["height"] for w in widgets))
    return {"widgets": widgets}


@dataclass(frozen=True)
class DashboardSection:
    """One service's part of the dashboard: its health, pipeline, deployments (and scans)."""

    name: str
    """Stem of the section's EventBridge rules' names (`<name>-<suffix>`): a single service's is the component's name."""
    title: str
    """The service's name, shown above its section when the dashboard has several."""
    pipeline_name: str
    """Pipeline whose executions the delivery metrics count."""
    deploy_stage_names: Sequence[pulumi.Input[str]]
    """Names of the deploy target's stages; their SUCCEEDED/FAILED events are the delivery metrics."""
    metrics: ServiceMetrics
    """The service's load balancer and saturation metrics, from the deploy target."""
    thresholds: AlarmThresholds
    """The alarms' thresholds, drawn on the graphs and used by the time-to-restore widget."""
    alarm_arns: Sequence[pulumi.Input[str]]
    """Alarms shown in the section's alarm status widget."""
    service_id: str
    """The deployment records' service id (the Service dimension of the ContainerCicd/Deployments metrics)."""
    deployment_record_log_groups: Sequence[pulumi.Input[str]] = ()
    """Log groups holding the deployment records, shown as a table. Omitted: no records table."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the section's rules. Omitted: untagged."""
    previous_name: str | None = None
    """The stem the section's rules had before (each keeps its state through an alias). Omitted: none."""


@dataclass(frozen=True)
class DashboardArgs:
    dashboard_name: str
    """Physical dashboard name (unique per account)."""
    sections: Sequence[DashboardSection]
    """One section per service, in this order, each under its service's name when there are several."""
    scan_panels: bool = False
    """The supply-chain gate scans images: show each deployment's scan verdict (from the records). Omitted: not shown."""


def stacked_body(bodies: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Sections' bodies one below the other: one section as it is; several each under a heading with its title."""
    if len(bodies) == 1:
        return bodies[0][1]
    widgets: list[dict[str, Any]] = []
    for title, body in bodies:
        top = max((w["y"] + w["height"] for w in widgets), default=0)
        widgets.append({"type": "text", "x": 0, "y": top, "width": 24, "height": 1, "properties": {"markdown": f"# {title}"}})
        widgets += [w | {"y": w["y"] + top + 1} for w in body["widgets"]]
    return {"widgets": widgets}


class Dashboard(pulumi.ComponentResource):
    """The stack's CloudWatch dashboard and the EventBridge rules that count pipeline events. Outputs: `dashboard_name`, `dashboard_url`."""

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:dashboard:Dashboard", name, None, opts)
        region = AwsContext(self).region
        bodies: list[tuple[str, dict[str, Any]]] = []
        for section in args.sections:
            rule_names: dict[str, pulumi.Input[str]] = {}
            for suffix, pattern in delivery_event_patterns(section.pipeline_name, section.deploy_stage_names).items():
                rule = aws.cloudwatch.EventRule(
                    f"{section.name}-{suffix}",
                    description=f"Counts {suffix} events of {section.pipeline_name} (AWS/Events MatchedEvents); no target",
                    event_pattern=pulumi.Output.json_dumps(pattern),
                    tags=section.tags,
                    opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{section.previous_name}-{suffix}")] if section.previous_name else None),
                )
                rule_names[suffix] = rule.name
            body = dashboard_body(
                region=region,
                metrics=section.metrics,
                thresholds=section.thresholds,
                rule_names=rule_names,
                alarm_arns=section.alarm_arns,
                service_id=section.service_id,
                deployment_record_log_groups=section.deployment_record_log_groups,
                scan_panels=args.scan_panels,
            )
            bodies.append((section.title, body))
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=pulumi.Output.json_dumps(stacked_body(bodies)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.dashboard_url = pulumi.Output.concat(
            "https://",
            region,
            ".console.aws.amazon.com/cloudwatch/home?region=",
            region,
            "#dashboards/dashboard/",
            dashboard.dashboard_name,
        )
        self.register_outputs({"dashboard_name": self.dashboard_name, "dashboard_url": self.dashboard_url})
