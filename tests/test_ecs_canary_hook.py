"""The canary judge hook (functions/ecs_canary_hook.py): which target group is new, what each verdict answers at
each traffic shift, and the requests it makes (botocore-validated), with stand-in ECS and CloudWatch clients."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from functions import ecs_canary_hook as hook
from tests.aws_models import assert_valid

STARTED = dt.datetime(2026, 12, 7, 12, 0, 20, tzinfo=dt.UTC)
NOW = STARTED + dt.timedelta(minutes=12, seconds=30)
DEPLOYMENT = "arn:aws:ecs:us-east-1:111122223333:service-deployment/c/s/EZe5RNVLH6PPzHXINuP28"
NEW_REVISION = "arn:aws:ecs:us-east-1:111122223333:service-revision/c/s/2"
OLD_REVISION = "arn:aws:ecs:us-east-1:111122223333:service-revision/c/s/1"
GROUPS = ["targetgroup/app-blue/0123456789abcdef", "targetgroup/app-green/fedcba9876543210"]
RULES = {
    "metrics": ["errors", "latency"],
    "tolerancePercent": 50,
    "errorFloorPercent": 0.5,
    "latencyFloorMs": 100,
    "minRequests": 50,
    "percentile": "p99",
    "notEnoughTraffic": "continue",
}
ENV = {"LOAD_BALANCER": "app/app-alb/0123456789abcdef", "TARGET_GROUPS": json.dumps(GROUPS), "RULES": json.dumps(RULES)}


def _operation(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


class Client:
    """A boto3-shaped stand-in: each call is validated against botocore's model, recorded and answered."""

    def __init__(self, service: str, answer):
        self.service, self.answer, self.calls = service, answer, []

    def __getattr__(self, name: str):
        def call(**params):
            operation = _operation(name)
            assert_valid(self.service, operation, params)
            self.calls.append((operation, params))
            return self.answer(operation, params)

        return call


def event(weight: float | None = 10.0, stage: str = "PRODUCTION_TRAFFIC_SHIFT") -> dict:
    weights = {} if weight is None else {NEW_REVISION: weight, OLD_REVISION: 100 - weight}
    return {
        "executionId": "e1",
        "lifecycleStage": stage,
        "resourceArn": DEPLOYMENT,
        "executionDetails": {"serviceArn": "arn:aws:ecs:us-east-1:111122223333:service/c/s", "targetServiceRevisionArn": NEW_REVISION, "productionTrafficWeights": weights},
    }


def ecs(status: str = "IN_PROGRESS") -> Client:
    return Client("ecs", lambda op, p: {"serviceDeployments": [{"serviceDeploymentArn": p["serviceDeploymentArns"][0], "status": status, "startedAt": STARTED}]})


def cloudwatch(old: int, *, new_errors: float, old_errors: float = 0.001, new_requests: float = 100, before: float = 1000, p99=(0.2, 0.2)) -> Client:
    """Per-minute points: before the deployment only group `old` serves; from its start both serve."""
    start = STARTED.replace(second=0) - dt.timedelta(minutes=hook.PRE_MINUTES)
    minutes = [start + dt.timedelta(minutes=m) for m in range(hook.PRE_MINUTES + 12)]
    during = minutes[hook.PRE_MINUTES :]
    points: dict[str, tuple[list, list]] = {}
    for group, (requests, error_rate, latency) in {old: (900, old_errors, p99[1]), 1 - old: (new_requests, new_errors, p99[0])}.items():
        alone = before if group == old else 0
        served = [(t, alone) for t in minutes[: hook.PRE_MINUTES] if alone] + [(t, requests) for t in during]
        points[f"r{group}"] = ([t for t, _ in served], [v for _, v in served])
        points[f"e{group}"] = (during, [requests * error_rate] * len(during))
        points[f"l{group}"] = (during, [latency] * len(during))

    def answer(op, params):
        ids = [q["Id"] for q in params["MetricDataQueries"]]
        return {"MetricDataResults": [{"Id": i, "Timestamps": points[i][0], "Values": points[i][1], "StatusCode": "Complete"} for i in ids]}

    return Client("cloudwatch", answer)


def run(e: dict, ecs_client: Client, cw: Client, env: dict | None = None) -> str:
    return hook.run(e, env or ENV, ecs_client, cw, lambda: NOW)["hookStatus"]


@pytest.mark.parametrize("old", [0, 1])
def test_a_worse_canary_fails_whichever_target_group_it_is_in(old):
    """The groups swap roles between deployments: the one that served alone before the deployment is the old one."""
    assert run(event(), ecs(), cloudwatch(old, new_errors=0.009)) == "FAILED"
    assert run(event(), ecs(), cloudwatch(old, new_errors=0.001)) == "SUCCEEDED"


@pytest.mark.parametrize("old", [0, 1])
def test_a_fix_is_not_rolled_back(old):
    """The old revision worse than the new one: the new one passes (a judge comparing either group with itself
    or the groups the wrong way round would not)."""
    assert run(event(), ecs(), cloudwatch(old, new_errors=0.001, old_errors=0.02)) == "SUCCEEDED"


def test_a_shared_outage_does_not_roll_back():
    assert run(event(), ecs(), cloudwatch(0, new_errors=0.3, old_errors=0.3, p99=(2.0, 2.0))) == "SUCCEEDED"


def test_worse_only_at_p99_fails():
    assert run(event(), ecs(), cloudwatch(0, new_errors=0.001, p99=(0.45, 0.2))) == "FAILED"


@pytest.mark.parametrize(
    ("weight", "setting", "answer"),
    [
        (10.0, "rollback", "SUCCEEDED"),  # more shifts follow: the next one judges a longer window
        (100.0, "rollback", "FAILED"),
        (None, "rollback", "FAILED"),  # no weight in the event: treated as the last shift
        (100.0, "continue", "SUCCEEDED"),
    ],
)
def test_not_enough_traffic_follows_the_setting_at_the_last_shift(weight, setting, answer):
    env = {**ENV, "RULES": json.dumps({**RULES, "notEnoughTraffic": setting})}
    assert run(event(weight), ecs(), cloudwatch(0, new_errors=0.5, new_requests=2), env) == answer


def test_an_idle_service_before_the_deployment_is_not_enough_traffic():
    env = {**ENV, "RULES": json.dumps({**RULES, "notEnoughTraffic": "rollback"})}
    assert run(event(100.0), ecs(), cloudwatch(0, new_errors=0.5, before=0), env) == "FAILED"
    assert run(event(100.0), ecs(), cloudwatch(0, new_errors=0.5, before=0)) == "SUCCEEDED"


def test_a_rollback_is_never_held():
    cw = cloudwatch(0, new_errors=0.5)
    assert run(event(), ecs("ROLLBACK_IN_PROGRESS"), cw) == "SUCCEEDED"
    assert cw.calls == []


def test_another_stage_or_a_bad_environment_fails():
    assert run(event(stage="POST_TEST_TRAFFIC_SHIFT"), ecs(), cloudwatch(0, new_errors=0)) == "FAILED"
    assert run(event(), ecs(), cloudwatch(0, new_errors=0), {**ENV, "TARGET_GROUPS": json.dumps(GROUPS[:1])}) == "FAILED"


def test_the_requests_it_makes():
    ecs_client, cw = ecs(), cloudwatch(0, new_errors=0)
    run(event(), ecs_client, cw)
    assert ecs_client.calls == [("DescribeServiceDeployments", {"serviceDeploymentArns": [DEPLOYMENT]})]
    [(operation, params)] = cw.calls
    assert operation == "GetMetricData"
    assert params["StartTime"] == dt.datetime(2026, 12, 7, 11, 45, tzinfo=dt.UTC)
    assert params["EndTime"] == dt.datetime(2026, 12, 7, 12, 12, tzinfo=dt.UTC)
    queries = {
        q["Id"]: (q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"], q["MetricStat"]["Metric"]["Dimensions"][1]["Value"]) for q in params["MetricDataQueries"]
    }
    assert queries == {
        "r0": ("RequestCount", "Sum", GROUPS[0]),
        "e0": ("HTTPCode_Target_5XX_Count", "Sum", GROUPS[0]),
        "l0": ("TargetResponseTime", "p99", GROUPS[0]),
        "r1": ("RequestCount", "Sum", GROUPS[1]),
        "e1": ("HTTPCode_Target_5XX_Count", "Sum", GROUPS[1]),
        "l1": ("TargetResponseTime", "p99", GROUPS[1]),
    }
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", q) for q in queries)


def test_baseline_group_is_the_latest_minute_served_alone():
    assert hook.baseline_group([[5, 5, 0, None], [0, 5, 7, 3]]) == 1
    assert hook.baseline_group([[5, 5, 5], [5, 5, 5]]) is None
    assert hook.baseline_group([[None, None], [0, 0]]) is None


def test_one_invocation_fits_its_worst_case():
    """Two attempts of 7 s and one backoff of at most 6 s a call, two calls."""
    assert hook.CALL_WORST_SECONDS == 20
    assert hook.INVOCATION_WORST_SECONDS == 40


def test_a_deployment_without_startedat_is_judged_from_its_creation():
    answer = lambda op, p: {"serviceDeployments": [{"serviceDeploymentArn": p["serviceDeploymentArns"][0], "status": "IN_PROGRESS", "createdAt": STARTED}]}  # noqa: E731
    assert run(event(), Client("ecs", answer), cloudwatch(0, new_errors=0.009)) == "FAILED"
