"""The deployment window with the alarm entry gate, run through a model of CodePipeline's stage conditions.

The model holds only what AWS documents (quoted below); it executes the stages of the evaluated pipeline,
minute by minute over a week, for every arrival time, build or approval duration and alarm timeline here.
What it shows: with both gates, the Deploy stage is entered only inside the window and only after the alarm
was read at that very minute and found quiet; the one-condition shape AWS warns about is entered while the
alarm fires (the model finds that case, so it can tell the two apart).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

WINDOW = "* * 9-16 ? * MON-THU"  # Monday to Thursday, 09:00-16:59

# https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html
RULES_TOGETHER = (
    "Each condition has a rule set which is an ordered set of rules that are evaluated together. Therefore, if one rule fails in the condition, then the condition fails."
)
# https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html ("Important")
WINDOW_WITH_ALARM = (
    "In cases where the DeploymentWindow rule and the CloudWatchAlarm rule are contained together in an entry "
    "condition, it is possible that the CloudWatchAlarm alarm might succeed before the deployment window for the "
    "DeploymentWindow rule opens. After the deployment window opens, CodePipeline does not check the "
    "CloudWatchAlarm alarm again. This can result in an alarm state when the pipeline execution enters the stage."
)

WEEK = 7 * 24 * 60
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # minute 0 is Monday 00:00


def window_predicate(cron: str) -> Callable[[int], bool]:
    """The window of a cron of the shape '* * H1-H2 ? * D1-D2' (the only shape this model needs)."""
    seconds, minutes, hours, day_of_month, month, day_of_week = cron.split()
    assert (seconds, minutes, day_of_month, month) == ("*", "*", "?", "*"), cron
    first_hour, last_hour = (int(h) for h in hours.split("-"))
    first_day, last_day = (DAYS.index(d) for d in day_of_week.split("-"))
    return lambda minute: first_day <= (minute % WEEK) // 1440 <= last_day and first_hour <= (minute % 1440) // 60 <= last_hour


@dataclass(frozen=True)
class Scenario:
    arrival: int
    """Minute the execution leaves the Source stage."""
    durations: dict[str, int]
    """Minutes each stage's actions take (a build; an approval: until the person answers)."""
    alarm: tuple[tuple[int, int], ...]
    """Minutes [start, end) in which the service alarm is in ALARM."""
    success_window: str
    """What a DeploymentWindow rule in an on-success condition does outside the window: 'wait' for it, or
    'fail' the condition. AWS documents neither, so both are run."""

    def alarming(self, minute: int) -> bool:
        return any(start <= minute < end for start, end in self.alarm)


@dataclass(frozen=True)
class Entered:
    minute: int
    alarm_read: int | None
    """When the last CloudWatchAlarm entry rule before the stage was evaluated."""
    window_read: int | None
    """When the last DeploymentWindow rule before the stage found the window open."""


@functools.cache
def _opening(cron: str) -> tuple[int, ...]:
    """For each minute of two weeks: the first minute from it on inside the window."""
    in_window = window_predicate(cron)
    table = [0] * (2 * WEEK)
    following = 2 * WEEK
    for minute in reversed(range(2 * WEEK)):
        following = minute if in_window(minute) else following
        table[minute] = following
    return tuple(table)


def _next_open(cron: str, minute: int) -> int:
    opening = _opening(cron)[minute]
    assert opening < 2 * WEEK, "the model runs two weeks"
    return opening


def run(stages: Sequence[dict], deploy: str, scenario: Scenario) -> Entered | None:
    """Execute `stages` (Pulumi inputs of the pipeline's stages, after Source) until `deploy` is entered.
    None: the execution stopped before it (a condition with result FAIL failed)."""
    now, alarm_read, window_read = scenario.arrival, None, None
    for stage in stages:
        entry = (stage.get("beforeEntry") or {}).get("condition")
        if entry:
            rules = entry["rules"]
            providers = {r["ruleTypeId"]["provider"] for r in rules}
            assert providers <= {"DeploymentWindow", "CloudWatchAlarm"}, providers
            # RULES_TOGETHER: every rule at the same moment; one failing fails the condition (FAIL stops).
            if "CloudWatchAlarm" in providers:
                alarm_read = now
                if scenario.alarming(now):
                    return None
            for rule in rules:
                if rule["ruleTypeId"]["provider"] == "DeploymentWindow":
                    # WINDOW_WITH_ALARM: the execution waits for the window and then enters, without
                    # reading the alarm again.
                    now = _next_open(rule["configuration"]["Cron"], now)
                    window_read = now
        if stage["name"] == deploy:
            return Entered(now, alarm_read, window_read)
        now += scenario.durations.get(stage["name"], 0)
        success = (stage.get("onSuccess") or {}).get("condition")
        for rule in (success or {}).get("rules", []):
            assert rule["ruleTypeId"]["provider"] == "DeploymentWindow", "only the deploy stage's bake reads the alarm on success"
            cron = rule["configuration"]["Cron"]
            if not window_predicate(cron)(now):
                if scenario.success_window == "fail":
                    return None
                now = _next_open(cron, now)
            window_read = now
    raise AssertionError(f"no stage {deploy!r}")


def scenarios(stage_names: Sequence[str]) -> list[Scenario]:
    """Arrivals every 20 minutes of a week; a short and a long build (or check); an approval at once, after
    30 minutes and after 10 hours; no alarm, or an alarm across 09:00 Monday, across the end of Monday's
    window, or firing at 08:59 on Tuesday for an hour and a half."""
    busy = "Build" if "Build" in stage_names else "Check"
    alarms = ((), ((8 * 60 + 30, 10 * 60),), ((16 * 60 + 30, 18 * 60),), (((1440 + 8 * 60 + 59), 1440 + 10 * 60 + 30),))
    approvals = (0, 30, 600) if "Approve" in stage_names else (0,)
    return [
        Scenario(arrival, {busy: build, "Approve": approval}, alarm, mode)
        for arrival, build, approval, alarm, mode in itertools.product(range(0, WEEK, 20), (5, 55), approvals, alarms, ("wait", "fail"))
    ]


def _pipeline(evaluate, stack: str, **gates) -> tuple[list[dict], str]:
    stages = evaluate(stack, **gates).one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    names = [s["name"] for s in stages]
    assert names[0] == "Source"
    return stages[1:], "Deploy"


@pytest.fixture(params=["dev", "prod"])
def both(request, evaluate):
    return _pipeline(evaluate, request.param, deploymentWindowCron=WINDOW, deploymentWindowTimeZone="Europe/Berlin", blockDeployWhileAlarming=True)


def test_the_documented_limits_the_model_relies_on():
    """One condition per block and up to five rules in a condition (botocore's CodePipeline model): the two
    rules could share one condition, but then AWS's note applies, and a second entry condition is refused."""
    from tests.aws_models import operation_model

    stage = operation_model("codepipeline", "CreatePipeline").input_shape.members["pipeline"].members["stages"].member
    for block in ("beforeEntry", "onSuccess"):
        conditions = stage.members[block].members["conditions"]
        assert (conditions.metadata["min"], conditions.metadata["max"]) == (1, 1), block
        assert conditions.member.members["rules"].metadata == {"min": 1, "max": 5}, block


def test_with_both_gates_deploy_starts_in_the_window_after_a_fresh_alarm_check(both):
    stages, deploy = both
    runs = scenarios([s["name"] for s in stages])
    entered = 0
    in_window = window_predicate(WINDOW)
    for scenario in runs:
        result = run(stages, deploy, scenario)
        if result is None:
            continue
        entered += 1
        # The window was open at the minute the execution entered Deploy: no build, approval or wait between.
        assert result.window_read == result.minute and in_window(result.minute), scenario
        # The alarm was read at that same minute (after the window opened), and it was quiet.
        assert result.alarm_read == result.minute and not scenario.alarming(result.minute), scenario
    # Most executions deploy: the gates stop only what they must.
    assert entered > len(runs) // 2


def test_an_alarm_firing_when_the_window_opens_stops_the_deploy(both):
    """Arrive Monday 07:00 with a quiet alarm; it fires at 08:30 and ends at 10:00: no deploy at 09:00."""
    stages, deploy = both
    names = [s["name"] for s in stages]
    scenario = Scenario(7 * 60, {"Build": 5, "Check": 5, "Approve": 0}, ((8 * 60 + 30, 10 * 60),), "wait")
    assert not scenario.alarming(scenario.arrival)
    assert run(stages, deploy, scenario) is None, names


def test_an_approval_after_the_window_closed_does_not_deploy_at_night(evaluate):
    """prod: the approver answers at 18:00 on Monday; the deploy waits for Tuesday 09:00 (or the execution
    fails), and in both cases the alarm is read then, not at 18:00."""
    stages, deploy = _pipeline(evaluate, "prod", deploymentWindowCron=WINDOW, blockDeployWhileAlarming=True)
    arrival = 9 * 60
    late = {"Check": 5, "Approve": 18 * 60 - arrival - 5}
    tuesday = 1440 + 9 * 60
    waited = run(stages, deploy, Scenario(arrival, late, (), "wait"))
    assert waited == Entered(tuesday, tuesday, tuesday)
    assert run(stages, deploy, Scenario(arrival, late, (), "fail")) is None
    # Firing at Tuesday 09:00 (quiet at 18:00 on Monday): stopped.
    assert run(stages, deploy, Scenario(arrival, late, ((tuesday - 1, tuesday + 90),), "wait")) is None


def test_the_model_reproduces_the_hazard_of_one_shared_condition(both):
    """The refused shape (window and alarm in Deploy's one entry condition) enters Deploy while the alarm
    fires in the model, as AWS's note says; so the test above would see a shape that is unsafe."""
    stages, deploy = both
    window = next(r for s in stages for r in (s.get("beforeEntry") or {}).get("condition", {}).get("rules", []) if r["ruleTypeId"]["provider"] == "DeploymentWindow")
    shared = []
    for stage in stages:
        stage = {k: v for k, v in stage.items() if not (stage["name"] != deploy and k in ("beforeEntry", "onSuccess"))}
        if stage["name"] == deploy:
            alarm = stage["beforeEntry"]["condition"]["rules"]
            stage = {**stage, "beforeEntry": {"condition": {"result": "FAIL", "rules": [window, *alarm]}}}
        shared.append(stage)
    scenario = Scenario(7 * 60, {"Build": 5, "Check": 5, "Approve": 0}, ((8 * 60 + 30, 10 * 60),), "wait")
    result = run(shared, deploy, scenario)
    assert result == Entered(9 * 60, 7 * 60 + 5, 9 * 60)
    assert scenario.alarming(result.minute)
