"""What tests/test_time_budgets.py holds each wait against: the stack variants at the extremes the settings allow,
the worst-case runs of the product's runtime code, and the AWS facts the budgets are compared with.

Worst cases are computed, never typed in: a deployment's from the settings (`DeploymentStrategySettings.worst_case`),
a CodeBuild step's from its rendered buildspec and the calls it made on its longest path against the stand-ins,
a Lambda function's from the calls its real handler made on its longest path and the timeouts of the clients
it made them with.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import botocore.config
import yaml

from components.settings import KEYS, MAX_SMOKE_TEST_PATHS, PROJECT, Settings, SettingsError, parse_settings
from offline.mocks import StackResult
from offline.stackfile import stack_config

# -- AWS and provider facts ------------------------------------------------------------------------

# terraform-provider-aws internal/service/ecs/service.go: Timeouts Create/Update/Delete 20 minutes; with
# wait_for_steady_state the create and the update wait (waitServiceStable) until the service's newest deployment
# is SUCCESSFUL, bounded by that timeout (Pulumi's custom_timeouts replaces it).
ECS_SERVICE_DEFAULT_MINUTES = 20
# internal/service/eks/cluster.go: Create 30, Update 60, Delete 15; addon.go: Create 20, Update 20, Delete 40.
EKS_CLUSTER_CREATE_DEFAULT_MINUTES = 30
EKS_ADDON_CREATE_DEFAULT_MINUTES = 20
# "Cluster creation typically takes about 15 minutes" (Amazon EKS user guide, Create an EKS Auto Mode Cluster with
# the AWS CLI: https://docs.aws.amazon.com/eks/latest/userguide/automode-get-started-cli.html).
EKS_AUTO_MODE_CLUSTER_DOCUMENTED_MINUTES = 15
# CodePipeline quotas (https://docs.amazonaws.cn/en_us/codepipeline/latest/userguide/limits.html): "CodeBuild build
# action and test action: 8 hours"; the Lambda invoke action fails when the function "has sent no reply after 20
# minutes", and after 24 hours in all; "The Amazon ECS deployment action timeout is configurable up to one hour".
CODEBUILD_ACTION_LIMIT_MINUTES = 8 * 60
LAMBDA_ACTION_NO_REPLY_MINUTES = 20
LAMBDA_ACTION_LIMIT_MINUTES = 24 * 60
ECS_ACTION_LIMIT_MINUTES = 60
# "The Init phase is limited to 10 seconds. If all three tasks do not complete within 10 seconds, Lambda retries the
# Init phase at the time of the first function invocation with the configured function timeout."
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html) One invocation therefore lasts at
# most this plus the function's timeout.
LAMBDA_INIT_LIMIT_SECONDS = 10
# What one AWS CLI or kubectl call on a step's path is allowed: the AWS CLI's default socket read timeout (60 s,
# --cli-read-timeout in https://docs.aws.amazon.com/cli/latest/reference/index.html). kubectl sets no request
# timeout by default; its calls get the same allowance. A call that needs more (retries against a failing API) is
# the build timeout's to cut.
CALL_ALLOWANCE_SECONDS = 60
# A download in a step (the signing tools): curl's --max-time bounds each attempt, --retry the attempts after the
# first, with curl's backoff between them (1 s, doubling: https://curl.se/docs/manpage.html#--retry).
DOWNLOAD = re.compile(r"curl [^\n]*--retry (\d+) --max-time (\d+)")


def duration_minutes(text: str) -> float:
    """A Go duration as custom_timeouts take it ("26m", "1h5m", "90s") in minutes."""
    units = {"h": 60.0, "m": 1.0, "s": 1 / 60}
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"custom timeout {text!r} is not a duration such as 26m or 1h5m")
    return sum(float(n) * units[u] for n, u in parts)


# -- the variants ----------------------------------------------------------------------------------


def settings_of(stack: str, overrides: Mapping[str, Any]) -> Settings:
    config = stack_config(stack, overrides)
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}
    return parse_settings(raw, PROJECT, stack, str(config.get("aws:region", "us-east-1")))


def accepted(stack: str, overrides: Mapping[str, Any]) -> bool:
    try:
        settings_of(stack, overrides)
    except SettingsError:
        return False
    return True


def largest_accepted(stack: str, overrides: Mapping[str, Any], key: str) -> int:
    """The largest integer value of `key` the settings accept with `overrides` (a bisection within the key's range)."""
    low, high = int(KEYS[key].minimum or 0), int(KEYS[key].maximum or 0)
    assert accepted(stack, {**overrides, key: low}), f"{key}={low} is refused with {overrides}"
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if accepted(stack, {**overrides, key: middle}) else (low, middle - 1)
    return low


def smallest_positive_accepted(stack: str, overrides: Mapping[str, Any], key: str) -> int:
    value = 1
    while not accepted(stack, {**overrides, key: value}):
        value += 1
        assert value <= int(KEYS[key].maximum or 0), f"no positive {key} is accepted"
    return value


def longest(stack: str, strategy: str, **base: Any) -> dict[str, Any]:
    """`strategy` with its bakes and steps as long as the settings allow: the deploy timeout at its maximum, the
    most linear steps, every bake key filled to what still fits, the most smoke-test paths."""
    overrides: dict[str, Any] = {**base, "deploymentStrategy": strategy, "deploymentTimeoutMinutes": KEYS["deploymentTimeoutMinutes"].maximum}
    overrides["smokeTestPaths"] = [f"/smoke/{i}" for i in range(MAX_SMOKE_TEST_PATHS)]
    bakes = {"canary": ["canaryBakeMinutes"], "linear": ["linearStepBakeMinutes"], "blue-green": []}[strategy]
    if strategy == "linear":
        overrides["linearStepPercent"] = KEYS["linearStepPercent"].minimum
    for key in [*bakes, "deploymentBakeMinutes"]:
        overrides[key] = 0
    for key in [*bakes, "deploymentBakeMinutes"]:
        overrides[key] = largest_accepted(stack, overrides, key)
    return overrides


def variants(ecs_overrides: Callable[[str], dict]) -> dict[str, tuple[str, dict[str, Any]]]:
    """label -> (stack file, overrides)."""
    prod_ecs = ecs_overrides("prod")
    out: dict[str, tuple[str, dict[str, Any]]] = {
        "dev": ("dev", {}),
        "prod": ("prod", {}),
        "dev-eks": ("dev", {"deployTarget": "eks"}),
        "prod-ecs": ("prod", prod_ecs),
    }
    for strategy in ("blue-green", "canary", "linear"):
        out[f"dev-{strategy}"] = ("dev", {"deploymentStrategy": strategy})
        out[f"dev-{strategy}-longest"] = ("dev", longest("dev", strategy))
    bake = KEYS["bakeTimeMinutes"]
    out["prod-ecs-longest"] = ("prod", longest("prod", "canary", **prod_ecs, bakeTimeMinutes=bake.maximum))
    out["prod-shortest-bake"] = ("prod", {"bakeTimeMinutes": smallest_positive_accepted("prod", {}, "bakeTimeMinutes")})
    out["dev-eks-longest"] = (
        "dev",
        {"deployTarget": "eks", "deploymentTimeoutMinutes": KEYS["deploymentTimeoutMinutes"].maximum, "buildTimeoutMinutes": KEYS["buildTimeoutMinutes"].maximum},
    )
    return out


# -- CodeBuild steps: what their longest path costs ------------------------------------------------

ROLLOUT_DEADLINE = re.compile(r"kubectl rollout status [^\n|&;]*--timeout=(\d+)m")
POLL_SLEEP = re.compile(r'sleep "\$\{[A-Z_]+:-(\d+(?:\.\d+)?)\}"|sleep (\d+(?:\.\d+)?)\b')


@dataclass
class StepTally:
    """The calls one CodeBuild step made on its longest path (CLI invocations, as the stand-ins logged them)."""

    aws: int = 0
    kubectl: int = 0
    notation: int = 0
    """Notation CLI invocations (each may call the registry and AWS Signer)."""
    """kubectl invocations other than `rollout status`, whose deadline the buildspec states."""
    rollouts: int = 0

    def merge(self, other: StepTally) -> StepTally:
        return StepTally(max(self.aws, other.aws), max(self.kubectl, other.kubectl), max(self.notation, other.notation), max(self.rollouts, other.rollouts))


def tally_lines(lines: list[str]) -> StepTally:
    tally = StepTally()
    for line in lines:
        if line.startswith("kubectl rollout status"):
            tally.rollouts += 1
        elif line.startswith("kubectl "):
            tally.kubectl += 1
        elif line.startswith("aws "):
            tally.aws += 1
        elif line.startswith("notation "):
            tally.notation += 1
    return tally


@dataclass(frozen=True)
class StepWorstCase:
    seconds: float
    text: str


def step_worst_case(buildspec: str, tally: StepTally) -> StepWorstCase:
    """The buildspec's deliberate waits (each rollout's deadline, each polling loop's last round past the wait it
    watches) plus CALL_ALLOWANCE_SECONDS for every call the step made on its longest path."""
    deadlines = [int(m) * 60 for m in ROLLOUT_DEADLINE.findall(buildspec)]
    if len(deadlines) != tally.rollouts:
        raise AssertionError(f"the buildspec states {len(deadlines)} rollout deadline(s), its longest run waited on {tally.rollouts}")
    polls = [float(a or b) for a, b in POLL_SLEEP.findall(buildspec)]
    calls = tally.aws + tally.kubectl + tally.notation + len(polls)
    parts = [(f"rollout deadline {d // 60} min", float(d)) for d in deadlines]
    for retries, seconds in DOWNLOAD.findall(buildspec):
        attempts = int(retries) + 1
        parts.append((f"a download of {attempts} x {seconds} s", float(attempts * int(seconds) + 2 ** int(retries) - 1)))
    parts += [(f"a last poll of {p:g} s", p) for p in polls]
    parts.append((f"{calls} calls at {CALL_ALLOWANCE_SECONDS} s", float(calls * CALL_ALLOWANCE_SECONDS)))
    total = sum(s for _, s in parts)
    return StepWorstCase(total, " + ".join(label for label, _ in parts) + f" = {total / 60:.1f} min")


def project_kind(name: str) -> str:
    """build, record, publish, check or deploy: the last part of the project's physical name."""
    return name.rsplit("-", 1)[-1]


# -- Lambda functions: what one invocation can take ------------------------------------------------


@dataclass
class Invocation:
    calls: list[tuple[str, str]] = field(default_factory=list)
    configs: dict[str, botocore.config.Config] = field(default_factory=dict)
    """service -> the Config the handler made its client with (absent: none, botocore's defaults)."""


def invoke(handler: str, environment: Mapping[str, str], event: dict, responder: Callable[[str, str, dict], dict]) -> Invocation:
    """Run the real handler; every AWS call is answered by `responder` and recorded with its client's config."""
    made = Invocation()
    real_client = boto3.client

    def client(service: str, *args: Any, config: botocore.config.Config | None = None, **kwargs: Any):
        if config is not None:
            made.configs[service] = config
        created = real_client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing", config=config)

        def keep(params, context, **_):
            context["api_params"] = dict(params)

        def answer(model, context, **_):
            made.calls.append((service, model.name))
            return (_Http(), responder(service, model.name, context["api_params"]))

        created.meta.events.register("before-parameter-build", keep)
        created.meta.events.register("before-call", answer)
        return created

    module_name, name = handler.rsplit(".", 1)
    module_name = module_name if module_name.startswith("functions.") else f"functions.{module_name}"
    module = __import__(module_name, fromlist=[name])
    with mock.patch.dict(os.environ, dict(environment)), mock.patch("boto3.client", client):
        getattr(module, name)(event, None)
    return made


class _Http:
    status_code = 200
    headers: dict = {}
    content = b""


def call_bound_seconds(config: botocore.config.Config | None) -> float:
    """The longest one call can take with a client's config: every attempt to its connect and read timeouts,
    and botocore's standard backoff between attempts (at most min(2^(n-1), 20) s, plus up to 5 s when AWS asks for
    a later retry: botocore/retries/standard.py ExponentialBackoff)."""
    probe = boto3.client("sts", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing", config=config)
    settings = probe.meta.config
    retries = settings.retries or {}
    assert retries.get("mode", "standard") == "standard", f"retry mode {retries.get('mode')!r}: only botocore's standard mode is bounded here"
    attempts = retries.get("total_max_attempts") or (retries["max_attempts"] + 1 if "max_attempts" in retries else 3)
    backoff = sum(min(2 ** (n - 1), 20) + 5 for n in range(1, attempts))
    return attempts * (settings.connect_timeout + settings.read_timeout) + backoff


def invocation_worst_seconds(run: Invocation) -> float:
    return sum(call_bound_seconds(run.configs.get(service)) for service, _ in run.calls)


# -- alarms -----------------------------------------------------------------------------------------


def detection_minutes(result: StackResult, alarm_name: str) -> float:
    """How long the named alarm needs, at least, to enter ALARM after its metric turns bad: the longest evaluation
    window among its own periods or, for a composite alarm, its children's."""
    metric = {a.inputs["name"]: a.inputs for a in result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    composite = {a.inputs["alarmName"]: a.inputs for a in result.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")}
    if alarm_name in composite:
        children = re.findall(r'ALARM\("([^"]+)"\)', composite[alarm_name]["alarmRule"])
        return max(detection_minutes(result, child) for child in children)
    alarm = metric[alarm_name]
    period = alarm.get("period") or max(q["metric"]["period"] for q in alarm.get("metricQueries", []) if q.get("metric"))
    return alarm["evaluationPeriods"] * period / 60


def yaml_buildspec(project: Mapping[str, Any]) -> str:
    return project["source"]["buildspec"]


def buildspec_commands(project: Mapping[str, Any]) -> str:
    spec = yaml.safe_load(yaml_buildspec(project))
    return "\n".join(c for phase in spec["phases"].values() for c in phase.get("commands", []))


def smoke_hook_seconds(environment: Mapping[str, str], timeout: float) -> tuple[float, float]:
    """(one attempt's requests, the hook's longest run): MAX_ATTEMPTS invocations of at most the init limit and the
    function's timeout each, with RETRY_DELAY_SECONDS between them."""
    paths = 1 + len(json.loads(environment.get("SMOKE_PATHS", "[]")))
    attempt = paths * float(environment["REQUEST_TIMEOUT_SECONDS"])
    attempts = int(environment["MAX_ATTEMPTS"])
    total = attempts * (LAMBDA_INIT_LIMIT_SECONDS + timeout) + (attempts - 1) * int(environment["RETRY_DELAY_SECONDS"])
    return attempt, total


def ceil_minutes(seconds: float) -> int:
    return math.ceil(seconds / 60)
