"""Dashboard: service health on the target's metrics, pipeline executions and delivery metrics counted
from EventBridge rules (no code in the account)."""

from __future__ import annotations

import json

import pytest

from components.safety.dashboard import delivery_event_patterns

PROD_ON_ECS = {"deployTarget": "ecs", "eksKubernetesVersion": None, "eksPodCpuMillicores": None, "eksPodMemoryMiB": None}
STACKS = {
    "dev-ecs": ("dev", {"deployTarget": "ecs"}),
    "dev-eks": ("dev", {"deployTarget": "eks"}),
    "prod-ecs": ("prod", PROD_ON_ECS),
    "prod-eks": ("prod", {"deployTarget": "eks"}),
}
RULES = ("deploy-succeeded", "deploy-failed", "execution-started", "execution-succeeded", "execution-failed")


@pytest.fixture(params=sorted(STACKS))
def stack(request, evaluate):
    name, overrides = STACKS[request.param]
    return evaluate(name, **overrides)


def body(r):
    return json.loads(r.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])


def widget(r, title_start):
    [found] = [w for w in body(r)["widgets"] if w["properties"].get("title", "").startswith(title_start)]
    return found["properties"]


def rule_name(r, suffix):
    return r.named(f"dashboard-{suffix}").outputs["name"]


def deploy_stage_names(r):
    """The deploy target's stages: after Build (and Scan) or Check (and Approve), before Release."""
    names = [s["name"] for s in r.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]
    after = "Approve" if "Approve" in names else "Scan" if "Scan" in names else "Build"
    return names[names.index(after) + 1 : names.index("Release")]


def test_one_dashboard_per_stack_with_a_url(stack):
    dashboard = stack.one("aws:cloudwatch/dashboard:Dashboard").inputs
    assert dashboard["dashboardName"] == f"container-cicd-{stack.stack}-app-delivery"
    assert stack.outputs["dashboardUrl"] == (
        f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/container-cicd-{stack.stack}-app-delivery"
    )


def test_counting_rules_match_this_pipelines_deploy_stages(stack):
    pipeline = stack.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]
    expected = delivery_event_patterns(pipeline, deploy_stage_names(stack))
    for suffix in RULES:
        assert json.loads(stack.named(f"dashboard-{suffix}").inputs["eventPattern"]) == expected[suffix]
    assert expected["deploy-failed"] == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Stage Execution State Change"],
        "detail": {"pipeline": [pipeline], "stage": deploy_stage_names(stack), "state": ["FAILED"]},
    }
    assert expected["execution-succeeded"]["detail-type"] == ["CodePipeline Pipeline Execution State Change"]


def test_counting_rules_have_no_targets(stack):
    """No code and no extra deliveries: MatchedEvents is published per rule without a target."""
    rule_names = {stack.named(f"dashboard-{s}").outputs["name"] for s in RULES}
    assert all(t.inputs["rule"] not in rule_names for t in stack.of_type("aws:cloudwatch/eventTarget:EventTarget"))


def test_service_health_widgets_use_the_targets_metrics(stack):
    lb = stack.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    # The deploy target's own target group (named for it).
    [tg] = [r.outputs["arnSuffix"] for r in stack.of_type("aws:lb/targetGroup:TargetGroup") if r.name in ("deploy-lb-tg-ecs", "deploy-lb-tg-eks")]
    assert widget(stack, "Requests")["metrics"] == [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, {"label": "requests"}]]
    latency = widget(stack, "Target response time")["metrics"]
    assert [m[-1]["stat"] for m in latency] == ["p50", "p95", "p99"]
    # Production on ECS deploys as a canary between two target groups: the load balancer's response times
    # cover both; with one target group, that group's.
    shifting = len(stack.of_type("aws:lb/targetGroup:TargetGroup")) == 2
    assert shifting == (stack.stack == "prod" and stack.config["container-cicd:deployTarget"] == "ecs")
    assert all(m[2:-1] == (["LoadBalancer", lb] if shifting else ["LoadBalancer", lb, "TargetGroup", tg]) for m in latency)
    errors = widget(stack, "5xx responses")["metrics"]
    assert errors[-1][0]["expression"] == "IF(requests >= 10, 100 * (FILL(targetErrors, 0) + FILL(lbErrors, 0)) / requests, 0)"
    saturation = widget(stack, "CPU and memory")["metrics"]
    assert [m[-1]["label"] for m in saturation] == ["cpu %", "memory %"]


def test_alarm_widget_lists_every_service_alarm(stack):
    arns = [a.outputs["arn"] for a in (*stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"), *stack.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm"))]
    assert sorted(widget(stack, "Service alarms")["alarms"]) == sorted(arns)


def test_deployment_frequency_counts_successful_deploys_per_day(dev):
    props = widget(dev, "Deployment frequency")
    assert props["period"] == 86400
    assert props["metrics"] == [
        ["AWS/Events", "MatchedEvents", "RuleName", rule_name(dev, "deploy-succeeded"), {"id": "deploys", "label": "successful deploys", "stat": "Sum", "visible": True}]
    ]


def test_change_failure_rate_is_failed_over_all_deploys(dev):
    props = widget(dev, "Change failure rate")
    ok, ko, rate = props["metrics"]
    assert ok[3] == rule_name(dev, "deploy-succeeded") and ok[4]["id"] == "ok"
    assert ko[3] == rule_name(dev, "deploy-failed") and ko[4]["id"] == "ko"
    assert rate[0]["expression"] == "IF(FILL(ok, 0) + FILL(ko, 0) > 0, 100 * FILL(ko, 0) / (FILL(ok, 0) + FILL(ko, 0)), 0)"


def test_time_to_restore_panel_uses_the_alarm_thresholds(evaluate):
    r = evaluate("dev", alarm5xxPercent=3, alarmUnhealthyTargets=2)
    props = widget(r, "Time to restore")
    assert props["period"] == 60
    assert props["metrics"][-1][0]["expression"] == ("IF((rq >= 10 AND 100 * (FILL(te, 0) + FILL(le, 0)) / rq > 3) OR FILL(uh, 0) >= 2, 1, 0)")


def test_pipeline_executions_widget(dev):
    props = widget(dev, "Pipeline executions")
    assert [m[3] for m in props["metrics"]] == [rule_name(dev, s) for s in ("execution-started", "execution-succeeded", "execution-failed")]
