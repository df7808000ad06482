"""Service alarms: the signals that roll a deployment back and page the team.

Names are a pure function of the stack prefix (`alarm_names`), so the deploy target can be told them
before the alarms exist (ECS `alarms` block, EKS rollout watch) and the alarms can be created after
the target from its `ServiceMetrics`, without branching on the target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws

from components.contracts import ServiceMetrics
from components.naming import physical_name
from components.settings import AlarmThresholds

# Alarm kinds in a fixed order: the order of `alarm_names`. CodePipeline conditions take at most
# five rules, so the pipeline watches the composite alarm instead of these one by one.
KINDS = ("5xx-rate", "unhealthy-targets", "latency-p95", "cpu", "memory")
# One-minute periods: a bad deployment must be noticed (and rolled back) within minutes.
PERIOD_SECONDS = 60
# Fewer requests than this per minute make a rate meaningless (1 error in 2 requests is not 50 % down).
MIN_REQUESTS_FOR_RATE = 10


def alarm_names(prefix: str) -> tuple[str, ...]:
    """Physical names of the service's metric alarms, in `KINDS` order."""
    return tuple(physical_name(prefix, f"alarm-{kind}", 255) for kind in KINDS)


def composite_alarm_name(prefix: str) -> str:
    """The composite alarm that is in ALARM while any service alarm is."""
    return physical_name(prefix, "alarm-service-unhealthy", 255)


class AlarmSpec(TypedDict, total=False):
    """MetricAlarm keyword arguments that `alarm_specs` sets (the component adds actions and tags).

    Unpacked into `aws.cloudwatch.MetricAlarm(**spec)`, so a type checker matches each key to a parameter.
    """

    name: Required[str]
    alarm_description: str
    comparison_operator: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    metric_queries: Sequence[aws.cloudwatch.MetricAlarmMetricQueryArgsDict]
    namespace: str
    metric_name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str
    extended_statistic: str
    period: int
    evaluate_low_sample_count_percentiles: str
    treat_missing_data: str


def _metric(id_: str, namespace: str, name: str, stat: str, dimensions: Mapping[str, pulumi.Input[str]]) -> aws.cloudwatch.MetricAlarmMetricQueryArgsDict:
    return {
        "id": id_,
        "return_data": False,
        "metric": {"namespace": namespace, "metric_name": name, "stat": stat, "period": PERIOD_SECONDS, "dimensions": dimensions},
    }


def _both_target_groups(spec: AlarmSpec, metrics: ServiceMetrics, id_: str, stat: str, label: str) -> AlarmSpec:
    """`spec` (a single-metric alarm on the primary target group) over both target groups: the worse of the
    two each minute. ECS blue-green, canary and linear deployments move the service between them, so an
    alarm on one would be blind on every other deployment."""
    dimensions = {"LoadBalancer": metrics.load_balancer, "TargetGroup": metrics.target_group}
    alternate = {"LoadBalancer": metrics.load_balancer, "TargetGroup": metrics.alternate_target_group}
    name = spec.get("metric_name", "")
    # The single metric's fields go; so does the low-sample setting, which PutMetricAlarm applies to
    # percentile alarms on one metric only.
    single = {
        k: v for k, v in spec.items() if k not in ("namespace", "metric_name", "dimensions", "statistic", "extended_statistic", "period", "evaluate_low_sample_count_percentiles")
    }
    return {
        **single,  # type: ignore[typeddict-item]
        "metric_queries": [
            _metric(id_, "AWS/ApplicationELB", name, stat, dimensions),
            _metric(f"{id_}Alternate", "AWS/ApplicationELB", name, stat, alternate),
            {"id": f"{id_}Worse", "label": label, "return_data": True, "expression": f"MAX([FILL({id_}, 0), FILL({id_}Alternate, 0)])"},
        ],
    }


def alarm_specs(prefix: str, metrics: ServiceMetrics, thresholds: AlarmThresholds) -> list[AlarmSpec]:
    """MetricAlarm arguments (without actions and tags), in `KINDS` order. With an alternate target group
    (ECS blue-green, canary, linear), the target-group alarms watch both.

    Raises ValueError when the target's metrics lack a cpu or memory saturation metric: the target
    was promised those alarm names before they existed.
    """
    names: dict[str, str] = dict(zip(KINDS, alarm_names(prefix), strict=True))
    lb = {"LoadBalancer": metrics.load_balancer}
    lb_tg = {"LoadBalancer": metrics.load_balancer, "TargetGroup": metrics.target_group}
    both = metrics.alternate_target_group is not None
    # Target 5xx: of the primary target group, or with two, of the load balancer's targets (the ALB serves
    # this service only, so its target 5xx are the service's in either target group).
    target_errors = _metric("targetErrors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", lb if both else lb_tg)
    specs: list[AlarmSpec] = [
        {
            "name": names["5xx-rate"],
            "alarm_description": f"5xx responses (target + load balancer) above {thresholds.error_rate_percent}% of requests",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": thresholds.error_rate_percent,
            "evaluation_periods": 3,
            "datapoints_to_alarm": 3,
            "metric_queries": [
                target_errors,
                # Load-balancer-generated 5xx (502/503/504 when no target answers) have no TargetGroup dimension.
                _metric("lbErrors", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", lb),
                _metric("requests", "AWS/ApplicationELB", "RequestCount", "Sum", lb),
                {
                    "id": "errorRate",
                    "label": "5xx rate (%)",
                    "return_data": True,
                    "expression": (f"IF(requests >= {MIN_REQUESTS_FOR_RATE}, 100 * (FILL(targetErrors, 0) + FILL(lbErrors, 0)) / requests, 0)"),
                },
            ],
            # No requests, no data: an idle service is not failing.
            "treat_missing_data": "notBreaching",
        },
        {
            "name": names["unhealthy-targets"],
            "alarm_description": f"At least {thresholds.unhealthy_targets} target(s) failing the load balancer health check",
            "namespace": "AWS/ApplicationELB",
            "metric_name": "UnHealthyHostCount",
            "dimensions": lb_tg,
            "statistic": "Maximum",
            "period": PERIOD_SECONDS,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "threshold": thresholds.unhealthy_targets,
            "evaluation_periods": 3,
            "datapoints_to_alarm": 3,
            # The ALB reports this every minute for an attached target group; a gap is delayed
            # delivery, not an outage, so keep the current state instead of flapping.
            "treat_missing_data": "missing",
        },
        {
            "name": names["latency-p95"],
            "alarm_description": f"p95 target response time above {thresholds.latency_p95_ms} ms",
            "namespace": "AWS/ApplicationELB",
            "metric_name": "TargetResponseTime",
            "dimensions": lb_tg,
            "extended_statistic": "p95",
            "period": PERIOD_SECONDS,
            "comparison_operator": "GreaterThanThreshold",
            # TargetResponseTime is in seconds.
            "threshold": thresholds.latency_p95_ms / 1000,
            "evaluation_periods": 3,
            "datapoints_to_alarm": 3,
            # Percentiles over a handful of requests are noise; with no requests there is nothing slow.
            "evaluate_low_sample_count_percentiles": "ignore",
            "treat_missing_data": "notBreaching",
        },
    ]
    if both:
        specs[1] = _both_target_groups(specs[1], metrics, "unhealthy", "Maximum", "unhealthy targets (either target group)")
        specs[2] = _both_target_groups(specs[2], metrics, "latency", "p95", "p95 target response time (slower target group)")
    by_kind = {m.kind: m for m in metrics.saturation}
    for kind, threshold in (("cpu", thresholds.cpu_percent), ("memory", thresholds.memory_percent)):
        if kind not in by_kind:
            raise ValueError(f"ServiceMetrics.saturation has no {kind!r} metric; the deploy target must expose cpu and memory")
        ref = by_kind[kind]
        specs.append(
            {
                "name": names[kind],
                "alarm_description": f"Service {kind} utilisation above {threshold}%",
                "namespace": ref.namespace,
                "metric_name": ref.metric_name,
                "dimensions": ref.dimensions,
                "statistic": "Average",
                "period": PERIOD_SECONDS,
                "comparison_operator": "GreaterThanThreshold",
                "threshold": threshold,
                # Saturation builds up: five minutes in a row, so a start-up spike does not roll back.
                "evaluation_periods": 5,
                "datapoints_to_alarm": 5,
                # Published every minute while tasks/pods run; a gap is delivery delay or a replacement
                # in progress, which the health and error alarms already cover.
                "treat_missing_data": "missing",
            }
        )
    return specs


@dataclass(frozen=True)
class AlarmsArgs:
    name_prefix: str
    """Physical-name prefix (project-stack-service); alarm names derive from it via `alarm_names`."""
    metrics: ServiceMetrics
    """The service's load balancer and saturation metrics, from the deploy target."""
    thresholds: AlarmThresholds
    """When each alarm fires."""
    topic_arn: pulumi.Input[str]
    """Every alarm notifies this topic when it fires and when it recovers."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


class Alarms(pulumi.ComponentResource):
    """The service's metric alarms plus one composite alarm over them.

    Outputs: `alarm_names`, `composite_alarm_name`, `alarm_arns`.
    """

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:alarms:Alarms", name, None, opts)
        actions = [args.topic_arn]
        alarms = []
        for kind, spec in zip(KINDS, alarm_specs(args.name_prefix, args.metrics, args.thresholds), strict=True):
            alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{kind}",
                    alarm_actions=actions,
                    ok_actions=actions,
                    tags=args.tags,
                    opts=pulumi.ResourceOptions(parent=self),
                    **spec,
                )
            )
        names = alarm_names(args.name_prefix)
        composite = aws.cloudwatch.CompositeAlarm(
            f"{name}-service-unhealthy",
            alarm_name=composite_alarm_name(args.name_prefix),
            alarm_description="Any service alarm is firing: watched by the pipeline's deploy gates",
            alarm_rule=" OR ".join(f'ALARM("{n}")' for n in names),
            alarm_actions=actions,
            ok_actions=actions,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=alarms),
        )
        self.alarm_names = names
        self.composite_alarm_name = composite.alarm_name
        self.alarm_arns = [a.arn for a in [*alarms, composite]]
        self.register_outputs({"composite_alarm_name": self.composite_alarm_name, "alarm_arns": self.alarm_arns})
