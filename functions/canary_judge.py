"""The canary judge: a pure function of two metric series (the new revision's and the old revision's, minute by
minute, over the same minutes) and the rules, answering PASS, FAIL (with the reason) or NOT_ENOUGH_TRAFFIC.

The lifecycle hook (functions/ecs_canary_hook.py) reads the series from CloudWatch and acts on the verdict; the
settings (components/settings/canary.py) hold the rules; the offline plan states them in words (`rules_text`).

The rules, per metric in `Rules.metrics`:

- Only minutes in which both revisions served requests are compared ("the same minutes"): a minute missing on
  either side, or in which one side served nothing (before the first shift, after the last), is left out.
- Not enough traffic: fewer than `min_requests` requests on either side over the compared minutes.
- errors: the 5xx rate (5xx responses / requests, in percent) over the compared minutes. A minute with requests
  but no 5xx data point counts 0 errors (the load balancer publishes a count metric only when it is non-zero).
- latency: the request-weighted mean of the per-minute percentile (p95 or p99) over the compared minutes in which
  both sides have a value (a percentile of percentiles is no percentile; weighting by requests keeps a quiet
  minute from counting as much as a busy one).
- The new revision FAILS a metric when its value is above max(baseline x (1 + tolerance), floor): worse than
  the old revision by more than the tolerated relative increase AND above the absolute floor. A shared outage
  (both revisions equally bad) passes: the old revision's own value raises the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Metric(StrEnum):
    ERRORS = "errors"
    LATENCY = "latency"


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_ENOUGH_TRAFFIC = "NOT_ENOUGH_TRAFFIC"


class NotEnoughTraffic(StrEnum):
    """What the deployment does when the judge cannot judge (canaryNotEnoughTraffic)."""

    CONTINUE = "continue"
    ROLLBACK = "rollback"


PERCENTILES = ("p95", "p99")


@dataclass(frozen=True)
class Rules:
    metrics: tuple[Metric, ...]
    """The metrics judged, in order (canaryMetrics)."""
    tolerance_percent: float
    """How much worse than the old revision the new one may be, relative: 50 = up to 1.5 times (canaryTolerancePercent)."""
    error_floor_percent: float
    """A 5xx rate at or below this never fails (canaryErrorFloorPercent)."""
    latency_floor_ms: float
    """A latency at or below this never fails (canaryLatencyFloorMs)."""
    min_requests: int
    """Requests each revision must have served over the compared minutes (canaryMinRequests)."""
    percentile: str
    """p95 or p99: the latency statistic (canaryLatencyPercentile)."""
    not_enough_traffic: NotEnoughTraffic
    """continue or rollback (canaryNotEnoughTraffic)."""

    def to_json(self) -> dict:
        return {
            "metrics": [m.value for m in self.metrics],
            "tolerancePercent": self.tolerance_percent,
            "errorFloorPercent": self.error_floor_percent,
            "latencyFloorMs": self.latency_floor_ms,
            "minRequests": self.min_requests,
            "percentile": self.percentile,
            "notEnoughTraffic": self.not_enough_traffic.value,
        }

    @staticmethod
    def from_json(raw: dict) -> Rules:
        """The rules as the hook's environment carries them; ValueError naming the bad field."""
        try:
            rules = Rules(
                metrics=tuple(Metric(m) for m in raw["metrics"]),
                tolerance_percent=float(raw["tolerancePercent"]),
                error_floor_percent=float(raw["errorFloorPercent"]),
                latency_floor_ms=float(raw["latencyFloorMs"]),
                min_requests=int(raw["minRequests"]),
                percentile=str(raw["percentile"]),
                not_enough_traffic=NotEnoughTraffic(raw["notEnoughTraffic"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"canary rules: {error!r} in {raw!r}") from error
        if not rules.metrics or rules.percentile not in PERCENTILES or rules.min_requests < 1 or rules.tolerance_percent < 0:
            raise ValueError(f"canary rules: out of range in {raw!r}")
        return rules


@dataclass(frozen=True)
class Series:
    """One revision's target-group metrics, one value per minute (None: no data point that minute)."""

    requests: Sequence[float | None]
    """RequestCount, Sum."""
    errors: Sequence[float | None]
    """HTTPCode_Target_5XX_Count, Sum."""
    latency: Sequence[float | None]
    """TargetResponseTime at the rules' percentile, in seconds."""


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str
    rolls_back: bool
    """FAIL, or NOT_ENOUGH_TRAFFIC when the rules say rollback."""


def judge(canary: Series, baseline: Series, rules: Rules) -> Judgement:
    """The verdict on the new revision (`canary`) against the old one (`baseline`) over the same minutes."""
    n = len(canary.requests)
    if any(len(s) != n for s in (canary.errors, canary.latency, baseline.requests, baseline.errors, baseline.latency)):
        raise ValueError("canary judge: the two series must cover the same minutes (equal lengths)")
    minutes = [i for i in range(n) if (canary.requests[i] or 0) > 0 and (baseline.requests[i] or 0) > 0]
    canary_n = sum(canary.requests[i] or 0 for i in minutes)
    baseline_n = sum(baseline.requests[i] or 0 for i in minutes)
    if canary_n < rules.min_requests or baseline_n < rules.min_requests:
        reason = (
            f"not enough traffic: over the {len(minutes)} minute(s) both revisions served, the new revision served {canary_n:g} and the old "
            f"{baseline_n:g} requests; each needs at least {rules.min_requests}"
        )
        return _not_enough(reason, rules)
    failures, notes = [], []
    if Metric.ERRORS in rules.metrics:
        canary_rate = 100 * sum(canary.errors[i] or 0 for i in minutes) / canary_n
        baseline_rate = 100 * sum(baseline.errors[i] or 0 for i in minutes) / baseline_n
        limit = _limit(baseline_rate, rules.tolerance_percent, rules.error_floor_percent)
        text = f"5xx rate {canary_rate:.2f} % against the old revision's {baseline_rate:.2f} % (limit {limit:.2f} %)"
        (failures if canary_rate > limit else notes).append(text)
    if Metric.LATENCY in rules.metrics:
        timed = [i for i in minutes if canary.latency[i] is not None and baseline.latency[i] is not None]
        if timed:
            canary_ms = 1000 * _weighted(canary, timed)
            baseline_ms = 1000 * _weighted(baseline, timed)
            limit = _limit(baseline_ms, rules.tolerance_percent, rules.latency_floor_ms)
            text = f"{rules.percentile} latency {canary_ms:.0f} ms against the old revision's {baseline_ms:.0f} ms (limit {limit:.0f} ms)"
            (failures if canary_ms > limit else notes).append(text)
        else:
            notes.append(f"no {rules.percentile} latency data point in a minute both revisions served")
    over = f"over {len(minutes)} minute(s), {canary_n:g} requests to the new revision and {baseline_n:g} to the old"
    if failures:
        return Judgement(Verdict.FAIL, f"the new revision is worse: {'; '.join(failures)} ({over})", True)
    return Judgement(Verdict.PASS, f"{'; '.join(notes)} ({over})", False)


def _limit(baseline: float, tolerance_percent: float, floor: float) -> float:
    return max(baseline * (1 + tolerance_percent / 100), floor)


def _weighted(series: Series, minutes: Sequence[int]) -> float:
    weights = [series.requests[i] or 0 for i in minutes]
    values = [series.latency[i] or 0.0 for i in minutes]
    return math.fsum(w * v for w, v in zip(weights, values, strict=True)) / math.fsum(weights)


def _not_enough(reason: str, rules: Rules) -> Judgement:
    return Judgement(Verdict.NOT_ENOUGH_TRAFFIC, reason, rules.not_enough_traffic is NotEnoughTraffic.ROLLBACK)


def rules_text(rules: Rules) -> list[str]:
    """The rules in words, one line each (the offline plan, docs)."""
    allowed = f"more than {rules.tolerance_percent:g} % worse than the old revision's"
    lines = ["compared: the minutes in which both revisions served requests, each revision's own target group"]
    if Metric.ERRORS in rules.metrics:
        lines.append(f"fails when the new revision's 5xx rate is {allowed} and above {rules.error_floor_percent:g} %")
    if Metric.LATENCY in rules.metrics:
        lines.append(f"fails when the new revision's {rules.percentile} latency is {allowed} and above {rules.latency_floor_ms:g} ms")
    action = "the deployment rolls back" if rules.not_enough_traffic is NotEnoughTraffic.ROLLBACK else "the deployment continues"
    lines.append(f"not enough traffic: fewer than {rules.min_requests} requests on either revision; at the last traffic shift {action}")
    return lines
