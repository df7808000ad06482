"""ECS deployment lifecycle hook: judge the new revision against the old one on the same minutes of production
traffic (functions/canary_judge.py), at every production traffic shift of a canary or linear deployment.

ECS invokes a hook registered for PRODUCTION_TRAFFIC_SHIFT "at every production traffic shift step"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-linear.html), also while a deployment
rolls back (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html). The event
names the service deployment (`resourceArn`), the revision being deployed (`executionDetails.targetServiceRevisionArn`)
and, at this stage, `productionTrafficWeights`: service revision ARN -> percent. The answer {"hookStatus":
"SUCCEEDED"} continues; "FAILED", an exception or a missing hookStatus rolls the deployment back.

One invocation, no waiting (the bakes ECS already waits between two shifts are the observation windows):

1. The deployment (DescribeServiceDeployments): while it rolls back, SUCCEEDED at once (a judge never holds a
   rollback). Its `startedAt` opens the judged window.
2. The metrics (one GetMetricData call): per minute, for each of the two target groups,
   RequestCount and HTTPCode_Target_5XX_Count (Sum) and TargetResponseTime at the rules' percentile, from
   PRE_MINUTES before the deployment started until the last whole minute.
3. Which target group holds the old revision: ECS alternates the two groups' roles from one deployment to the
   next, so no fixed name says it. Between deployments only one group has targets (ECS stops the old revision
   after the final bake), so the old revision's group is the one that served production requests alone in the
   latest such minute before the deployment started (`baseline_group`). No such minute (an idle service): the
   judge cannot tell, which counts as not enough traffic.
4. The verdict on the minutes since the deployment started. FAIL -> FAILED. PASS -> SUCCEEDED. NOT_ENOUGH_TRAFFIC
   -> SUCCEEDED while more traffic shifts follow (the next shift judges a longer window, its bake included); at the
   last shift (the new revision's weight reaches 100, or the event carries no weight) the rules decide: continue
   -> SUCCEEDED, rollback -> FAILED.

Environment (components/deploy/ecs/judge.py sets it):
    LOAD_BALANCER   the load balancer's ARN suffix (app/<name>/<id>), the metrics' LoadBalancer dimension.
    TARGET_GROUPS   JSON list of the two target groups' ARN suffixes (targetgroup/<name>/<id>).
    RULES           JSON of the judge's rules (canary_judge.Rules.to_json).
A bad environment answers FAILED and logs the problem.

Time. Every call answers within CLIENT_CONFIG's timeouts and retries; one invocation makes at most MAX_CALLS calls,
so it ends within INVOCATION_WORST_SECONDS (the function's timeout and the deployment's worst case count it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3
from botocore.config import Config

from functions.canary_judge import Judgement, NotEnoughTraffic, Rules, Series, Verdict, judge

STAGE = "PRODUCTION_TRAFFIC_SHIFT"
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
# A rollback's own traffic shifts invoke the hook too; the deployment's status says so (botocore ecs:
# ServiceDeploymentStatus).
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
# Minutes before the deployment's start in which the old revision's target group is looked for.
PRE_MINUTES = 15
PERIOD_SECONDS = 60
NAMESPACE = "AWS/ApplicationELB"
# Two attempts of at most 2 s to connect and 5 s to read, and one backoff of at most 1 s plus the 5 s AWS may ask
# for (botocore standard retries). One GetMetricData page: a deployment fits the deploy action's 60 minutes, so the
# window holds at most 75 points a metric, 450 in all, far below the 100,800 one call returns
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html); a NextToken all the
# same is an error (the deployment rolls back) rather than a verdict on part of the data.
CONNECT_SECONDS, READ_SECONDS, ATTEMPTS = 2, 5, 2
CLIENT_CONFIG = Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS, retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
CALL_WORST_SECONDS = ATTEMPTS * (CONNECT_SECONDS + READ_SECONDS) + sum(min(2 ** (n - 1), 20) + 5 for n in range(1, ATTEMPTS))
MAX_CALLS = 2
INVOCATION_WORST_SECONDS = MAX_CALLS * CALL_WORST_SECONDS

logger = logging.getLogger("ecs_canary_hook")
logger.setLevel(logging.INFO)

Now = Callable[[], dt.datetime]


def _metric(id_: str, load_balancer: str, group: str, name: str, stat: str) -> dict:
    dimensions = [{"Name": "LoadBalancer", "Value": load_balancer}, {"Name": "TargetGroup", "Value": group}]
    return {"Id": id_, "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dimensions}, "Period": PERIOD_SECONDS, "Stat": stat}}


def metric_queries(load_balancer: str, groups: Sequence[str], percentile: str) -> list[dict]:
    """Per group i: r<i> requests, e<i> 5xx, l<i> latency (ids must start with a lower-case letter)."""
    queries = []
    for i, group in enumerate(groups):
        queries += [
            _metric(f"r{i}", load_balancer, group, "RequestCount", "Sum"),
            _metric(f"e{i}", load_balancer, group, "HTTPCode_Target_5XX_Count", "Sum"),
            _metric(f"l{i}", load_balancer, group, "TargetResponseTime", percentile),
        ]
    return queries


def minute(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(second=0, microsecond=0)


def aligned(results: Sequence[Mapping[str, Any]], start: dt.datetime, count: int) -> dict[str, list[float | None]]:
    """Each query's values on the minute grid start, start + 1 min, ... (None where CloudWatch has no point)."""
    out: dict[str, list[float | None]] = {}
    for result in results:
        values = out.setdefault(result["Id"], [None] * count)
        for when, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=True):
            i = int((minute(when) - start).total_seconds() // PERIOD_SECONDS)
            if 0 <= i < count:
                values[i] = value
    return out


def baseline_group(before: Sequence[Sequence[float | None]]) -> int | None:
    """Which group served production alone in the latest minute before the deployment in which exactly one did:
    `before[g][m]` is group g's requests in minute m (oldest first). None when no minute tells."""
    for m in range(len(before[0]) - 1, -1, -1):
        serving = [g for g in range(len(before)) if (before[g][m] or 0) > 0]
        if len(serving) == 1:
            return serving[0]
    return None


def decide(judgement: Judgement, last_shift: bool) -> str:
    """The hook's answer: a failure rolls back at every shift; not enough traffic only at the last one, and only
    when the rules say rollback."""
    if judgement.verdict is Verdict.FAIL:
        return FAILED
    if judgement.verdict is Verdict.NOT_ENOUGH_TRAFFIC and last_shift and judgement.rolls_back:
        return FAILED
    return SUCCEEDED


def _environment(env: Mapping[str, str]) -> tuple[str, list[str], Rules]:
    load_balancer = env.get("LOAD_BALANCER", "")
    groups = json.loads(env.get("TARGET_GROUPS") or "[]")
    if not load_balancer.startswith("app/") or len(groups) != 2 or not all(str(g).startswith("targetgroup/") for g in groups):
        raise ValueError(f"ecs_canary_hook environment: LOAD_BALANCER {load_balancer!r} and TARGET_GROUPS {groups!r} must name the load balancer and its two target groups")
    return load_balancer, [str(g) for g in groups], Rules.from_json(json.loads(env.get("RULES") or "{}"))


def run(event: Mapping[str, Any], env: Mapping[str, str], ecs: Any, cloudwatch: Any, now: Now) -> dict:
    """The hook with its clients and clock given (tests pass stand-ins; `handler` passes boto3's)."""
    stage = event.get("lifecycleStage")
    if stage != STAGE:
        logger.error("invoked at %s; this hook judges %s only: FAILED", stage, STAGE)
        return {"hookStatus": FAILED}
    try:
        load_balancer, groups, rules = _environment(env)
    except ValueError as error:
        logger.error("%s: FAILED", error)
        return {"hookStatus": FAILED}
    [deployment] = ecs.describe_service_deployments(serviceDeploymentArns=[event["resourceArn"]])["serviceDeployments"]
    if deployment.get("status") in ROLLING_BACK:
        logger.info("deployment %s is %s: nothing to judge", event["resourceArn"], deployment.get("status"))
        return {"hookStatus": SUCCEEDED}
    details = event.get("executionDetails") or {}
    weight = (details.get("productionTrafficWeights") or {}).get(details.get("targetServiceRevisionArn"))
    last_shift = weight is None or float(weight) >= 100
    # startedAt is set once the deployment runs (botocore ecs: ServiceDeployment); createdAt is the fallback.
    started = minute(deployment.get("startedAt") or deployment["createdAt"])
    start, end = started - dt.timedelta(minutes=PRE_MINUTES), minute(now())
    count = max(0, int((end - start).total_seconds() // PERIOD_SECONDS))
    page = cloudwatch.get_metric_data(MetricDataQueries=metric_queries(load_balancer, groups, rules.percentile), StartTime=start, EndTime=end, ScanBy="TimestampAscending")
    if page.get("NextToken"):
        raise RuntimeError(f"GetMetricData paginated {count} minutes of 6 metrics; the judge does not decide on part of the data")
    values = aligned(page.get("MetricDataResults") or [], start, count)
    blank: list[float | None] = [None] * count
    series = [Series(values.get(f"r{g}", blank)[PRE_MINUTES:], values.get(f"e{g}", blank)[PRE_MINUTES:], values.get(f"l{g}", blank)[PRE_MINUTES:]) for g in (0, 1)]
    old = baseline_group([values.get(f"r{g}", blank)[:PRE_MINUTES] for g in (0, 1)])
    if old is None:
        judgement = Judgement(
            Verdict.NOT_ENOUGH_TRAFFIC,
            f"not enough traffic: no minute in the {PRE_MINUTES} before the deployment in which one target group alone served requests, so the old revision's group is unknown",
            rules.not_enough_traffic is NotEnoughTraffic.ROLLBACK,
        )
    else:
        new = 1 - old
        judgement = judge(series[new], series[old], rules)
    answer = decide(judgement, last_shift)
    logger.info(
        json.dumps(
            {"deployment": event["resourceArn"], "weight": weight, "lastShift": last_shift, "verdict": judgement.verdict.value, "reason": judgement.reason, "hookStatus": answer}
        )
    )
    return {"hookStatus": answer}


def handler(event: dict, context: object) -> dict:
    """Lambda entry point (handler `functions.ecs_canary_hook.handler`)."""
    return run(event, os.environ, boto3.client("ecs", config=CLIENT_CONFIG), boto3.client("cloudwatch", config=CLIENT_CONFIG), lambda: dt.datetime.now(dt.UTC))
