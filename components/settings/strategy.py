"""The deployment strategy part: deploymentStrategy resolved against production, the keys of the chosen
strategy, and whether its worst case fits the deploy action's timeout.

ECS deploys with the strategy; EKS only rolls (its Deployment's rolling update), so there any strategy
but rolling is refused. A key of another strategy than the chosen one, set explicitly, is refused too,
as a key of another deploy target is. The timeout check covers the strategies that shift traffic: their
bakes, hook and test traffic are what these settings add to a deployment; a rolling update's length is
its tasks' start, which no key here lengthens, and the deploy action's timeout stays its safety net.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace

from components.settings.canary import _canary_judge
from components.settings.constants import ECS_DEPLOY_ACTION_MAX_MINUTES, TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES
from components.settings.enums import DeploymentStrategyKind, DeployTargetKind
from components.settings.model import DeploymentStrategySettings
from components.settings.network import cidr_problem
from components.settings.reading import SettingsError, _duplicates, _enum, _fail, _in_range, _Reader

_SHIFTING = frozenset(k for k in DeploymentStrategyKind if k.shifts_traffic)
# The strategies the canary judge compares: both revisions serve production traffic on the same minutes.
_JUDGED = frozenset({DeploymentStrategyKind.CANARY, DeploymentStrategyKind.LINEAR})

# The canary judge's keys (components/settings/canary.py).
JUDGE_KEYS = (
    "canaryMetrics",
    "canaryTolerancePercent",
    "canaryErrorFloorPercent",
    "canaryLatencyFloorMs",
    "canaryMinRequests",
    "canaryLatencyPercentile",
    "canaryNotEnoughTraffic",
)

# The strategy keys and the strategies that use them (deploymentStrategy itself is read by every strategy).
STRATEGY_KEYS: dict[str, frozenset[DeploymentStrategyKind]] = {
    "canaryPercent": frozenset({DeploymentStrategyKind.CANARY}),
    "canaryBakeMinutes": frozenset({DeploymentStrategyKind.CANARY}),
    "linearStepPercent": frozenset({DeploymentStrategyKind.LINEAR}),
    "linearStepBakeMinutes": frozenset({DeploymentStrategyKind.LINEAR}),
    "deploymentBakeMinutes": _SHIFTING,
    "smokeTestPaths": _SHIFTING,
    "testListenerPort": _SHIFTING,
    "testListenerCidrs": _SHIFTING,
    **{key: _JUDGED for key in JUDGE_KEYS},
}

# What makes a deployment of each strategy shorter, for the timeout error.
_SHORTER = {
    DeploymentStrategyKind.BLUE_GREEN: "deploymentBakeMinutes",
    DeploymentStrategyKind.CANARY: "canaryBakeMinutes, deploymentBakeMinutes",
    DeploymentStrategyKind.LINEAR: "linearStepBakeMinutes, deploymentBakeMinutes, or a larger linearStepPercent for fewer steps",
}

# An absolute path and query as a client sends it: printable ASCII, no space, no '#' fragment (never sent).
_URL_PATH = re.compile(r'^/[!"$-~]{0,1023}$')
# The smoke-test hook takes at most 20 paths besides the health path (functions/ecs_smoke_test.py,
# MAX_SMOKE_PATHS; the settings do not import the function).
MAX_SMOKE_TEST_PATHS = 20


def _strategy_kind(reader: _Reader, target: DeployTargetKind, production: bool) -> DeploymentStrategyKind:
    """The strategy the stack deploys with: auto resolved against production; on EKS, rolling."""
    chosen = _enum(reader, "deploymentStrategy")
    if target is DeployTargetKind.ECS:
        return chosen.resolve(production)
    if chosen not in (DeploymentStrategyKind.AUTO, DeploymentStrategyKind.ROLLING):
        raise SettingsError(
            f"deploymentStrategy: {chosen.value!r} is ECS-only for now; on EKS the Deployment rolls its pods (new pods start before old ones "
            "stop, and the deploy step undoes the rollout when an alarm fires). Fix: set deploymentStrategy: rolling or remove it "
            "(`pulumi config rm deploymentStrategy`)"
        )
    return DeploymentStrategyKind.ROLLING


def deployment_timeout(reader: _Reader, kind: DeploymentStrategyKind | None) -> int:
    """deploymentTimeoutMinutes, or when it is not set and `kind` shifts traffic, the longer default those
    strategies need (constants.TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES)."""
    timeout = _in_range(reader, "deploymentTimeoutMinutes")
    if kind is not None and kind.shifts_traffic and not reader.is_set("deploymentTimeoutMinutes"):
        return TRAFFIC_SHIFT_DEPLOYMENT_TIMEOUT_MINUTES
    return timeout


def _named(reader: _Reader, kind: DeploymentStrategyKind, production: bool) -> str:
    """'canary', with how auto chose it: "'canary' (auto: production is true)"."""
    if reader.get("deploymentStrategy") != DeploymentStrategyKind.AUTO.value:
        return repr(kind.value)
    return f"{kind.value!r} (auto: production is {'true' if production else 'false'})"


def _check_strategy_keys(reader: _Reader, kind: DeploymentStrategyKind, named: str) -> None:
    for key, users in STRATEGY_KEYS.items():
        if kind not in users and reader.is_set(key) and key not in reader.shared:
            listed = [k.value for k in DeploymentStrategyKind if k in users]
            head, last = ", ".join(listed[:-1]), listed[-1]
            users_text, verb, choice = (f"{head} and {last}", "use", f"{head} or {last}") if head else (last, "uses", last)
            raise SettingsError(
                f"{key}: is set but deploymentStrategy is {named}, and only {users_text} {verb} it; Fix: remove it (`pulumi config rm {key}`) or set deploymentStrategy to {choice}"
            )


def _smoke_test_paths(reader: _Reader) -> tuple[str, ...]:
    paths = reader.get("smokeTestPaths")
    if len(paths) > MAX_SMOKE_TEST_PATHS:
        raise _fail("smokeTestPaths", list(paths), f"at most {MAX_SMOKE_TEST_PATHS} paths (the smoke test must fit its time budget)", "keep the paths that matter most")
    for path in paths:
        if not _URL_PATH.match(path):
            raise _fail(
                "smokeTestPaths",
                path,
                "allowed: absolute URL paths such as /api/status (printable ASCII, no spaces, no '#', max 1024 chars)",
                "write each path from its leading '/'",
            )
    if _duplicates(list(paths)):
        raise _fail("smokeTestPaths", list(paths), "each path once", f"remove the repeated {_duplicates(list(paths))[0]!r}")
    health = reader.get("healthCheckPath")
    if health in paths:
        raise _fail("smokeTestPaths", list(paths), f"the smoke test requests healthCheckPath {health!r} anyway", f"remove {health!r} from smokeTestPaths")
    return paths


def _test_listener_cidrs(reader: _Reader) -> tuple[str, ...]:
    cidrs = reader.get("testListenerCidrs")
    for block in cidrs:
        problem = cidr_problem(block)
        if problem:
            raise _fail("testListenerCidrs", block, problem[0], problem[1])
        if ipaddress.ip_network(block).prefixlen == 0:
            raise _fail(
                "testListenerCidrs",
                block,
                "the test listener serves the revision that is not released yet; it must not be open to the whole internet",
                "list your testers' networks, or remove testListenerCidrs (the smoke-test hook only)",
            )
    if _duplicates(list(cidrs)):
        raise _fail("testListenerCidrs", list(cidrs), "each CIDR block once", f"remove the repeated {_duplicates(list(cidrs))[0]!r}")
    return cidrs


def _check_fits(reader: _Reader, strategy: DeploymentStrategySettings, named: str, timeout: int) -> None:
    """A deployment that shifts traffic must end within the deploy action's timeout; otherwise the action
    fails a deployment ECS would have finished (and CodePipeline rolls the stage back)."""
    worst = strategy.worst_case
    if worst.minutes <= timeout:
        return
    shortfall = worst.minutes - timeout
    bakes = _bake_minutes(strategy)
    shorter = _SHORTER[strategy.kind]
    limit = f"{ECS_DEPLOY_ACTION_MAX_MINUTES}, the ECS deploy action's limit"
    fixes = []
    if shortfall <= bakes:
        fixes.append(f"shorten the bakes by {shortfall} minute{'' if shortfall == 1 else 's'} ({shorter})")
    if worst.minutes <= ECS_DEPLOY_ACTION_MAX_MINUTES:
        fixes.append(f"raise deploymentTimeoutMinutes to {worst.minutes} (at most {limit})")
    if not fixes:
        most = ECS_DEPLOY_ACTION_MAX_MINUTES - (worst.minutes - bakes)
        fixes.append(f"shorten the bakes to {most} minutes together at most ({shorter}) and raise deploymentTimeoutMinutes to {limit}")
    default = "" if reader.is_set("deploymentTimeoutMinutes") else f" (its default with {strategy.kind.value})"
    raise SettingsError(f"deploymentTimeoutMinutes: {timeout}{default} is too short for deploymentStrategy {named}: a deployment can take {worst.text}. Fix: {', or '.join(fixes)}")


def _bake_minutes(strategy: DeploymentStrategySettings) -> int:
    """The minutes of the worst case that the strategy's bake keys set: all but the start, hook and draining."""
    unbaked = replace(strategy, canary_bake_minutes=0, linear_step_bake_minutes=0, bake_minutes=0)
    return strategy.worst_case.minutes - unbaked.worst_case.minutes


def _strategy(reader: _Reader, kind: DeploymentStrategyKind, production: bool, timeout: int | None) -> DeploymentStrategySettings:
    """The strategy's settings; with `timeout` (None: deploymentTimeoutMinutes has a problem of its own),
    refused when a deployment can take longer."""
    named = _named(reader, kind, production)
    _check_strategy_keys(reader, kind, named)
    strategy = DeploymentStrategySettings(
        kind=kind,
        canary_percent=float(_in_range(reader, "canaryPercent")),
        canary_bake_minutes=_in_range(reader, "canaryBakeMinutes"),
        linear_step_percent=float(_in_range(reader, "linearStepPercent")),
        linear_step_bake_minutes=_in_range(reader, "linearStepBakeMinutes"),
        bake_minutes=_in_range(reader, "deploymentBakeMinutes"),
        smoke_test_paths=_smoke_test_paths(reader),
        test_listener_port=_in_range(reader, "testListenerPort"),
        test_listener_cidrs=_test_listener_cidrs(reader),
        judge=_canary_judge(reader) if kind in _JUDGED else None,
    )
    if timeout is not None and kind.shifts_traffic:
        _check_fits(reader, strategy, named, timeout)
    return strategy
