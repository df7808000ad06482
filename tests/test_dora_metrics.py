"""DORA metrics as a pure function of the deployment records, the pipeline's executions and the commits' times:
fixture record sets with answers computed by hand (in the comments)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from functions import deployment_record as records
from tools.dora_metrics import Execution, bands, compute, durations

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, 00:00 UTC
WEEK = (T0, T0 + timedelta(days=7))
A, B, C = "a" * 40, "b" * 40, "c" * 40
DIGEST = "sha256:" + "d" * 64


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def rec(commit: str, start: datetime, minutes: int = 10, outcome: str = records.SUCCEEDED, target: str = "ecs") -> dict:
    """A record as the deploy steps write it (functions/deployment_record.py), so the fixtures keep its contract."""
    return records.record(
        target=target,
        service="container-cicd-dev-app",
        commit=commit,
        image=f"repo@{DIGEST}",
        digest=DIGEST,
        strategy="rolling",
        deployment=f"{commit[:7]}-{start.isoformat()}",
        started_at=start,
        finished_at=start + timedelta(minutes=minutes),
        outcome=outcome,
        reason=None if outcome == records.SUCCEEDED else f"the deployment was {outcome}",
    )


def execution(id_: str, commit: str | None, start: datetime, hours: float = 2, status: str = "Succeeded", rollback: bool = False) -> Execution:
    return Execution(id=id_, status=status, started=start, updated=start + timedelta(hours=hours), rollback=rollback, commit=commit)


def test_no_deployments():
    report = compute([], [], {}, *WEEK)
    assert (report.successful_changes, report.per_day, report.changes, report.failed_changes) == (0, 0.0, 0, 0)
    assert report.change_failure_rate is None and report.rework_rate is None
    assert report.lead_time == durations([]) and report.recovery == durations([])
    assert (report.lead_time_unknown, report.unrecovered, report.rework, report.deployments) == (0, 0, 0, ())


def test_only_failures():
    # Day 1 10:00-10:10 FAILED; day 2 09:00-09:10 ROLLED_BACK, which starts 22 h 50 min after the first failure
    # ended (within 24 h: a fix); day 3 12:00-12:10 STOPPED, 26 h 50 min after the second (not a fix).
    given = [rec(A, at(1, 10), outcome="FAILED"), rec(B, at(2, 9), outcome="ROLLED_BACK"), rec(C, at(3, 12), outcome="STOPPED")]
    report = compute(given, [], {}, *WEEK)
    assert (report.changes, report.failed_changes, report.change_failure_rate) == (3, 3, 1.0)
    assert (report.successful_changes, report.per_day) == (0, 0.0)
    # Only the ROLLED_BACK one recovered: the target restored the previous version at its own end (10 min).
    assert report.recovery == durations([600.0]) and report.unrecovered == 2
    assert [d.rework for d in report.deployments] == [None, "fix", None] and report.rework_rate == pytest.approx(1 / 3)
    assert report.lead_time.count == 0 and report.lead_time_unknown == 0
    assert [d.failure for d in report.deployments] == ["outcome FAILED", "outcome ROLLED_BACK", "outcome STOPPED"]


def test_a_revert_is_rework_and_adds_no_lead_time():
    # A (committed day 1 08:00) deployed day 1 10:00-10:10: lead 2 h 10 min = 7800 s. B (committed day 2 09:00)
    # deployed day 2 10:00-10:10: 1 h 10 min = 4200 s. Day 3: tools.revert deploys A again (a commit that ran, not
    # last): rework "revert", no lead time. Median (7800 + 4200) / 2 = 6000; p90 of two values is the larger.
    given = [rec(A, at(1, 10)), rec(B, at(2, 10)), rec(A, at(3, 10))]
    runs = [execution("e1", A, at(1, 9)), execution("e2", B, at(2, 9, 30)), execution("e3", A, at(3, 9, 50))]
    report = compute(given, runs, {A: at(1, 8), B: at(2, 9)}, *WEEK)
    assert [d.rework for d in report.deployments] == [None, None, "revert"]
    assert [d.lead_time_seconds for d in report.deployments] == [7800.0, 4200.0, None]
    assert [d.execution for d in report.deployments] == ["e1", "e2", "e3"]
    assert report.lead_time == durations([7800.0, 4200.0])
    assert (report.lead_time.median_seconds, report.lead_time.p90_seconds) == (6000.0, 7800.0)
    assert report.lead_time_bands["one hour to one day"] == 2 and sum(report.lead_time_bands.values()) == 2
    assert (report.successful_changes, report.changes, report.failed_changes, report.change_failure_rate) == (3, 3, 0, 0.0)
    assert report.per_day == pytest.approx(3 / 7)
    assert (report.rework, report.rework_rate) == (1, pytest.approx(1 / 3))


def test_redeploying_the_commit_that_runs_is_not_a_revert():
    report = compute([rec(A, at(1, 10)), rec(A, at(2, 10))], [], {A: at(1, 8)}, *WEEK)
    assert [d.rework for d in report.deployments] == [None, None]
    assert [d.first for d in report.deployments] == [True, False]


def test_a_promotion_two_days_after_the_build_counts_from_the_upstreams_commit():
    # The promoting stack records the upstream's short commit; the upstream's source action gave the full commit
    # and its time (day 1 08:00). Promoted on day 3 10:00-10:10: 2 days 2 h 10 min = 180600 s.
    short = A[:7]
    report = compute([rec(short, at(3, 10), target="eks")], [], {A: at(1, 8)}, *WEEK)
    assert report.lead_time == durations([180600.0])
    assert report.lead_time_bands["one day to one week"] == 1


def test_records_out_of_order_give_the_same_answers():
    # A ok day 1; B FAILED day 2 10:00-10:10; C ok day 2 12:00-12:10, 1 h 50 min after B ended: a fix, and the
    # restore of B: recovery from B's start (10:00) to C's end (12:10) = 7800 s.
    given = [rec(A, at(1, 10)), rec(B, at(2, 10), outcome="FAILED"), rec(C, at(2, 12))]
    expected = compute(given, [], {}, *WEEK)
    assert expected.recovery == durations([7800.0]) and expected.unrecovered == 0
    assert [d.rework for d in expected.deployments] == [None, None, "fix"]
    assert (expected.failed_changes, expected.change_failure_rate) == (1, pytest.approx(1 / 3))
    for seed in range(5):
        shuffled = list(reversed(given)) if seed == 0 else random.Random(seed).sample(given, len(given))
        assert compute(shuffled, [], {}, *WEEK) == expected


def test_a_bake_failure_is_the_executions_result_not_the_records():
    # The ECS record of B says SUCCEEDED (written before the bake); its execution then failed and the stage rolled
    # back: execution r1 (ROLLBACK) re-deployed A at day 2 10:40-10:50. B is a failed change; A's restore is
    # rework, not a change; recovery from B's start (10:00) to the restore's end (10:50) = 3000 s.
    given = [rec(A, at(1, 10)), rec(B, at(2, 10)), rec(A, at(2, 10, 40))]
    runs = [execution("e1", A, at(1, 9)), execution("e2", B, at(2, 9), hours=1.5, status="Failed"), execution("r1", A, at(2, 10, 35), rollback=True)]
    report = compute(given, runs, {A: at(1, 8), B: at(2, 8)}, *WEEK)
    assert [d.execution for d in report.deployments] == ["e1", "e2", "r1"]
    assert [d.restore for d in report.deployments] == [False, False, True]
    assert report.deployments[1].failure == "pipeline execution e2 failed after the deploy step recorded success"
    assert (report.changes, report.failed_changes, report.change_failure_rate, report.successful_changes) == (2, 1, 0.5, 1)
    assert report.recovery == durations([3000.0])
    assert [d.rework for d in report.deployments] == [None, None, "rollback"]
    assert report.lead_time == durations([7800.0])  # B never delivered: no lead time


def test_a_rollback_execution_after_a_green_record_marks_it_failed_without_its_own_execution():
    given = [rec(A, at(1, 10)), rec(B, at(2, 10)), rec(A, at(2, 10, 40))]
    runs = [execution("r1", A, at(2, 10, 35), rollback=True)]
    report = compute(given, runs, {}, *WEEK)
    assert report.deployments[1].failure == "the stage was rolled back (execution r1)"
    assert report.failed_changes == 1


def test_the_commit_picks_the_execution_among_overlapping_ones():
    # e2 (B) builds while e1 (A) deploys: both run at A's end; A's record belongs to e1.
    runs = [execution("e1", A, at(1, 9), hours=2), execution("e2", B, at(1, 9, 30), hours=2, status="Failed")]
    report = compute([rec(A, at(1, 10))], runs, {}, *WEEK)
    assert report.deployments[0].execution == "e1" and report.deployments[0].failure is None


def test_window_edges():
    since, until = WEEK
    # Ends exactly at `since`: in. Ends exactly at `until`: out (the next window's). A failure before the window
    # makes the first deployment in it a fix, but counts in no rate of this window.
    before = rec(A, since - timedelta(hours=2), outcome="FAILED")
    on_start = rec(B, since - timedelta(minutes=10))
    on_end = rec(C, until - timedelta(minutes=10))
    report = compute([on_end, on_start, before], [], {}, since, until)
    assert [d.commit for d in report.deployments] == [B]
    assert (report.changes, report.failed_changes, report.rework) == (1, 0, 1)
    assert report.deployments[0].rework == "fix"


def test_a_failure_in_the_window_recovers_after_it():
    since, until = WEEK
    failed = rec(A, until - timedelta(hours=1), outcome="FAILED")  # 23:00-23:10 on the last day
    fixed = rec(B, until + timedelta(hours=1))  # 01:00-01:10 the next day: recovery 2 h 10 min
    report = compute([failed, fixed], [], {}, since, until)
    assert report.recovery == durations([7800.0]) and report.unrecovered == 0
    assert [d.commit for d in report.deployments] == [A]


def test_malformed_records_are_counted_and_ignored():
    good = rec(A, at(1, 10))
    report = compute([good, {"recordType": "deployment"}, {"recordType": "other"}, dict(good)], [], {}, *WEEK)
    assert report.ignored == 2 and len(report.deployments) == 1  # the duplicate is one deployment


def test_a_backwards_window_is_refused():
    with pytest.raises(ValueError, match=r"window .* is not allowed; pass time-zone-aware datetimes with since before until"):
        compute([], [], {}, WEEK[1], WEEK[0])


def test_lead_time_bands_put_a_bound_in_the_upper_band():
    assert bands([3599.0, 3600.0, 86400.0 * 200]) == {
        "less than one hour": 1,
        "one hour to one day": 1,
        "one day to one week": 0,
        "one week to one month": 0,
        "one month to six months": 0,
        "more than six months": 1,
    }
