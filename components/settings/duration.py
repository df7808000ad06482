"""How long one ECS deployment can take at worst, step by step: a pure function of the strategy's values.

The pipeline's ECS deploy action fails when the deployment has not finished within
`deploymentTimeoutMinutes`, so the settings refuse a strategy whose worst case is longer (strategy.py),
and the offline plan shows the breakdown. The steps, in the order a deployment goes through them:

1. the new revision's tasks start and pass the ALB health check (`TASK_START_ALLOWANCE_MINUTES`);
2. blue-green, canary, linear: the smoke-test hook on the test listener (`SMOKE_TEST_HOOK_MAX_MINUTES`);
3. the production traffic shifts and the bakes between them (canary: one canary bake; linear: a bake
   after every shift but the last; blue-green and rolling: none), and with the canary judge (canary, linear) one
   invocation of its hook at every shift (`CANARY_JUDGE_INVOCATION_MAX_SECONDS` each, rounded up to minutes together);
4. blue-green, canary, linear: the final bake, both revisions running, before the old one is stopped;
5. the old tasks drain from the target group (`DEREGISTRATION_DELAY_SECONDS`, rounded up to a minute).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.settings.constants import (
    CANARY_JUDGE_INVOCATION_MAX_SECONDS,
    DEREGISTRATION_DELAY_SECONDS,
    SMOKE_TEST_HOOK_MAX_MINUTES,
    TASK_START_ALLOWANCE_MINUTES,
)
from components.settings.enums import DeploymentStrategyKind


@dataclass(frozen=True)
class WorstCase:
    """One deployment's worst case: (what happens, minutes) in the order it happens."""

    steps: tuple[tuple[str, int], ...]

    @property
    def minutes(self) -> int:
        return sum(minutes for _, minutes in self.steps)

    @property
    def text(self) -> str:
        """'5 min new tasks start and turn healthy + ... = 21 min'."""
        return " + ".join(f"{minutes} min {label}" for label, minutes in self.steps) + f" = {self.minutes} min"


def percent_text(percent: float) -> str:
    """10.0 -> '10 %', 12.5 -> '12.5 %'."""
    return f"{percent:g} %"


def linear_shifts(step_percent: float) -> int:
    """How many production traffic shifts a linear deployment makes: ceil(100 / stepPercent), the last
    one to 100 %. ECS bakes after each shift but the last ("This bake time is not applied after
    reaching 100 percent traffic",
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html), so there are
    one fewer bakes: CloudFormation counts the same steps (100 / StepPercent - 1 when it divides 100,
    else floor(100 / StepPercent);
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-service-linearconfiguration.html)."""
    # Exact in floats for every allowed percent (3 to 100 in tenths): tests/test_strategy_settings.py checks them all.
    return math.ceil(100 / step_percent)


def worst_case(
    kind: DeploymentStrategyKind,
    *,
    canary_percent: float,
    canary_bake_minutes: int,
    linear_step_percent: float,
    linear_step_bake_minutes: int,
    bake_minutes: int,
    judged: bool = False,
) -> WorstCase:
    """The worst case of one deployment with strategy `kind` (resolved, not AUTO); the values a strategy
    does not use are ignored. `judged`: the canary judge's hook runs at every production traffic shift."""
    assert kind is not DeploymentStrategyKind.AUTO, "resolve() auto first"
    steps: list[tuple[str, int]] = [("new tasks start and turn healthy", TASK_START_ALLOWANCE_MINUTES)]
    if kind.shifts_traffic:
        steps.append(("smoke-test hook on the test listener", SMOKE_TEST_HOOK_MAX_MINUTES))
    if kind is DeploymentStrategyKind.CANARY:
        steps.append((f"canary bake at {percent_text(canary_percent)}", canary_bake_minutes))
    elif kind is DeploymentStrategyKind.LINEAR:
        bakes = linear_shifts(linear_step_percent) - 1
        steps.append((f"{bakes} step bakes of {linear_step_bake_minutes} min ({percent_text(linear_step_percent)} a step)", bakes * linear_step_bake_minutes))
    shifts = {DeploymentStrategyKind.CANARY: 2, DeploymentStrategyKind.LINEAR: linear_shifts(linear_step_percent)}.get(kind, 0)
    if judged and shifts:
        steps.append((f"canary judge at {shifts} traffic shifts", math.ceil(shifts * CANARY_JUDGE_INVOCATION_MAX_SECONDS / 60)))
    if kind.shifts_traffic:
        steps.append(("final bake", bake_minutes))
    steps.append((f"old tasks drain ({DEREGISTRATION_DELAY_SECONDS} s)", math.ceil(DEREGISTRATION_DELAY_SECONDS / 60)))
    return WorstCase(tuple(steps))
