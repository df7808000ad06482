"""ECS deployment lifecycle hook: smoke-test the new service revision through the load balancer's test listener.

Amazon ECS's built-in blue/green, canary and linear deployments invoke a Lambda hook at the lifecycle stages
it is registered for (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html):

- Event: {"executionId", "lifecycleStage", "resourceArn" (the service deployment ARN), "executionDetails":
  {"serviceArn", "targetServiceRevisionArn", "testTrafficWeights", "productionTrafficWeights"}, and
  "hookDetails" when there are any}. At POST_TEST_TRAFFIC_SHIFT both weight maps arrive empty, so they
  prove nothing here and are not read.
- Response: {"hookStatus": "SUCCEEDED" | "FAILED" | "IN_PROGRESS"}. SUCCEEDED continues the deployment;
  FAILED rolls it back; so does an exception or a missing hookStatus. IN_PROGRESS makes ECS invoke the
  function again after `callBackDelay` seconds (30 when omitted); `hookDetails` returned with IN_PROGRESS is
  merged and passed back on the next invocation of the same hook in the same deployment, and only there.
- ECS re-invokes on IN_PROGRESS until the hook's `timeoutConfiguration.timeoutInMinutes` (default 1440,
  i.e. 24 hours; botocore's ECS model allows 1 to 20160), then takes `timeoutConfiguration.action`
  (default ROLLBACK) (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentLifecycleHookTimeoutConfiguration.html).

The stage: POST_TEST_TRAFFIC_SHIFT, "the test traffic shift is complete; the green service revision handles
100% of the test traffic" (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentLifecycleHook.html),
so a request to the test listener reaches the new revision and no production request does yet. Invoked at
any other stage this hook answers FAILED (a wiring mistake must not pass silently).

Behaviour. One attempt GETs the health path and then each smoke path, one at a time, against
TEST_BASE_URL. A path "answers well" when its status is 200 to 399. Redirects are never followed (a 3xx
is the answer; no other host is contacted) and proxy variables are ignored. The health path gates the
others: when it fails, the rest are not requested in that attempt. Each request has a hard deadline of
REQUEST_TIMEOUT_SECONDS for the whole exchange (connect, send, status and headers; the body is not read);
an attempt also stops before a request the Lambda function's remaining time could not cover. All paths
answer well -> SUCCEEDED. Otherwise (connection refused or reset, timeout, a bad status) -> IN_PROGRESS
with callBackDelay = RETRY_DELAY_SECONDS, until MAX_ATTEMPTS attempts have failed -> FAILED, with every
failure logged (path and status, or the error).

Attempts are counted in `hookDetails` (key `ATTEMPT_KEY`), which the contract above carries between
invocations: no table, no clock. The count is the bound the wiring relies on: components/deploy/ecs/
progressive.py sizes MAX_ATTEMPTS so that that many invocations, each as long as Lambda's init limit and the
function's timeout, with RETRY_DELAY_SECONDS between them, fit the hook's budget. pulumi-aws documents a
hook's `timeoutConfiguration` for PAUSE hooks only, so the wiring sets none; were the count lost, ECS's own
default (24 hours, then ROLLBACK) would be the next bound, and the pipeline's deploy action fails at its
timeout long before.

Environment:
    TEST_BASE_URL            required: http(s)://host[:port] of the test listener, no path.
    HEALTH_PATH              required: the container's health path, starting with "/".
    SMOKE_PATHS              JSON list of further paths (each starting with "/"), at most 20. Unset: [].
    REQUEST_TIMEOUT_SECONDS  0.1 to 60. Unset: 5.
    MAX_ATTEMPTS             1 to 100 attempts in all. Unset: 10.
    RETRY_DELAY_SECONDS      callBackDelay, 1 to 3600. Unset: 30 (ECS's own default).
A bad environment answers FAILED and logs every problem (the deployment rolls back; nothing is tested).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

STAGE = "POST_TEST_TRAFFIC_SHIFT"
ATTEMPT_KEY = "smokeTestAttempt"
SUCCEEDED, FAILED, IN_PROGRESS = "SUCCEEDED", "FAILED", "IN_PROGRESS"
# Lambda's maximum function timeout is 900 s (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
# one attempt must fit in one invocation.
LAMBDA_MAX_SECONDS = 900
# Kept free at the end of an invocation to log and answer.
SAFETY_SECONDS = 1.0
MAX_SMOKE_PATHS = 20
USER_AGENT = "container-cicd-smoke-test"
_PATH = re.compile(r"/[^\s#]*")

logger = logging.getLogger("ecs_smoke_test")
logger.setLevel(logging.INFO)


class LambdaContext(Protocol):
    """The part of Lambda's context object the hook reads."""

    def get_remaining_time_in_millis(self) -> int: ...


class ConfigError(ValueError):
    """The environment breaks the contract; the message names every problem."""


@dataclass(frozen=True)
class Config:
    base_url: str
    """TEST_BASE_URL without a trailing slash."""
    health_path: str
    """HEALTH_PATH: requested first in every attempt."""
    smoke_paths: tuple[str, ...]
    """SMOKE_PATHS, in order. Omitted (unset): none."""
    request_timeout: float
    """REQUEST_TIMEOUT_SECONDS: the deadline of one request. Omitted (unset): 5."""
    max_attempts: int
    """MAX_ATTEMPTS: failed attempts before FAILED. Omitted (unset): 10."""
    retry_delay: int
    """RETRY_DELAY_SECONDS: the callBackDelay answered with IN_PROGRESS. Omitted (unset): 30."""

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.health_path, *self.smoke_paths)


def WORST_CASE_SECONDS(attempts: int, delay: float, timeout: float, n_paths: int) -> float:
    """The longest the hook's requests and pauses can keep a deployment at POST_TEST_TRAFFIC_SHIFT, in seconds:
    attempts x n_paths x timeout (every request runs to its deadline) + (attempts - 1) x delay.

    `n_paths` counts the health path: 1 + len(SMOKE_PATHS). One invocation is WORST_CASE_SECONDS(1, 0, timeout,
    n_paths): size the Lambda timeout as that plus a few seconds for start-up. Not included: Lambda's start-up
    (its init phase, limited to 10 s) and ECS's own latency in re-invoking, for which ECS documents no bound.
    """
    if attempts < 1 or n_paths < 1 or timeout <= 0 or delay < 0:
        raise ValueError(f"WORST_CASE_SECONDS: attempts {attempts} and n_paths {n_paths} must be >= 1, timeout {timeout} > 0, delay {delay} >= 0")
    return attempts * n_paths * timeout + (attempts - 1) * delay


def load_config(env: Mapping[str, str]) -> Config:
    """The hook's settings from its environment; ConfigError listing every problem."""
    problems: list[str] = []
    base_url = _base_url(env.get("TEST_BASE_URL"), problems)
    health = env.get("HEALTH_PATH")
    if health is None:
        problems.append('HEALTH_PATH is not set; set it to the container\'s health path, e.g. "/health"')
    elif not _PATH.fullmatch(health):
        problems.append(f'HEALTH_PATH={health!r} is not allowed; use a path starting with "/" without spaces or "#", e.g. "/health"')
    smoke = _smoke_paths(env.get("SMOKE_PATHS"), problems)
    timeout = _number(env, "REQUEST_TIMEOUT_SECONDS", 5.0, 0.1, 60.0, problems, whole=False)
    attempts = _number(env, "MAX_ATTEMPTS", 10, 1, 100, problems, whole=True)
    delay = _number(env, "RETRY_DELAY_SECONDS", 30, 1, 3600, problems, whole=True)
    if not problems and (1 + len(smoke)) * timeout > LAMBDA_MAX_SECONDS - SAFETY_SECONDS:
        problems.append(
            f"REQUEST_TIMEOUT_SECONDS={timeout:g} x {1 + len(smoke)} paths is {(1 + len(smoke)) * timeout:g} s, more than one Lambda invocation "
            f"can run ({LAMBDA_MAX_SECONDS} s); lower the timeout or the number of SMOKE_PATHS"
        )
    if problems:
        raise ConfigError("ecs_smoke_test environment: " + "; ".join(problems))
    assert base_url is not None and health is not None
    return Config(base_url, health, smoke, float(timeout), int(attempts), int(delay))


def _base_url(raw: str | None, problems: list[str]) -> str | None:
    if raw is None:
        problems.append("TEST_BASE_URL is not set; set it to the test listener's URL, e.g. http://my-alb-123.us-east-1.elb.amazonaws.com:8080")
        return None
    parts = urllib.parse.urlsplit(raw)
    try:
        _ = parts.port  # raises ValueError on a port that is not a number or out of range
        port_ok = True
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.path not in ("", "/") or parts.query or parts.fragment or not port_ok:
        problems.append(
            f"TEST_BASE_URL={raw!r} is not allowed; use http:// or https://, a host and an optional port, "
            "without path, query or credentials, e.g. http://my-alb-123.us-east-1.elb.amazonaws.com:8080"
        )
        return None
    return raw.rstrip("/")


def _smoke_paths(raw: str | None, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not (isinstance(value, list) and len(value) <= MAX_SMOKE_PATHS and all(isinstance(p, str) and _PATH.fullmatch(p) for p in value)):
        problems.append(f'SMOKE_PATHS={raw!r} is not allowed; use a JSON list of at most {MAX_SMOKE_PATHS} paths starting with "/", e.g. ["/", "/api/items"], or []')
        return ()
    return tuple(value)


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, problems: list[str], *, whole: bool) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        problems.append(f"{name}={raw!r} is not allowed; use {kind} from {low:g} to {high:g} (unset: {default:g})")
        return default
    return value


@dataclass(frozen=True)
class Probe:
    path: str
    """The path requested (or not tried)."""
    status: int | None
    """The HTTP status answered; None when there was no answer."""
    error: str | None
    """Why there was no answer (or why the path was not tried); None when there was one."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status <= 399

    def describe(self) -> str:
        return f"{self.path} -> " + (f"status {self.status}" if self.status is not None else str(self.error))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer: following it could reach another host (or production)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _request(url: str, timeout: float) -> tuple[int | None, str | None]:
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": USER_AGENT})  # noqa: S310 - load_config allows http(s) only
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, None
    except urllib.error.HTTPError as error:  # a 3xx, 4xx or 5xx: an answer
        error.close()
        return error.code, None
    except urllib.error.URLError as error:
        return None, _error_text(error.reason, timeout)
    except (OSError, http.client.HTTPException) as error:
        return None, _error_text(error, timeout)


def _error_text(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, str):
        return reason
    return f"{type(reason).__name__}: {reason}"


def probe(base_url: str, path: str, timeout: float) -> Probe:
    """GET base_url + path with a hard deadline of `timeout` seconds for the whole exchange.

    urllib's timeout bounds each socket operation, not the exchange: a server that trickles its headers
    could hold it for much longer. The request runs in a daemon thread that is abandoned at the deadline."""
    box: list[tuple[int | None, str | None]] = []
    worker = threading.Thread(target=lambda: box.append(_request(base_url + path, timeout)), name="smoke-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    status, error = box[0] if box else (None, f"timed out after {timeout:g} s")
    return Probe(path, status, error)


def attempt(config: Config, seconds_left: float | None) -> list[Probe]:
    """One attempt: the health path, then (if it answered well) each smoke path; stops before a request
    that `seconds_left` (the invocation's remaining time; None: unbounded) could not cover."""
    deadline = None if seconds_left is None else time.monotonic() + seconds_left - SAFETY_SECONDS
    results: list[Probe] = []
    for index, path in enumerate(config.paths):
        if deadline is not None and time.monotonic() + config.request_timeout > deadline:
            results += [Probe(p, None, "not tried: the invocation's time ran out") for p in config.paths[index:]]
            break
        result = probe(config.base_url, path, config.request_timeout)
        results.append(result)
        if index == 0 and not result.ok:
            results += [Probe(p, None, "not tried: the health path failed") for p in config.paths[1:]]
            break
    return results


def _previous_attempts(event: Mapping) -> int:
    details = event.get("hookDetails") or {}
    count = details.get(ATTEMPT_KEY, 0) if isinstance(details, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"hookDetails.{ATTEMPT_KEY}={count!r} is not a count of attempts; ECS passes back what this hook returned")
    return count


def run(event: Mapping, env: Mapping[str, str], context: LambdaContext | None = None) -> dict:
    """The hook, given its environment; `context` is Lambda's (its remaining time bounds the attempt; None: unbounded)."""
    try:
        config = load_config(env)
        previous = _previous_attempts(event)
    except ValueError as problem:
        logger.error("smoke test FAILED before testing: %s", problem)
        return {"hookStatus": FAILED}
    stage = event.get("lifecycleStage")
    if stage != STAGE:
        logger.error("smoke test FAILED: invoked at lifecycle stage %r; register this hook at %s only (the stage where the test listener reaches the new revision)", stage, STAGE)
        return {"hookStatus": FAILED}
    number = previous + 1
    results = attempt(config, None if context is None else context.get_remaining_time_in_millis() / 1000)
    failures = [r for r in results if not r.ok]
    verdict = SUCCEEDED if not failures else FAILED if number >= config.max_attempts else IN_PROGRESS
    details = event.get("executionDetails") or {}
    logger.info(
        json.dumps(
            {
                "smokeTest": {
                    "verdict": verdict,
                    "attempt": number,
                    "maxAttempts": config.max_attempts,
                    "deployment": event.get("resourceArn"),
                    "targetServiceRevision": details.get("targetServiceRevisionArn"),
                    "results": [{"path": r.path, "status": r.status, "error": r.error} for r in results],
                }
            }
        )
    )
    if verdict == SUCCEEDED:
        return {"hookStatus": SUCCEEDED}
    summary = "; ".join(r.describe() for r in failures)
    if verdict == FAILED:
        logger.error("smoke test FAILED after %d attempts against %s: %s", number, config.base_url, summary)
        return {"hookStatus": FAILED}
    logger.warning("smoke test attempt %d of %d failed, retrying in %d s: %s", number, config.max_attempts, config.retry_delay, summary)
    return {"hookStatus": IN_PROGRESS, "callBackDelay": config.retry_delay, "hookDetails": {ATTEMPT_KEY: number}}


def handler(event: dict, context: LambdaContext) -> dict:
    """Lambda entry point (handler `functions.ecs_smoke_test.handler`)."""
    return run(event, os.environ, context)
