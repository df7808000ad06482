"""The canary judge's keys: their defaults, bounds and errors, and the strategies that read them."""

from __future__ import annotations

import re

import pytest

from components.settings import KEYS, STRATEGY_KEYS, CanaryJudgeSettings, DeploymentStrategyKind, SettingsError, parse_settings
from functions.canary_judge import NotEnoughTraffic, Rules
from offline.stackfile import PROJECT

DEFAULTS = CanaryJudgeSettings(
    metrics=("errors", "latency"), tolerance_percent=50, error_floor_percent=0.5, latency_floor_ms=100, min_requests=50, percentile="p99", not_enough_traffic="continue"
)


def judge(**raw) -> CanaryJudgeSettings | None:
    return parse_settings(raw, PROJECT, "dev").ecs.strategy.judge


def fails(message: str, **raw) -> None:
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse_settings(raw, PROJECT, "dev")


@pytest.mark.parametrize("kind", ["canary", "linear"])
def test_canary_and_linear_are_judged_with_the_defaults(kind):
    assert judge(deploymentStrategy=kind) == DEFAULTS


def test_production_on_ecs_is_judged():
    assert parse_settings({"production": True, "allowPlainHttp": True}, PROJECT, "prod").ecs.strategy.judge == DEFAULTS


@pytest.mark.parametrize("kind", ["rolling", "blue-green"])
def test_strategies_without_two_revisions_on_the_same_minutes_have_no_judge_and_refuse_its_keys(kind):
    assert judge(deploymentStrategy=kind) is None
    fails(
        f"canaryMinRequests: is set but deploymentStrategy is {kind!r}, and only canary and linear use it; Fix: remove it "
        "(`pulumi config rm canaryMinRequests`) or set deploymentStrategy to canary or linear",
        deploymentStrategy=kind,
        canaryMinRequests=10,
    )


JUDGE_KEYS = [k for k, users in STRATEGY_KEYS.items() if users == {DeploymentStrategyKind.CANARY, DeploymentStrategyKind.LINEAR}]


def test_every_judge_key_is_ecs_only():
    assert JUDGE_KEYS == [
        "canaryMetrics",
        "canaryTolerancePercent",
        "canaryErrorFloorPercent",
        "canaryLatencyFloorMs",
        "canaryMinRequests",
        "canaryLatencyPercentile",
        "canaryNotEnoughTraffic",
    ]
    assert all(KEYS[k].targets == KEYS["canaryPercent"].targets for k in JUDGE_KEYS)
    fails(
        "canaryTolerancePercent: is set but deployTarget is 'eks', and only ecs uses it; Fix: remove it (`pulumi config rm canaryTolerancePercent`) or set deployTarget to ecs",
        deployTarget="eks",
        canaryTolerancePercent=20,
    )


def test_values_reach_the_rules_the_hook_reads():
    set_ = judge(
        deploymentStrategy="linear",
        canaryMetrics=["latency"],
        canaryTolerancePercent=0,
        canaryErrorFloorPercent="2.5",
        canaryLatencyFloorMs=0,
        canaryMinRequests=1,
        canaryLatencyPercentile="p95",
        canaryNotEnoughTraffic="rollback",
    )
    rules = Rules.from_json(set_.rules_json())
    assert (rules.metrics, rules.tolerance_percent, rules.error_floor_percent, rules.latency_floor_ms, rules.min_requests, rules.percentile) == (
        ("latency",),
        0,
        2.5,
        0,
        1,
        "p95",
    )
    assert rules.not_enough_traffic is NotEnoughTraffic.ROLLBACK
    # The metrics in a fixed order, whatever order they were listed in.
    assert judge(deploymentStrategy="canary", canaryMetrics=["latency", "errors"]).metrics == ("errors", "latency")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("canaryTolerancePercent", 1001, "canaryTolerancePercent: 1001 is not valid; allowed: 0 to 1000. Fix: set canaryTolerancePercent between 0 and 1000"),
        ("canaryTolerancePercent", -1, "canaryTolerancePercent: -1 is not valid; allowed: 0 to 1000. Fix: set canaryTolerancePercent between 0 and 1000"),
        ("canaryMinRequests", 0, "canaryMinRequests: 0 is not valid; allowed: 1 to 1000000. Fix: set canaryMinRequests between 1 and 1000000"),
        ("canaryLatencyFloorMs", 60001, "canaryLatencyFloorMs: 60001 is not valid; allowed: 0 to 60000. Fix: set canaryLatencyFloorMs between 0 and 60000"),
        (
            "canaryErrorFloorPercent",
            "0.25",
            "canaryErrorFloorPercent: 0.25 is not valid; allowed: 0 to 100 in steps of 0.1. Fix: set canaryErrorFloorPercent to a multiple of 0.1, e.g. 0.3",
        ),
        ("canaryLatencyPercentile", "p50", "canaryLatencyPercentile: 'p50' is not valid; allowed: 'p95' or 'p99'. Fix: set canaryLatencyPercentile to p95 or p99"),
        (
            "canaryNotEnoughTraffic",
            "fail",
            "canaryNotEnoughTraffic: 'fail' is not valid; allowed: 'continue' or 'rollback'. Fix: set canaryNotEnoughTraffic to continue or rollback",
        ),
        ("canaryMetrics", ["errors", "cpu"], "canaryMetrics: 'cpu' is not valid; allowed: 'errors' and 'latency'. Fix: list errors, latency or both"),
        ("canaryMetrics", [], "canaryMetrics: [] is not valid; the canary judge compares at least one metric. Fix: list errors, latency or both (the default)"),
        ("canaryMetrics", ["errors", "errors"], "canaryMetrics: ['errors', 'errors'] is not valid; each metric once. Fix: remove the repeated 'errors'"),
    ],
)
def test_bad_values_name_the_key_the_value_what_is_allowed_and_the_fix(key, value, message):
    fails(message, deploymentStrategy="canary", **{key: value})
