"""The offline plan's "Canary analysis" section: whether the stack's deployments are judged against the old revision,
by which hook, on which rules (in words), and what is not judged and why."""

from __future__ import annotations

from components.settings import DeploymentStrategyKind, linear_shifts
from functions.canary_judge import Rules, rules_text
from offline.mocks import StackResult
from offline.plan.sections import stack_settings

HANDLER = "functions.ecs_canary_hook.handler"


def canary_section(result: StackResult) -> list[str]:
    settings = stack_settings(result)
    if settings.ecs is None:
        return [
            "- Not judged: EKS rolls the Deployment's pods in place; no second target group holds the old revision, so there is no "
            "baseline to compare the new one with. The service alarms (fixed thresholds) and the deploy step's rollout watch undo a bad rollout."
        ]
    strategy = settings.ecs.strategy
    if strategy.judge is None:
        if strategy.kind is DeploymentStrategyKind.BLUE_GREEN:
            why = (
                "`blue-green` moves all production traffic at once, so the new revision never serves production beside the old one; its test "
                "phase is the smoke test on the test listener, and the deployment alarms watch the final bake"
            )
        else:
            why = f"`{strategy.kind.value}` replaces tasks in place in one target group: there is no old revision's target group to compare with"
        return [f"- Not judged: {why}. Canary and linear deployments are judged (deploymentStrategy)."]
    names = [f.inputs["name"] for f in result.of_type("aws:lambda/function:Function") if f.inputs.get("handler") == HANDLER]
    shifts = 2 if strategy.kind is DeploymentStrategyKind.CANARY else linear_shifts(strategy.linear_step_percent)
    rules = Rules.from_json(strategy.judge.rules_json())
    return [
        f"- Canary judge: lifecycle hook {', '.join(f'`{n}`' for n in names) or '(not registered)'} at every production traffic shift "
        f"(`PRODUCTION_TRAFFIC_SHIFT`, {shifts} shifts); it compares the new revision's target group with the old one's over the minutes "
        "since the deployment started, and its FAILED rolls the deployment back",
        *(f"  - {line}" for line in rules_text(rules)),
        "  - the old revision's target group: the one that served production requests alone in the latest minute before the deployment in which only one did",
        "  - not judged: the final bake (the old revision serves nothing then; the deployment alarms watch it), and a rollback's own shifts",
    ]
