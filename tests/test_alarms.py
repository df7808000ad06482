"""Service alarms: names known up front, the five signals on the target's ServiceMetrics dimensions,
thresholds from config, deliberate missing-data handling, every alarm notifying the topic, ECS
deployment alarms with rollback."""

from __future__ import annotations

import pytest

from components.contracts import MetricRef, ServiceMetrics
from components.safety.alarms import KINDS, alarm_names, alarm_specs, composite_alarm_name
from components.settings import AlarmThresholds, SettingsError, parse_settings

PROD_ON_ECS = {"deployTarget": "ecs", "eksKubernetesVersion": None, "eksPodCpuMillicores": None, "eksPodMemoryMiB": None}
STACKS = {
    "dev-ecs": ("dev", {"deployTarget": "ecs"}),
    "dev-eks": ("dev", {"deployTarget": "eks"}),
    "prod-ecs": ("prod", PROD_ON_ECS),
    "prod-eks": ("prod", {"deployTarget": "eks"}),
}
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"


@pytest.fixture(params=sorted(STACKS))
def stack(request, evaluate):
    name, overrides = STACKS[request.param]
    return evaluate(name, **overrides)


def alarms_by_kind(r):
    return {a.name.removeprefix("alarms-"): a for a in r.of_type(METRIC_ALARM)}


def topic_arn(r):
    return r.named("notifications-topic").outputs["arn"]


def test_alarm_names_are_a_pure_function_of_the_prefix():
    assert alarm_names("container-cicd-dev-app") == (
        "container-cicd-dev-app-alarm-5xx-rate",
        "container-cicd-dev-app-alarm-unhealthy-targets",
        "container-cicd-dev-app-alarm-latency-p95",
        "container-cicd-dev-app-alarm-cpu",
        "container-cicd-dev-app-alarm-memory",
    )
    assert composite_alarm_name("container-cicd-dev-app") == "container-cicd-dev-app-alarm-service-unhealthy"


def test_created_alarms_carry_the_names_promised_to_the_target(stack):
    prefix = f"container-cicd-{stack.stack}-app"
    assert sorted(a.inputs["name"] for a in stack.of_type(METRIC_ALARM)) == sorted(alarm_names(prefix))
    assert stack.outputs["alarmNames"] == list(alarm_names(prefix))


def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(stack):
    alarms = [*stack.of_type(METRIC_ALARM), *stack.of_type(COMPOSITE)]
    assert len(alarms) == 6
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic_arn(stack)], alarm.name
        assert alarm.inputs["okActions"] == [topic_arn(stack)], alarm.name


def test_alarms_watch_the_targets_load_balancer_dimensions(stack):
    alarms = alarms_by_kind(stack)
    lb = stack.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    # The deploy target's own target group (named for it).
    [tg] = [r.outputs["arnSuffix"] for r in stack.of_type("aws:lb/targetGroup:TargetGroup") if r.name in ("deploy-lb-tg-ecs", "deploy-lb-tg-eks")]
    queries = {q["id"]: q for q in alarms["5xx-rate"].inputs["metricQueries"]}
    assert queries["lbErrors"]["metric"]["dimensions"] == {"LoadBalancer": lb}
    assert queries["requests"]["metric"]["dimensions"] == {"LoadBalancer": lb}
    if len(stack.of_type("aws:lb/targetGroup:TargetGroup")) == 1:
        assert alarms["unhealthy-targets"].inputs["dimensions"] == {"LoadBalancer": lb, "TargetGroup": tg}
        assert alarms["latency-p95"].inputs["dimensions"] == {"LoadBalancer": lb, "TargetGroup": tg}
        assert queries["targetErrors"]["metric"]["dimensions"] == {"LoadBalancer": lb, "TargetGroup": tg}
        return
    # Production on ECS deploys as a canary, between two target groups: the alarms watch both.
    alternate = stack.named("deploy-lb-tg-alt").outputs["arnSuffix"]
    assert queries["targetErrors"]["metric"]["dimensions"] == {"LoadBalancer": lb}
    for kind, id_, stat in (("unhealthy-targets", "unhealthy", "Maximum"), ("latency-p95", "latency", "p95")):
        inputs = alarms[kind].inputs
        assert "dimensions" not in inputs and "metricName" not in inputs, kind
        primary, other, worse = inputs["metricQueries"]
        assert (primary["id"], primary["metric"]["dimensions"], primary["metric"]["stat"]) == (id_, {"LoadBalancer": lb, "TargetGroup": tg}, stat)
        assert (other["id"], other["metric"]["dimensions"], other["metric"]["stat"]) == (f"{id_}Alternate", {"LoadBalancer": lb, "TargetGroup": alternate}, stat)
        assert worse["expression"] == f"MAX([FILL({id_}, 0), FILL({id_}Alternate, 0)])" and worse["returnData"] is True
        assert primary["metric"]["period"] == other["metric"]["period"] == 60


def test_error_rate_is_metric_math_over_target_and_lb_5xx(dev):
    rate = alarms_by_kind(dev)["5xx-rate"].inputs
    queries = {q["id"]: q for q in rate["metricQueries"]}
    assert {k: q["metric"]["metricName"] for k, q in queries.items() if "metric" in q} == {
        "targetErrors": "HTTPCode_Target_5XX_Count",
        "lbErrors": "HTTPCode_ELB_5XX_Count",
        "requests": "RequestCount",
    }
    assert all(q["metric"]["stat"] == "Sum" and q["metric"]["period"] == 60 for q in queries.values() if "metric" in q)
    assert queries["errorRate"]["expression"] == ("IF(requests >= 10, 100 * (FILL(targetErrors, 0) + FILL(lbErrors, 0)) / requests, 0)")
    assert [q["id"] for q in rate["metricQueries"] if q.get("returnData")] == ["errorRate"]
    assert rate["threshold"] == 5 and rate["comparisonOperator"] == "GreaterThanThreshold"


def test_p95_latency_uses_the_extended_statistic_in_seconds(dev):
    latency = alarms_by_kind(dev)["latency-p95"].inputs
    assert latency["metricName"] == "TargetResponseTime"
    assert latency["extendedStatistic"] == "p95"
    assert "statistic" not in latency
    assert latency["threshold"] == 1.0  # 1000 ms default


def test_saturation_alarms_use_the_targets_saturation_metrics(stack):
    alarms = alarms_by_kind(stack)
    for kind in ("cpu", "memory"):
        inputs = alarms[kind].inputs
        assert inputs["threshold"] == 85
        assert inputs["statistic"] == "Average"
        assert inputs["namespace"] in ("AWS/ECS", "ContainerInsights")
        assert inputs["dimensions"], kind


def test_missing_data_is_handled_deliberately_per_alarm(dev):
    treat = {kind: a.inputs["treatMissingData"] for kind, a in alarms_by_kind(dev).items()}
    assert treat == {
        "5xx-rate": "notBreaching",
        "latency-p95": "notBreaching",
        "unhealthy-targets": "missing",
        "cpu": "missing",
        "memory": "missing",
    }


def test_thresholds_come_from_config(evaluate):
    r = evaluate("dev", alarm5xxPercent=2, alarmLatencyP95Ms=250, alarmUnhealthyTargets=2, alarmCpuPercent=70, alarmMemoryPercent=90)
    alarms = alarms_by_kind(r)
    assert alarms["5xx-rate"].inputs["threshold"] == 2
    assert alarms["latency-p95"].inputs["threshold"] == 0.25
    assert alarms["unhealthy-targets"].inputs["threshold"] == 2
    assert alarms["cpu"].inputs["threshold"] == 70
    assert alarms["memory"].inputs["threshold"] == 90


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("alarm5xxPercent", 0, "allowed: 1 to 100"),
        ("alarm5xxPercent", 101, "allowed: 1 to 100"),
        ("alarmLatencyP95Ms", 5, "allowed: 10 to 60000"),
        ("alarmUnhealthyTargets", 0, "allowed: 1 to 100"),
        ("alarmCpuPercent", 5, "allowed: 10 to 100"),
        ("alarmMemoryPercent", 150, "allowed: 10 to 100"),
    ],
)
def test_bad_thresholds_fail_in_settings(key, value, allowed):
    with pytest.raises(SettingsError, match=rf"^{key}: {value} is not valid; {allowed}\. Fix: set {key} between"):
        parse_settings({key: value}, "container-cicd", "dev")


def test_composite_alarm_is_any_service_alarm(dev):
    composite = dev.one(COMPOSITE).inputs
    assert composite["alarmName"] == "container-cicd-dev-app-alarm-service-unhealthy"
    assert composite["alarmRule"] == " OR ".join(f'ALARM("{n}")' for n in alarm_names("container-cicd-dev-app"))


def test_a_target_without_cpu_and_memory_metrics_is_rejected():
    metrics = ServiceMetrics("app/lb/1", "targetgroup/tg/1", [MetricRef("AWS/ECS", "CPUUtilization", {}, "cpu")])
    with pytest.raises(ValueError, match=r"ServiceMetrics.saturation has no 'memory' metric"):
        alarm_specs("p", metrics, AlarmThresholds(5, 1000, 1, 85, 85))


def test_specs_follow_kinds_order():
    metrics = ServiceMetrics("lb", "tg", [MetricRef("N", "M", {}, "memory"), MetricRef("N", "C", {}, "cpu")])
    specs = alarm_specs("p", metrics, AlarmThresholds(5, 1000, 1, 85, 85))
    assert [s["name"] for s in specs] == [f"p-alarm-{k}" for k in KINDS]
    assert specs[3]["metric_name"] == "C" and specs[4]["metric_name"] == "M"


def test_ecs_service_rolls_back_on_the_alarms_and_the_circuit_breaker(evaluate):
    for name, overrides in (STACKS["dev-ecs"], STACKS["prod-ecs"]):
        r = evaluate(name, **overrides)
        service = r.one("aws:ecs/service:Service").inputs
        assert service["alarms"] == {
            "alarmNames": list(alarm_names(f"container-cicd-{name}-app")),
            "enable": True,
            "rollback": True,
        }
        assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert service["deploymentMinimumHealthyPercent"] == 100


def test_ecs_deploy_action_fails_within_the_deployment_timeout(evaluate):
    r = evaluate("dev", deployTarget="ecs", deploymentTimeoutMinutes=10)
    stages = r.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    [action] = [a for s in stages for a in s["actions"] if a["provider"] == "ECS"]
    assert action["configuration"]["DeploymentTimeout"] == "10"


# How each alarm compares, and over how long: the direction is the alarm's meaning (a flipped operator
# alarms while healthy and stays quiet during an outage). Defaults: AlarmThresholds(5, 1000, 1, 85, 85).
INTENDED = {
    "5xx-rate": {"comparisonOperator": "GreaterThanThreshold", "threshold": 5, "evaluationPeriods": 3, "datapointsToAlarm": 3},
    # One unhealthy target is already an incident: ">=" with threshold 1, not "> 1".
    "unhealthy-targets": {
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "threshold": 1,
        "evaluationPeriods": 3,
        "datapointsToAlarm": 3,
        "period": 60,
        "statistic": "Maximum",
    },
    "latency-p95": {"comparisonOperator": "GreaterThanThreshold", "threshold": 1, "evaluationPeriods": 3, "datapointsToAlarm": 3},
    "cpu": {"comparisonOperator": "GreaterThanThreshold", "threshold": 85, "evaluationPeriods": 5, "datapointsToAlarm": 5},
    "memory": {"comparisonOperator": "GreaterThanThreshold", "threshold": 85, "evaluationPeriods": 5, "datapointsToAlarm": 5},
}


def test_every_alarm_compares_in_the_intended_direction(stack):
    alarms = alarms_by_kind(stack)
    assert set(alarms) == set(INTENDED) == set(KINDS)
    for kind, intended in INTENDED.items():
        if alarms[kind].inputs.get("metricQueries") and "statistic" in intended:
            # Over both target groups (production on ECS): period and statistic are the queries' (above).
            intended = {k: v for k, v in intended.items() if k not in ("period", "statistic")}
        assert {k: alarms[kind].inputs.get(k) for k in intended} == intended, kind


def test_unhealthy_targets_alarm_exactly(dev):
    inputs = alarms_by_kind(dev)["unhealthy-targets"].inputs
    assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert inputs["threshold"] == 1
    assert (inputs["evaluationPeriods"], inputs["datapointsToAlarm"], inputs["period"]) == (3, 3, 60)
    assert (inputs["namespace"], inputs["metricName"], inputs["statistic"]) == ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum")


def test_composite_alarm_fires_when_any_alarm_does(dev):
    """The composite's rule is an OR of ALARM states: an AND (or OK states) would hide a single failing signal."""
    rule = dev.one(COMPOSITE).inputs["alarmRule"]
    assert rule.count("ALARM(") == len(KINDS) and rule.count(" OR ") == len(KINDS) - 1 and " AND " not in rule
