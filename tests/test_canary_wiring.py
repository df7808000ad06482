"""The canary judge hook on every traffic-shifting stack: the function, its role, its environment, and the lifecycle
hook ECS invokes it with; none where no two revisions serve the same production minutes (blue-green, rolling, EKS)."""

from __future__ import annotations

import json

import pytest

from components.deploy.ecs.functions import FUNCTION_FILES
from components.deploy.ecs.judge import TIMEOUT_SECONDS
from components.lambdas import INIT_LIMIT_SECONDS
from components.settings import CANARY_JUDGE_INVOCATION_MAX_SECONDS
from functions import ecs_canary_hook
from functions.canary_judge import Metric, NotEnoughTraffic, Rules

FUNCTION = "aws:lambda/function:Function"
HANDLER = "functions.ecs_canary_hook.handler"


def judges(result):
    return [f for f in result.of_type(FUNCTION) if f.inputs["handler"] == HANDLER]


def hooks(result):
    return result.one("aws:ecs/service:Service").inputs["deploymentConfiguration"].get("lifecycleHooks") or []


def role_statements(result, role_arn: str) -> list[dict]:
    [role] = [r for r in result.of_type("aws:iam/role:Role") if r.outputs["arn"] == role_arn]
    policies = [p for p in result.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.outputs["name"]]
    return [s for p in policies for s in json.loads(p.inputs["policy"])["Statement"]]


@pytest.mark.parametrize("kind", ["canary", "linear"])
def test_canary_and_linear_judge_at_every_production_traffic_shift(evaluate, kind):
    result = evaluate("dev", deploymentStrategy=kind)
    [judge] = judges(result)
    assert judge.inputs["name"] == "container-cicd-dev-app-canary-judge"
    assert judge.inputs["timeout"] == TIMEOUT_SECONDS == 45
    assert "vpcConfig" not in judge.inputs or not judge.inputs["vpcConfig"]
    smoke, hook = hooks(result)
    assert smoke["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"]
    assert hook == {"hookTargetArn": judge.outputs["arn"], "roleArn": smoke["roleArn"], "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"], "targetType": "AWS_LAMBDA"}
    # ECS invokes both hooks with the hook role: it may invoke exactly these two functions.
    invoke = [s for s in role_statements(result, hook["roleArn"]) if s["Action"] == "lambda:InvokeFunction"]
    assert sorted(s["Resource"] for s in invoke) == sorted([judge.outputs["arn"], smoke["hookTargetArn"]])


def test_the_judges_environment_names_the_load_balancer_both_target_groups_and_the_rules(evaluate):
    result = evaluate("dev", deploymentStrategy="canary")
    [judge] = judges(result)
    env = judge.inputs["environment"]["variables"]
    groups = {g.inputs["name"]: g.outputs["arnSuffix"] for g in result.of_type("aws:lb/targetGroup:TargetGroup")}
    assert json.loads(env["TARGET_GROUPS"]) == [groups["container-cicd-dev-app-tg"], groups["container-cicd-dev-app-tg-alt"]]
    assert env["LOAD_BALANCER"] == result.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    load_balancer, target_groups, rules = ecs_canary_hook._environment(env)
    assert (load_balancer, target_groups) == (env["LOAD_BALANCER"], json.loads(env["TARGET_GROUPS"]))
    assert rules == Rules((Metric.ERRORS, Metric.LATENCY), 50, 0.5, 100, 50, "p99", NotEnoughTraffic.CONTINUE)


def test_the_judges_role_reads_this_deployment_and_the_metrics_only(evaluate):
    result = evaluate("dev", deploymentStrategy="canary")
    [judge] = judges(result)
    statements = {s.get("Sid"): s for s in role_statements(result, judge.inputs["role"])}
    prefix = "arn:aws:ecs:us-east-1:123456789012"
    assert statements["DescribeDeployment"] == {
        "Sid": "DescribeDeployment",
        "Effect": "Allow",
        "Action": "ecs:DescribeServiceDeployments",
        "Resource": [
            f"{prefix}:service-deployment/container-cicd-dev-app-cluster/container-cicd-dev-app-service/*",
            f"{prefix}:service/container-cicd-dev-app-cluster/container-cicd-dev-app-service",
        ],
    }
    assert statements["ReadTargetGroupMetrics"] == {"Sid": "ReadTargetGroupMetrics", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}


def test_production_on_ecs_deploys_a_judged_canary(prod_ecs):
    [judge] = judges(prod_ecs)
    assert [h["lifecycleStages"] for h in hooks(prod_ecs)] == [["POST_TEST_TRAFFIC_SHIFT"], ["PRODUCTION_TRAFFIC_SHIFT"]]
    assert hooks(prod_ecs)[1]["hookTargetArn"] == judge.outputs["arn"]


def test_the_rules_set_reach_the_hook(evaluate):
    result = evaluate("dev", deploymentStrategy="linear", canaryLatencyPercentile="p95", canaryNotEnoughTraffic="rollback", canaryMetrics=["errors"])
    [judge] = judges(result)
    rules = Rules.from_json(json.loads(judge.inputs["environment"]["variables"]["RULES"]))
    assert (rules.metrics, rules.percentile, rules.not_enough_traffic) == ((Metric.ERRORS,), "p95", NotEnoughTraffic.ROLLBACK)


def test_blue_green_rolling_and_eks_have_no_judge(evaluate, dev, prod):
    """Blue-green moves all traffic at once: the new revision never serves production beside the old one (its test
    phase is the smoke test's requests on the test listener). Rolling and EKS have no second target group."""
    blue_green = evaluate("dev", deploymentStrategy="blue-green")
    assert judges(blue_green) == []
    assert [h["lifecycleStages"] for h in hooks(blue_green)] == [["POST_TEST_TRAFFIC_SHIFT"]]
    for result in (dev, prod):
        assert judges(result) == []


def test_the_hook_is_packaged_and_its_timeout_is_what_the_worst_case_counts():
    assert {"functions/canary_judge.py", "functions/ecs_canary_hook.py"} <= set(FUNCTION_FILES)
    assert INIT_LIMIT_SECONDS + TIMEOUT_SECONDS == CANARY_JUDGE_INVOCATION_MAX_SECONDS
    # The function's own worst case, and 5 s to start.
    assert ecs_canary_hook.INVOCATION_WORST_SECONDS + 5 == TIMEOUT_SECONDS
    # The settings' copy of the judge's values matches the function's.
    assert [m.value for m in Metric] == ["errors", "latency"] and [n.value for n in NotEnoughTraffic] == ["continue", "rollback"]


def test_the_plan_states_the_judges_rules_in_words_and_what_it_does_not_judge(evaluate, dev, prod):
    from offline.plan.canary import canary_section

    assert canary_section(evaluate("dev", deploymentStrategy="linear")) == [
        "- Canary judge: lifecycle hook `container-cicd-dev-app-canary-judge` at every production traffic shift (`PRODUCTION_TRAFFIC_SHIFT`, 4 shifts); "
        "it compares the new revision's target group with the old one's over the minutes since the deployment started, and its FAILED rolls the deployment back",
        "  - compared: the minutes in which both revisions served requests, each revision's own target group",
        "  - fails when the new revision's 5xx rate is more than 50 % worse than the old revision's and above 0.5 %",
        "  - fails when the new revision's p99 latency is more than 50 % worse than the old revision's and above 100 ms",
        "  - not enough traffic: fewer than 50 requests on either revision; at the last traffic shift the deployment continues",
        "  - the old revision's target group: the one that served production requests alone in the latest minute before the deployment in which only one did",
        "  - not judged: the final bake (the old revision serves nothing then; the deployment alarms watch it), and a rollback's own shifts",
    ]
    assert canary_section(evaluate("dev", deploymentStrategy="blue-green"))[0].startswith(
        "- Not judged: `blue-green` moves all production traffic at once, so the new revision never serves production beside the old one;"
    )
    assert canary_section(dev) == [
        "- Not judged: `rolling` replaces tasks in place in one target group: there is no old revision's target group to compare with. "
        "Canary and linear deployments are judged (deploymentStrategy)."
    ]
    assert canary_section(prod)[0].startswith("- Not judged: EKS rolls the Deployment's pods in place; no second target group holds the old revision")


def test_the_safety_guide_states_the_worst_cases_with_the_judge():
    """docs/safety.md's worst cases are the settings' (the judge's minutes included)."""
    from pathlib import Path

    from components.settings import parse_settings

    def worst(**raw):
        return parse_settings(raw, "container-cicd", "dev").ecs.strategy.worst_case

    text = " ".join((Path(__file__).resolve().parent.parent / "docs" / "safety.md").read_text().split())
    canary = parse_settings({"production": True, "allowPlainHttp": True}, "container-cicd", "prod").ecs.strategy.worst_case
    parts = " + ".join(str(m) for _, m in canary.steps)
    linear, blue_green = worst(deploymentStrategy="linear").minutes, worst(deploymentStrategy="blue-green").minutes
    assert f"the production default takes at most {canary.minutes} ({parts}), linear's defaults (25 % every 3 minutes) {linear}, blue-green's {blue_green}." in text
    assert "### Canary analysis" in text and "Why a hook and not metric-math alarms." in text
