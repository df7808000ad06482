"""The canary judge's keys (canary and linear strategies): read, checked, and held as `CanaryJudgeSettings`.

The keys belong to the strategies that serve two revisions on the same production minutes (strategy.py's
STRATEGY_KEYS refuses them with any other strategy); their bounds are in the key table (keys.py).
"""

from __future__ import annotations

from components.settings.keys import KEYS
from components.settings.model import CanaryJudgeSettings
from components.settings.reading import _duplicates, _fail, _in_range, _Reader

METRICS = ("errors", "latency")


def _one_of(reader: _Reader, key: str) -> str:
    value = reader.get(key)
    allowed = KEYS[key].allowed_values
    if value not in allowed:
        raise _fail(key, value, f"allowed: {KEYS[key].allowed_text}", f"set {key} to {' or '.join(allowed)}")
    return value


def _metrics(reader: _Reader) -> tuple[str, ...]:
    metrics = list(reader.get("canaryMetrics"))
    for metric in metrics:
        if metric not in METRICS:
            raise _fail("canaryMetrics", metric, "allowed: 'errors' and 'latency'", "list errors, latency or both")
    if not metrics:
        raise _fail("canaryMetrics", metrics, "the canary judge compares at least one metric", "list errors, latency or both (the default)")
    if _duplicates(metrics):
        raise _fail("canaryMetrics", metrics, "each metric once", f"remove the repeated {_duplicates(metrics)[0]!r}")
    return tuple(m for m in METRICS if m in metrics)


def _canary_judge(reader: _Reader) -> CanaryJudgeSettings:
    return CanaryJudgeSettings(
        metrics=_metrics(reader),
        tolerance_percent=_in_range(reader, "canaryTolerancePercent"),
        error_floor_percent=float(_in_range(reader, "canaryErrorFloorPercent")),
        latency_floor_ms=_in_range(reader, "canaryLatencyFloorMs"),
        min_requests=_in_range(reader, "canaryMinRequests"),
        percentile=_one_of(reader, "canaryLatencyPercentile"),
        not_enough_traffic=_one_of(reader, "canaryNotEnoughTraffic"),
    )
