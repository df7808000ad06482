"""The canary judge (functions/canary_judge.py) on synthetic series with known answers."""

from __future__ import annotations

import pytest

from functions.canary_judge import Metric, NotEnoughTraffic, Rules, Series, Verdict, judge, rules_text

RULES = Rules(
    metrics=(Metric.ERRORS, Metric.LATENCY),
    tolerance_percent=50,
    error_floor_percent=0.5,
    latency_floor_ms=100,
    min_requests=50,
    percentile="p99",
    not_enough_traffic=NotEnoughTraffic.CONTINUE,
)


def steady(minutes: int, requests: float, error_percent: float, latency_s: float) -> Series:
    return Series([requests] * minutes, [requests * error_percent / 100] * minutes, [latency_s] * minutes)


def test_equal_revisions_pass():
    result = judge(steady(10, 100, 0.1, 0.2), steady(10, 900, 0.1, 0.2), RULES)
    assert result.verdict is Verdict.PASS and not result.rolls_back
    assert result.reason == (
        "5xx rate 0.10 % against the old revision's 0.10 % (limit 0.50 %); p99 latency 200 ms against the old revision's 200 ms (limit 300 ms) "
        "(over 10 minute(s), 1000 requests to the new revision and 9000 to the old)"
    )


def test_a_canary_clearly_worse_fails_although_no_fixed_threshold_would_fire():
    """0.1 % -> 0.9 %: far below a 5 % alarm, nine times the old revision's rate."""
    result = judge(steady(10, 100, 0.9, 0.2), steady(10, 900, 0.1, 0.2), RULES)
    assert result.verdict is Verdict.FAIL and result.rolls_back
    assert result.reason == (
        "the new revision is worse: 5xx rate 0.90 % against the old revision's 0.10 % (limit 0.50 %) (over 10 minute(s), 1000 requests to the new revision and 9000 to the old)"
    )


def test_a_canary_worse_only_at_p99_fails_on_latency_alone():
    result = judge(steady(10, 100, 0.1, 0.4), steady(10, 900, 0.1, 0.2), RULES)
    assert result.verdict is Verdict.FAIL
    assert result.reason.startswith("the new revision is worse: p99 latency 400 ms against the old revision's 200 ms (limit 300 ms) (")
    # Latency left out of the metric set: the same series pass.
    assert judge(steady(10, 100, 0.1, 0.4), steady(10, 900, 0.1, 0.2), Rules(**{**RULES.__dict__, "metrics": (Metric.ERRORS,)})).verdict is Verdict.PASS


def test_both_bad_from_a_shared_outage_passes():
    """A downstream outage: both revisions answer 30 % 5xx and slowly; the canary is not the cause."""
    result = judge(steady(10, 100, 30, 2.0), steady(10, 900, 30, 2.0), RULES)
    assert result.verdict is Verdict.PASS
    assert "5xx rate 30.00 % against the old revision's 30.00 % (limit 45.00 %)" in result.reason


def test_below_the_floor_a_relative_increase_passes():
    """0.1 % -> 0.4 %: four times worse, but under the 0.5 % floor; 20 ms -> 60 ms: under the 100 ms floor."""
    assert judge(steady(10, 100, 0.4, 0.06), steady(10, 900, 0.1, 0.02), RULES).verdict is Verdict.PASS


@pytest.mark.parametrize(("setting", "rolls_back"), [(NotEnoughTraffic.CONTINUE, False), (NotEnoughTraffic.ROLLBACK, True)])
def test_too_little_traffic_is_not_judged_and_the_setting_decides(setting, rolls_back):
    rules = Rules(**{**RULES.__dict__, "not_enough_traffic": setting})
    result = judge(steady(10, 4, 50, 3.0), steady(10, 900, 0.1, 0.2), rules)
    assert result.verdict is Verdict.NOT_ENOUGH_TRAFFIC
    assert result.rolls_back is rolls_back
    assert result.reason == "not enough traffic: over the 10 minute(s) both revisions served, the new revision served 40 and the old 9000 requests; each needs at least 50"


def test_missing_data_points_leave_their_minute_out():
    """A minute without a request count on either side is not compared; a missing 5xx point is 0 errors; a missing
    latency point leaves the minute out of the latency mean only."""
    canary = Series([100, None, 100, 100], [1, 50, None, 1], [0.2, 9.0, 0.2, None])
    baseline = Series([900, 900, None, 900], [9, 9, 9, 9], [0.2, 0.2, 9.0, 0.2])
    result = judge(canary, baseline, RULES)
    assert result.verdict is Verdict.PASS
    assert result.reason == (
        "5xx rate 1.00 % against the old revision's 1.00 % (limit 1.50 %); p99 latency 200 ms against the old revision's 200 ms (limit 300 ms) "
        "(over 2 minute(s), 200 requests to the new revision and 1800 to the old)"
    )


def test_latency_is_weighted_by_each_revisions_requests():
    canary = Series([10, 90], [0, 0], [1.0, 0.1])  # (10 x 1000 + 90 x 100) / 100 = 190 ms
    baseline = Series([900, 900], [0, 0], [0.1, 0.1])
    assert "p99 latency 190 ms against the old revision's 100 ms (limit 150 ms)" in judge(canary, baseline, RULES).reason


def test_after_the_last_shift_the_baseline_serves_nothing_and_only_shared_minutes_count():
    """The final bake: the old revision has no traffic, so its minutes are not compared (not zero against the canary)."""
    canary = Series([100] * 5 + [1000] * 5, [0.1] * 5 + [0] * 5, [0.2] * 10)
    baseline = Series([900] * 5 + [0] * 5, [0.9] * 5 + [None] * 5, [0.2] * 5 + [None] * 5)
    result = judge(canary, baseline, RULES)
    assert result.verdict is Verdict.PASS
    assert result.reason.endswith("(over 5 minute(s), 500 requests to the new revision and 4500 to the old)")
    # Once the baseline has served nothing in any minute, there is nothing to compare.
    assert judge(canary, Series([0] * 10, [None] * 10, [None] * 10), RULES).verdict is Verdict.NOT_ENOUGH_TRAFFIC


def test_a_canary_compared_with_itself_would_pass_what_the_baseline_fails():
    """The judge is asymmetric: the old revision worse than the new one (a fix) passes."""
    assert judge(steady(10, 100, 0.1, 0.2), steady(10, 900, 0.9, 0.4), RULES).verdict is Verdict.PASS


def test_series_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="the two series must cover the same minutes"):
        judge(steady(10, 1, 0, 0), steady(9, 1, 0, 0), RULES)


def test_the_rules_in_words():
    assert rules_text(RULES) == [
        "compared: the minutes in which both revisions served requests, each revision's own target group",
        "fails when the new revision's 5xx rate is more than 50 % worse than the old revision's and above 0.5 %",
        "fails when the new revision's p99 latency is more than 50 % worse than the old revision's and above 100 ms",
        "not enough traffic: fewer than 50 requests on either revision; at the last traffic shift the deployment continues",
    ]


def test_rules_round_trip_through_the_hooks_environment():
    assert Rules.from_json(RULES.to_json()) == RULES
    with pytest.raises(ValueError, match="canary rules: out of range"):
        Rules.from_json({**RULES.to_json(), "percentile": "p50"})
    with pytest.raises(ValueError, match="canary rules: KeyError"):
        Rules.from_json({})
