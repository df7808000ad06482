"""ECS deployment strategy settings: the keys' edges, keys of another strategy, the EKS refusal, the
defaults per environment, the worst-case duration against the deploy timeout, and the offline plan's rows.

Every expected message and number is written out here, not derived from the code under test.
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

import pytest

from components.deploy.ecs.report import REPORT as ECS_REPORT
from components.settings import (
    KEYS,
    PROJECT,
    DeploymentStrategyKind,
    DeploymentStrategySettings,
    SettingsError,
    linear_shifts,
    parse_settings,
    worst_case,
)
from offline import plan
from offline.plan.sections import StackView, configuration_section

PRODUCTION = {"production": True, "allowPlainHttp": True}
START = ("new tasks start and turn healthy", 5)
HOOK = ("smoke-test hook on the test listener", 5)
DRAIN = ("old tasks drain (30 s)", 1)


def parse(**raw):
    return parse_settings(raw, PROJECT, "dev")


def fails(message: str, **raw) -> None:
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse(**raw)


def strategy(**raw) -> DeploymentStrategySettings:
    settings = parse(**raw)
    assert settings.ecs is not None
    return settings.ecs.strategy


# ------------------------------------------------------------------------------------------
# Defaults per environment
# ------------------------------------------------------------------------------------------


def test_dev_rolls_with_the_15_minute_timeout():
    s = parse()
    assert s.ecs.strategy == DeploymentStrategySettings(
        kind=DeploymentStrategyKind.ROLLING,
        canary_percent=10.0,
        canary_bake_minutes=5,
        linear_step_percent=25.0,
        linear_step_bake_minutes=3,
        bake_minutes=5,
        smoke_test_paths=(),
        test_listener_port=9000,
        test_listener_cidrs=(),
    )
    assert s.workload.deployment_timeout_minutes == 15
    assert s.ecs.strategy.kind.ecs_strategy == "ROLLING"


def test_production_on_ecs_deploys_a_canary_that_fits_its_30_minute_default_timeout():
    s = parse(**PRODUCTION)
    assert s.ecs.strategy.kind is DeploymentStrategyKind.CANARY
    assert (s.ecs.strategy.canary_percent, s.ecs.strategy.canary_bake_minutes, s.ecs.strategy.bake_minutes) == (10.0, 5, 5)
    assert s.workload.deployment_timeout_minutes == 30
    assert s.ecs.strategy.worst_case.minutes == 23


def test_an_explicit_strategy_or_timeout_wins_over_the_defaults():
    assert parse(**PRODUCTION, deploymentStrategy="rolling").workload.deployment_timeout_minutes == 15
    assert parse(**PRODUCTION, deploymentTimeoutMinutes=25).workload.deployment_timeout_minutes == 25
    assert strategy(deploymentStrategy="linear").kind is DeploymentStrategyKind.LINEAR
    assert parse(deploymentStrategy="blue-green").workload.deployment_timeout_minutes == 30
    # The CLI passes Pulumi.yaml's default (15) as if it were set, so 15 reads as the default, here 30.
    assert parse(deploymentStrategy="blue-green", deploymentTimeoutMinutes=15).workload.deployment_timeout_minutes == 30


def test_the_ecs_strategy_values_are_the_apis():
    """botocore ecs 2014-11-13, shape DeploymentStrategy: ROLLING | BLUE_GREEN | LINEAR | CANARY."""
    assert {k.value: k.ecs_strategy for k in DeploymentStrategyKind if k is not DeploymentStrategyKind.AUTO} == {
        "rolling": "ROLLING",
        "blue-green": "BLUE_GREEN",
        "canary": "CANARY",
        "linear": "LINEAR",
    }
    assert [k for k in DeploymentStrategyKind if k.shifts_traffic] == [DeploymentStrategyKind.BLUE_GREEN, DeploymentStrategyKind.CANARY, DeploymentStrategyKind.LINEAR]


def test_the_strategy_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        strategy().canary_percent = 50.0  # type: ignore[misc]


# ------------------------------------------------------------------------------------------
# EKS
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chosen", ["blue-green", "canary", "linear"])
def test_eks_refuses_every_strategy_but_rolling(chosen):
    fails(
        f"deploymentStrategy: '{chosen}' is ECS-only for now; on EKS the Deployment rolls its pods (new pods start before old ones stop, "
        "and the deploy step undoes the rollout when an alarm fires). Fix: set deploymentStrategy: rolling or remove it "
        "(`pulumi config rm deploymentStrategy`)",
        deployTarget="eks",
        deploymentStrategy=chosen,
    )


@pytest.mark.parametrize("chosen", ["auto", "rolling"])
def test_eks_accepts_rolling_and_auto_even_in_production(chosen):
    s = parse(deployTarget="eks", deploymentStrategy=chosen, **PRODUCTION)
    assert s.ecs is None and s.workload.deployment_timeout_minutes == 15


def test_the_strategy_keys_are_ecs_only():
    fails(
        "canaryPercent: is set but deployTarget is 'eks', and only ecs uses it; Fix: remove it (`pulumi config rm canaryPercent`) or set deployTarget to ecs",
        deployTarget="eks",
        canaryPercent="20",
    )


def test_the_eks_refusal_comes_before_any_resource(evaluate):
    with pytest.raises(SettingsError, match=r"^deploymentStrategy: 'canary' is ECS-only for now;"):
        evaluate("prod", deploymentStrategy="canary")


# ------------------------------------------------------------------------------------------
# Keys of another strategy
# ------------------------------------------------------------------------------------------

# A value other than the default for each strategy key, and which strategies use it (in the message's words).
SET = {
    "canaryPercent": ("20", "canary"),
    "canaryBakeMinutes": (1, "canary"),
    "linearStepPercent": ("50", "linear"),
    "linearStepBakeMinutes": (1, "linear"),
    "deploymentBakeMinutes": (1, "blue-green, canary and linear"),
    "smokeTestPaths": (["/api"], "blue-green, canary and linear"),
    "testListenerPort": (9001, "blue-green, canary and linear"),
    "testListenerCidrs": (["10.0.0.0/8"], "blue-green, canary and linear"),
}
UNUSED = [(key, kind) for key, (_, users) in SET.items() for kind in ("rolling", "blue-green", "canary", "linear") if kind not in users.replace(" and ", ", ").split(", ")]


def test_every_strategy_key_is_listed():
    assert set(SET) == {name for name, key in KEYS.items() if key.name != "deploymentStrategy" and key.description.startswith(("canary:", "linear:", "blue-green,"))}
    assert len(UNUSED) == 2 * 3 + 2 * 3 + 4 * 1


@pytest.mark.parametrize(("key", "kind"), UNUSED)
def test_a_key_of_another_strategy_is_refused(key, kind):
    value, users = SET[key]
    choice = users.replace(" and ", " or ")
    verb = "use" if " and " in users else "uses"
    fails(
        f"{key}: is set but deploymentStrategy is '{kind}', and only {users} {verb} it; Fix: remove it (`pulumi config rm {key}`) or set deploymentStrategy to {choice}",
        deploymentStrategy=kind,
        **{key: value},
    )


def test_the_message_says_how_auto_chose_the_strategy():
    fails(
        "linearStepPercent: is set but deploymentStrategy is 'canary' (auto: production is true), and only linear uses it; "
        "Fix: remove it (`pulumi config rm linearStepPercent`) or set deploymentStrategy to linear",
        linearStepPercent="20",
        **PRODUCTION,
    )
    fails(
        "testListenerPort: is set but deploymentStrategy is 'rolling' (auto: production is false), and only blue-green, canary and linear use it; "
        "Fix: remove it (`pulumi config rm testListenerPort`) or set deploymentStrategy to blue-green, canary or linear",
        testListenerPort=9001,
    )


def test_a_key_at_its_default_is_not_set():
    """The CLI passes every Pulumi.yaml default as if it were set: those never count as set."""
    defaults = {name: KEYS[name].pulumi_default for name in SET}
    assert strategy(deploymentStrategy="rolling", **defaults).kind is DeploymentStrategyKind.ROLLING


@pytest.mark.parametrize(("kind", "keys"), [("canary", ("canaryPercent", "canaryBakeMinutes")), ("linear", ("linearStepPercent", "linearStepBakeMinutes"))])
def test_a_strategy_reads_its_own_keys(kind, keys):
    s = strategy(deploymentStrategy=kind, smokeTestPaths=["/api"], testListenerPort=9001, testListenerCidrs=["10.0.0.0/8"], deploymentBakeMinutes=1, **{keys[0]: "50", keys[1]: 1})
    assert (s.smoke_test_paths, s.test_listener_port, s.test_listener_cidrs, s.bake_minutes) == (("/api",), 9001, ("10.0.0.0/8",), 1)
    assert (s.canary_percent, s.canary_bake_minutes) == ((50.0, 1) if kind == "canary" else (10.0, 5))
    assert (s.linear_step_percent, s.linear_step_bake_minutes) == ((50.0, 1) if kind == "linear" else (25.0, 3))


# ------------------------------------------------------------------------------------------
# Range edges
# ------------------------------------------------------------------------------------------


def out_of_range(key: str, value, allowed: str, low: str, high: str, **context) -> None:
    fails(f"{key}: {value!r} is not valid; allowed: {allowed}. Fix: set {key} between {low} and {high}", **{key: value}, **context)


def test_canary_percent_edges():
    for good in (0.1, 100.0, "0.1", "100", "12.5", 50):
        assert strategy(deploymentStrategy="canary", canaryPercent=good).canary_percent == float(good)
    for bad in (0.0, 100.1, -1.0):
        out_of_range("canaryPercent", bad, "0.1 to 100 in steps of 0.1", "0.1", "100", deploymentStrategy="canary")
    fails(
        "canaryPercent: 10.05 is not valid; allowed: 0.1 to 100 in steps of 0.1. Fix: set canaryPercent to a multiple of 0.1, e.g. 10.1",
        deploymentStrategy="canary",
        canaryPercent="10.05",
    )


def test_linear_step_percent_edges():
    # 3 % makes 34 shifts: 33 step bakes must be short, and the canary judge's 34 invocations need a longer timeout.
    assert strategy(deploymentStrategy="linear", linearStepPercent="3", linearStepBakeMinutes=0, deploymentTimeoutMinutes=48).linear_step_percent == 3.0
    assert strategy(deploymentStrategy="linear", linearStepPercent="100").linear_step_percent == 100.0
    for bad in (2.9, 100.1):
        out_of_range("linearStepPercent", bad, "3 to 100 in steps of 0.1", "3", "100", deploymentStrategy="linear")
    fails(
        "linearStepPercent: 33.33 is not valid; allowed: 3 to 100 in steps of 0.1. Fix: set linearStepPercent to a multiple of 0.1, e.g. 33.3",
        deploymentStrategy="linear",
        linearStepPercent="33.33",
    )


@pytest.mark.parametrize("value", ["ten", "", "nan", "inf", True, "1e400"])
def test_a_percent_must_be_a_number(value):
    shown = {True: "true"}.get(value, repr(value))
    fails(f"canaryPercent: {shown} is not valid; expected a number. Fix: set canaryPercent to a number such as 10", deploymentStrategy="canary", canaryPercent=value)


@pytest.mark.parametrize(("key", "kind"), [("canaryBakeMinutes", "canary"), ("linearStepBakeMinutes", "linear"), ("deploymentBakeMinutes", "blue-green")])
def test_bake_edges_are_ecs_documented_range(key, kind):
    """0 to 1440 minutes (ECS API); in range but longer than the deploy action can wait is a timeout error."""
    assert getattr(strategy(deploymentStrategy=kind, **{key: 0}), {"deploymentBakeMinutes": "bake_minutes"}.get(key, re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower())) == 0
    for bad in (-1, 1441):
        out_of_range(key, bad, "0 to 1440", "0", "1440", deploymentStrategy=kind)
    with pytest.raises(SettingsError, match=r"^deploymentTimeoutMinutes: 30 \(its default with " + kind + r"\) is too short for deploymentStrategy"):
        parse(deploymentStrategy=kind, **{key: 1440})


def test_test_listener_port_edges():
    for good in (1024, 65535):
        assert strategy(deploymentStrategy="blue-green", testListenerPort=good).test_listener_port == good
    for bad in (1023, 65536, 80, 443):
        out_of_range("testListenerPort", bad, "1024 to 65535", "1024", "65535", deploymentStrategy="blue-green")
    # The container port is the tasks', the listener port the load balancer's: they may be equal.
    assert strategy(deploymentStrategy="blue-green", testListenerPort=8080, containerPort=8080).test_listener_port == 8080


# ------------------------------------------------------------------------------------------
# smokeTestPaths, testListenerCidrs
# ------------------------------------------------------------------------------------------

PATHS_ALLOWED = "allowed: absolute URL paths such as /api/status (printable ASCII, no spaces, no '#', max 1024 chars)"


def test_smoke_test_paths():
    paths = ["/api/status", "/v1/items?limit=1", "/" + "a" * 1023]
    assert strategy(deploymentStrategy="canary", smokeTestPaths=paths).smoke_test_paths == tuple(paths)
    for bad in ("api/status", "/a b", "/page#top", "/" + "a" * 1024, "/é", ""):
        fails(f"smokeTestPaths: {bad!r} is not valid; {PATHS_ALLOWED}. Fix: write each path from its leading '/'", deploymentStrategy="canary", smokeTestPaths=[bad])
    fails(
        "smokeTestPaths: ['/a', '/b', '/a'] is not valid; each path once. Fix: remove the repeated '/a'",
        deploymentStrategy="canary",
        smokeTestPaths=["/a", "/b", "/a"],
    )
    fails(
        "smokeTestPaths: ['/api', '/ping'] is not valid; the smoke test requests healthCheckPath '/ping' anyway. Fix: remove '/ping' from smokeTestPaths",
        deploymentStrategy="canary",
        smokeTestPaths=["/api", "/ping"],
    )


def test_test_listener_cidrs():
    cidrs = ["203.0.113.0/24", "2001:db8::/32"]
    assert strategy(deploymentStrategy="linear", testListenerCidrs=cidrs).test_listener_cidrs == tuple(cidrs)
    for whole in ("0.0.0.0/0", "::/0"):
        fails(
            f"testListenerCidrs: '{whole}' is not valid; the test listener serves the revision that is not released yet; it must not be open to the "
            "whole internet. Fix: list your testers' networks, or remove testListenerCidrs (the smoke-test hook only)",
            deploymentStrategy="linear",
            testListenerCidrs=[whole],
        )
    fails(
        "testListenerCidrs: '10.0.0.1' is not valid; a bare address is not a CIDR block. Fix: write 10.0.0.1/32 for this one address",
        deploymentStrategy="linear",
        testListenerCidrs=["10.0.0.1"],
    )
    fails(
        "testListenerCidrs: ['10.0.0.0/8', '10.0.0.0/8'] is not valid; each CIDR block once. Fix: remove the repeated '10.0.0.0/8'",
        deploymentStrategy="linear",
        testListenerCidrs=["10.0.0.0/8", "10.0.0.0/8"],
    )


# ------------------------------------------------------------------------------------------
# The worst case
# ------------------------------------------------------------------------------------------


def worst(kind: str, *, canary=(10.0, 5), linear=(25.0, 3), bake=5):
    return worst_case(
        DeploymentStrategyKind(kind),
        canary_percent=canary[0],
        canary_bake_minutes=canary[1],
        linear_step_percent=linear[0],
        linear_step_bake_minutes=linear[1],
        bake_minutes=bake,
    )


def test_worst_case_of_each_strategy_with_the_defaults():
    assert worst("rolling").steps == (START, DRAIN)
    assert worst("blue-green").steps == (START, HOOK, ("final bake", 5), DRAIN)
    assert worst("canary").steps == (START, HOOK, ("canary bake at 10 %", 5), ("final bake", 5), DRAIN)
    assert worst("linear").steps == (START, HOOK, ("3 step bakes of 3 min (25 % a step)", 9), ("final bake", 5), DRAIN)
    assert [worst(k).minutes for k in ("rolling", "blue-green", "canary", "linear")] == [6, 16, 21, 25]
    assert worst("canary").text == (
        "5 min new tasks start and turn healthy + 5 min smoke-test hook on the test listener + 5 min canary bake at 10 % + 5 min final bake + 1 min old tasks drain (30 s) = 21 min"
    )


def test_the_canary_judge_counts_one_invocation_at_every_traffic_shift():
    """55 s each (Lambda's init limit and the hook's timeout), rounded up to minutes together: canary 2 shifts, linear
    one per step, blue-green and rolling none (no judge)."""
    judged = {
        k: worst_case(DeploymentStrategyKind(k), canary_percent=10.0, canary_bake_minutes=5, linear_step_percent=25.0, linear_step_bake_minutes=3, bake_minutes=5, judged=True)
        for k in ("canary", "linear", "blue-green", "rolling")
    }
    assert judged["canary"].steps[3] == ("canary judge at 2 traffic shifts", 2)
    assert judged["linear"].steps[3] == ("canary judge at 4 traffic shifts", 4)
    assert judged["blue-green"] == worst("blue-green") and judged["rolling"] == worst("rolling")
    assert worst_case(
        DeploymentStrategyKind.LINEAR, canary_percent=10.0, canary_bake_minutes=5, linear_step_percent=3.0, linear_step_bake_minutes=0, bake_minutes=0, judged=True
    ).steps[3] == (
        "canary judge at 34 traffic shifts",
        32,
    )
    assert [strategy(deploymentStrategy=k).worst_case.minutes for k in ("canary", "linear")] == [23, 29]


def test_worst_case_with_zero_bakes():
    assert worst("canary", canary=(10.0, 0), bake=0).minutes == 11
    assert worst("linear", linear=(3.0, 0), bake=0).minutes == 11
    assert worst("blue-green", bake=0).minutes == 11


@pytest.mark.parametrize(
    ("percent", "bakes"),
    [(100.0, 0), (99.9, 1), (50.0, 1), (33.4, 2), (33.3, 3), (25.0, 3), (11.0, 9), (10.0, 9), (3.3, 30), (3.1, 32), (3.0, 33)],
)
def test_linear_step_bakes(percent, bakes):
    """A bake after every shift but the last, which reaches 100 %."""
    assert linear_shifts(percent) == bakes + 1
    assert worst("linear", linear=(percent, 2)).steps[2] == (f"{bakes} step bakes of 2 min ({percent:g} % a step)", 2 * bakes)


def test_linear_steps_follow_cloudformations_count_for_every_allowed_percent():
    """CloudFormation counts (100 / StepPercent) - 1 steps when StepPercent divides 100, else floor(100 / StepPercent)."""
    for tenths in range(30, 1001):
        exact = Fraction(1000, tenths)
        counted = exact - 1 if exact.denominator == 1 else exact.numerator // exact.denominator
        assert linear_shifts(tenths / 10) - 1 == counted, tenths


def test_tiny_canary_percent():
    assert worst("canary", canary=(0.1, 1)).steps[2] == ("canary bake at 0.1 %", 1)


def test_the_worst_case_may_equal_the_timeout():
    assert parse(deploymentStrategy="canary", deploymentTimeoutMinutes=23).ecs.strategy.worst_case.minutes == 23
    assert parse(deploymentStrategy="linear", linearStepPercent="100", deploymentBakeMinutes=0, deploymentTimeoutMinutes=12).workload.deployment_timeout_minutes == 12


CANARY_TEXT = (
    "5 min new tasks start and turn healthy + 5 min smoke-test hook on the test listener + 5 min canary bake at 10 % + 2 min canary judge at 2 traffic shifts "
    "+ 5 min final bake + 1 min old tasks drain (30 s) = 23 min"
)


def test_one_minute_over_the_timeout_is_refused_with_the_breakdown_and_the_fix():
    fails(
        f"deploymentTimeoutMinutes: 22 is too short for deploymentStrategy 'canary': a deployment can take {CANARY_TEXT}. "
        "Fix: shorten the bakes by 1 minute (canaryBakeMinutes, deploymentBakeMinutes), or raise deploymentTimeoutMinutes to 23 (at most 60, the ECS deploy action's limit)",
        deploymentStrategy="canary",
        deploymentTimeoutMinutes=22,
    )


def test_a_timeout_shorter_than_the_unbakeable_part_can_only_be_raised():
    fails(
        f"deploymentTimeoutMinutes: 10 is too short for deploymentStrategy 'canary' (auto: production is true): a deployment can take {CANARY_TEXT}. "
        "Fix: raise deploymentTimeoutMinutes to 23 (at most 60, the ECS deploy action's limit)",
        deploymentTimeoutMinutes=10,
        **PRODUCTION,
    )


def test_past_the_actions_limit_only_shorter_bakes_help():
    fails(
        "deploymentTimeoutMinutes: 60 is too short for deploymentStrategy 'linear': a deployment can take 5 min new tasks start and turn healthy "
        "+ 5 min smoke-test hook on the test listener + 99 min 33 step bakes of 3 min (3 % a step) + 32 min canary judge at 34 traffic shifts "
        "+ 5 min final bake + 1 min old tasks drain (30 s) = 147 min. "
        "Fix: shorten the bakes by 87 minutes (linearStepBakeMinutes, deploymentBakeMinutes, or a larger linearStepPercent for fewer steps)",
        deploymentStrategy="linear",
        linearStepPercent="3",
        deploymentTimeoutMinutes=60,
    )
    fails(
        "deploymentTimeoutMinutes: 10 is too short for deploymentStrategy 'blue-green': a deployment can take 5 min new tasks start and turn healthy "
        "+ 5 min smoke-test hook on the test listener + 100 min final bake + 1 min old tasks drain (30 s) = 111 min. "
        "Fix: shorten the bakes to 49 minutes together at most (deploymentBakeMinutes) and raise deploymentTimeoutMinutes to 60, the ECS deploy action's limit",
        deploymentStrategy="blue-green",
        deploymentBakeMinutes=100,
        deploymentTimeoutMinutes=10,
    )


def test_a_rolling_update_is_not_held_to_the_timeout():
    """Rolling adds no bake, hook or test traffic; its worst case is shown, not enforced."""
    s = parse(deploymentTimeoutMinutes=1)
    assert (s.workload.deployment_timeout_minutes, s.ecs.strategy.worst_case.minutes) == (1, 6)


def test_a_bad_timeout_is_reported_once():
    fails("deploymentTimeoutMinutes: 0 is not valid; allowed: 1 to 60. Fix: set deploymentTimeoutMinutes between 1 and 60", deploymentStrategy="canary", deploymentTimeoutMinutes=0)


# ------------------------------------------------------------------------------------------
# The offline plan
# ------------------------------------------------------------------------------------------

VERIFIED = (
    "  - verified: stage `Deploy` runs `DeployToEcs`, then `VerifyDeployment`, then `RecordImage`; `VerifyDeployment` (Lambda) succeeds only "
    "when ECS reports the deployment SUCCESSFUL and its revision runs the build's digest"
)


def applied(strategy: str) -> str:
    judge = "" if strategy == "BLUE_GREEN" else ", `container-cicd-dev-app-canary-judge` at PRODUCTION_TRAFFIC_SHIFT"
    return f"  - applied: service `deploy-service` deploys with strategy `{strategy}`; lifecycle hook `container-cicd-dev-app-smoke-test` at POST_TEST_TRAFFIC_SHIFT{judge}"


@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        (
            "canary",
            [
                "- Deployment strategy: `canary`: 10 % of production traffic for 5 min, then 100 %",
                "  - final bake: 5 min with both revisions running, then the old one stops",
                "  - test listener: port `9000`, reachable by the smoke-test hook; the smoke test requests `/ping`",
                f"  - worst case 23 min, within the deploy action's 30 min timeout (`deploymentTimeoutMinutes`): {CANARY_TEXT}",
                "  - `pulumi up` waits up to 28 min (the worst case and 5 min) for the deployment it starts, and fails if ECS rolls it back",
                applied("CANARY"),
                VERIFIED,
            ],
        ),
        (
            "linear",
            [
                "- Deployment strategy: `linear`: 25 % more production traffic every 3 min until 100 % (4 shifts)",
                "  - final bake: 5 min with both revisions running, then the old one stops",
                "  - test listener: port `9000`, reachable by the smoke-test hook; the smoke test requests `/ping`",
                "  - worst case 29 min, within the deploy action's 30 min timeout (`deploymentTimeoutMinutes`): 5 min new tasks start and turn healthy "
                "+ 5 min smoke-test hook on the test listener + 9 min 3 step bakes of 3 min (25 % a step) + 4 min canary judge at 4 traffic shifts "
                "+ 5 min final bake + 1 min old tasks drain (30 s) = 29 min",
                "  - `pulumi up` waits up to 34 min (the worst case and 5 min) for the deployment it starts, and fails if ECS rolls it back",
                applied("LINEAR"),
                VERIFIED,
            ],
        ),
        (
            "blue-green",
            [
                "- Deployment strategy: `blue-green`: all production traffic at once",
                "  - final bake: 5 min with both revisions running, then the old one stops",
                "  - test listener: port `9000`, reachable by the smoke-test hook; the smoke test requests `/ping`",
                "  - worst case 16 min, within the deploy action's 30 min timeout (`deploymentTimeoutMinutes`): 5 min new tasks start and turn healthy "
                "+ 5 min smoke-test hook on the test listener + 5 min final bake + 1 min old tasks drain (30 s) = 16 min",
                "  - `pulumi up` waits up to 21 min (the worst case and 5 min) for the deployment it starts, and fails if ECS rolls it back",
                applied("BLUE_GREEN"),
                VERIFIED,
            ],
        ),
    ],
)
def test_plan_rows_of_each_strategy(evaluate, kind, rows):
    assert ECS_REPORT.deploy_rows(StackView(evaluate("dev", deploymentStrategy=kind))) == rows


def test_plan_rows_of_the_dev_stack_and_of_a_listed_test_audience(dev, evaluate):
    assert ECS_REPORT.deploy_rows(StackView(dev)) == [
        "- Deployment strategy: `rolling`: new tasks replace the old ones in place (no second target group, no test listener)",
        "  - worst case 6 min, within the deploy action's 15 min timeout (`deploymentTimeoutMinutes`): "
        "5 min new tasks start and turn healthy + 1 min old tasks drain (30 s) = 6 min",
        "  - `pulumi up` waits up to 20 min (the provider's default) for the deployment it starts, and fails if ECS rolls it back",
        "  - applied: service `deploy-service` deploys with strategy `ROLLING`",
        VERIFIED,
    ]
    listed = evaluate("dev", deploymentStrategy="canary", testListenerCidrs=["203.0.113.0/24"], smokeTestPaths=["/api"], testListenerPort=8443)
    assert (
        ECS_REPORT.deploy_rows(StackView(listed))[2]
        == "  - test listener: port `8443`, reachable by the smoke-test hook and `203.0.113.0/24`; the smoke test requests `/ping`, `/api`"
    )


def test_plan_configuration_rows_resolve_the_strategy_and_its_timeout(evaluate):
    def rows(result, overrides):
        table = configuration_section(result, {}, overrides)
        return {line.split("|")[1].strip(" `"): line.split("|")[2].strip() for line in table if line.startswith("| `")}

    overrides = {"production": "true", "allowPlainHttp": "true"}
    production = rows(evaluate("dev", **overrides), overrides)
    assert production["deploymentStrategy"] == "`auto` → canary (production is true)"
    assert production["deploymentTimeoutMinutes"] == "`15` → 30 (the default with deploymentStrategy canary)"
    assert production["canaryPercent"] == "`10`"
    eks = rows(evaluate("dev", deployTarget="eks"), {"deployTarget": "eks"})
    assert eks["deploymentStrategy"] == "`auto` → rolling (the Deployment's rolling update, the only strategy on EKS)"
    assert eks["deploymentTimeoutMinutes"] == "`15`"
    assert eks["canaryPercent"] == "—"


def test_the_plan_command_shows_the_strategy(monkeypatch, evaluate, tmp_path, capsys):
    monkeypatch.setattr(plan, "evaluate_stack", lambda stack, overrides: evaluate(stack, **overrides))
    assert plan.main(["dev", "--set", "deploymentStrategy=linear", "--set", "linearStepPercent=50", "--no-checkov", "--out", str(tmp_path)]) == plan.EXIT_OK
    report = (tmp_path / "plan.md").read_text()
    assert "- Deployment strategy: `linear`: 50 % more production traffic every 3 min until 100 % (2 shifts)\n" in report
    assert "| `linearStepPercent` | `50` | `--set` |" in report
    assert plan.main(["prod", "--set", "deploymentStrategy=canary", "--no-checkov", "--out", str(tmp_path / "prod")]) == plan.EXIT_SETTINGS_ERROR
    assert capsys.readouterr().err.startswith("settings error in stack prod: deploymentStrategy: 'canary' is ECS-only for now;")


# ------------------------------------------------------------------------------------------
# The number key type
# ------------------------------------------------------------------------------------------


def test_a_number_key_renders_its_bounds_and_step_and_is_a_string_to_pulumi():
    from components.settings import Key

    key = Key("x", "number", 1.5, "d.", minimum=0.5, maximum=2.0, step=0.5)
    assert key.allowed_text == "0.5 to 2 in steps of 0.5"
    assert (key.pulumi_type, key.pulumi_default) == ("string", "1.5")
    assert KEYS["canaryPercent"].full_description.endswith(" Allowed: 0.1 to 100 in steps of 0.1.")
    assert (KEYS["containerPort"].pulumi_type, KEYS["containerPort"].pulumi_default) == ("integer", 8080)
