"""DORA's five delivery metrics from the deployment records and the pipeline's executions: a pure function.

Inputs (`compute`): the deployment records (functions/deployment_record.py: one per deployment, either target,
in any order), the pipeline's executions (CodePipeline ListPipelineExecutions), the commits' times (the source
action's `AuthorDate` output variable, from ListActionExecutions; on a promoting stack, the upstream's), and a
window [since, until). docs/dora.md says where each comes from; the definitions, each a rule below:

- A record belongs to the execution that was running when the record's deployment finished and whose commit it
  deployed (the latest-started one when several qualify; an execution of unknown commit qualifies by time).
- A *restore* is a deployment made by a stage-rollback execution (executionType ROLLBACK, automatic or manual):
  it puts back what ran before and is not a change.
- A *change* is every other deployment. A change *failed* when its record's outcome is not SUCCEEDED, when its
  execution ended Failed after the record (the production bake time, a later action or the Release stage: the
  ECS record is written before the bake), or when the next deployment is a restore (the stage was rolled back).
- Deployment frequency: changes that did not fail, per day of the window.
- Lead time for changes: from the commit's time to the end of the first change that put the commit into
  production without failing (a revert, which deploys a commit that ran before, adds none).
- Change failure rate: failed changes / changes.
- Failed-deployment recovery time: from a failed change's start to the moment production ran a working
  version again: its own end when the target restored the previous version itself (ROLLED_BACK), else the end
  of the next deployment that did not fail (a restore, a revert or a fix). None yet: counted as unrecovered.
- Rework rate: rework deployments / all deployments. Rework is a restore ("rollback"), a change that deploys a
  commit which ran before but not last ("revert": tools.revert or a re-run of an old commit), or a change that
  starts within `rework_hours` after a failed deployment ended ("fix"). The records carry no intent (no commit
  message), so these three are what the facts can show: a redeployed old commit is a revert by construction,
  and a change right after a failure is, most of the time, its fix.

Deployments count in the window when they finished in [since, until); the look-ups (earlier commits, the next
deployment, a restore) use every record given, so the caller passes some history before and after the window.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.deployment_record import RECORD_TYPE, SUCCEEDED, parse_timestamp

ROLLED_BACK = "ROLLED_BACK"
FAILED_EXECUTION = "Failed"
DEFAULT_REWORK_HOURS = 24
# DORA's lead-time answer options (State of DevOps survey): upper bounds in hours, and their labels.
LEAD_TIME_BANDS: tuple[tuple[float, str], ...] = (
    (1, "less than one hour"),
    (24, "one hour to one day"),
    (24 * 7, "one day to one week"),
    (24 * 30, "one week to one month"),
    (24 * 182, "one month to six months"),
    (math.inf, "more than six months"),
)


@dataclass(frozen=True)
class Execution:
    """A pipeline execution (ListPipelineExecutions' summary)."""

    id: str
    status: str
    """PipelineExecutionStatus: InProgress, Succeeded, Failed, Stopped, ..."""
    started: datetime
    updated: datetime
    """lastUpdateTime: the execution ended (or was last seen) then."""
    rollback: bool = False
    """executionType ROLLBACK: a stage rollback (trigger AutomatedRollback or ManualRollback)."""
    commit: str | None = None
    """The commit it deployed (its source revision, or a promoting stack's Check output). None: unknown."""


@dataclass(frozen=True)
class Deployment:
    """One record, classified."""

    commit: str
    started: datetime
    finished: datetime
    outcome: str
    deployment: str
    execution: str | None
    restore: bool
    failure: str | None
    """Why the deployment counts as failed; None when it did not fail."""
    rework: str | None
    """'rollback', 'revert' or 'fix'; None when it is not rework."""
    first: bool
    """The change that first put its commit into production (it did not fail; no earlier deployment that did
    not fail ran the commit): the one lead time is measured on."""
    lead_time_seconds: float | None
    """Set on the first deployment of a commit whose time is known."""


@dataclass(frozen=True)
class Durations:
    count: int
    median_seconds: float | None
    p90_seconds: float | None
    """Nearest rank: the smallest value that at least 90 % of the values do not exceed."""
    min_seconds: float | None
    max_seconds: float | None


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    deployments: tuple[Deployment, ...]
    """The window's deployments, oldest first."""
    ignored: int
    """Records given that are not well-formed deployment records."""
    successful_changes: int
    per_day: float
    lead_time: Durations
    lead_time_bands: dict[str, int]
    lead_time_unknown: int
    """Changes that first deployed a commit whose time is not known."""
    changes: int
    failed_changes: int
    change_failure_rate: float | None
    recovery: Durations
    unrecovered: int
    rework: int
    rework_rate: float | None


def _same_commit(a: str | None, b: str | None) -> bool:
    """Commits match when one is a prefix of the other (a promoting stack records the upstream's short commit)."""
    return a is None or b is None or a.startswith(b) or b.startswith(a)


def durations(values: Sequence[float]) -> Durations:
    ordered = sorted(values)
    if not ordered:
        return Durations(0, None, None, None, None)
    p90 = ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]
    return Durations(len(ordered), float(statistics.median(ordered)), p90, ordered[0], ordered[-1])


def _parse(records: Iterable[Mapping]) -> tuple[list[dict], int]:
    """Well-formed records, oldest first by end (then start, then id), each once; and how many were ignored."""
    kept: dict[tuple[str, str], dict] = {}
    ignored = 0
    for rec in records:
        try:
            if rec.get("recordType") != RECORD_TYPE or not isinstance(rec.get("commit"), str) or not rec.get("deployment"):
                raise ValueError(rec)
            row = {
                "commit": rec["commit"],
                "started": parse_timestamp(rec["startedAt"]),
                "finished": parse_timestamp(rec["finishedAt"]),
                "outcome": rec["outcome"],
                "deployment": str(rec["deployment"]),
            }
            if row["started"].tzinfo is None or row["finished"].tzinfo is None:
                raise ValueError(rec)
        except (ValueError, KeyError, TypeError, AttributeError):
            ignored += 1
            continue
        kept[(row["deployment"], rec["finishedAt"])] = row
    return sorted(kept.values(), key=lambda r: (r["finished"], r["started"], r["deployment"])), ignored


def _execution_of(row: dict, executions: Sequence[Execution]) -> Execution | None:
    candidates = [e for e in executions if e.started <= row["finished"] <= e.updated and _same_commit(e.commit, row["commit"])]
    return max(candidates, key=lambda e: (e.started, e.id)) if candidates else None


def _commit_time(commit: str, commit_times: Mapping[str, datetime]) -> datetime | None:
    for known, moment in sorted(commit_times.items()):
        if _same_commit(known, commit):
            return moment
    return None


def compute(
    records: Iterable[Mapping],
    executions: Sequence[Execution],
    commit_times: Mapping[str, datetime],
    since: datetime,
    until: datetime,
    rework_hours: float = DEFAULT_REWORK_HOURS,
) -> Report:
    """The five metrics over [since, until) (aware datetimes); see the module docstring for every rule."""
    if since.tzinfo is None or until.tzinfo is None or until <= since:
        raise ValueError(f"window [{since}, {until}) is not allowed; pass time-zone-aware datetimes with since before until")
    rows, ignored = _parse(records)
    owners = [_execution_of(row, executions) for row in rows]
    restores = [bool(e and e.rollback) for e in owners]
    failures: list[str | None] = []
    for i, (row, owner) in enumerate(zip(rows, owners, strict=True)):
        if row["outcome"] != SUCCEEDED:
            failures.append(f"outcome {row['outcome']}")
        elif owner is not None and owner.status == FAILED_EXECUTION:
            failures.append(f"pipeline execution {owner.id} failed after the deploy step recorded success")
        elif not restores[i] and i + 1 < len(rows) and restores[i + 1]:
            failures.append(f"the stage was rolled back (execution {owners[i + 1].id})")  # type: ignore[union-attr]
        else:
            failures.append(None)

    deployments: list[Deployment] = []
    for i, (row, owner) in enumerate(zip(rows, owners, strict=True)):
        earlier = rows[:i]
        ran_before = any(r["outcome"] == SUCCEEDED and failures[j] is None and _same_commit(r["commit"], row["commit"]) for j, r in enumerate(earlier))
        last = next((r for j, r in reversed(list(enumerate(earlier))) if r["outcome"] == SUCCEEDED and failures[j] is None), None)
        rework: str | None = None
        if restores[i]:
            rework = "rollback"
        elif ran_before and last is not None and not _same_commit(last["commit"], row["commit"]):
            rework = "revert"
        elif any(failures[j] is not None and timedelta(0) <= row["started"] - r["finished"] <= timedelta(hours=rework_hours) for j, r in enumerate(earlier)):
            rework = "fix"
        first = not restores[i] and failures[i] is None and not ran_before
        lead: float | None = None
        if first:
            moment = _commit_time(row["commit"], commit_times)
            lead = (row["finished"] - moment).total_seconds() if moment is not None else None
        deployments.append(
            Deployment(
                commit=row["commit"],
                started=row["started"],
                finished=row["finished"],
                outcome=row["outcome"],
                deployment=row["deployment"],
                execution=owner.id if owner else None,
                restore=restores[i],
                failure=failures[i],
                rework=rework,
                first=first,
                lead_time_seconds=lead,
            )
        )

    def restored_at(i: int) -> datetime | None:
        if deployments[i].outcome == ROLLED_BACK:
            return deployments[i].finished
        return next((d.finished for d in deployments[i + 1 :] if d.failure is None), None)

    in_window = [i for i, d in enumerate(deployments) if since <= d.finished < until]
    window = [deployments[i] for i in in_window]
    changes = [d for d in window if not d.restore]
    failed = [i for i in in_window if not deployments[i].restore and deployments[i].failure is not None]
    recoveries = [(at - deployments[i].started).total_seconds() for i in failed if (at := restored_at(i)) is not None]
    firsts = [d for d in changes if d.first]
    leads = [d.lead_time_seconds for d in firsts if d.lead_time_seconds is not None]
    successes = sum(1 for d in changes if d.failure is None)
    days = (until - since).total_seconds() / 86400
    reworked = sum(1 for d in window if d.rework)
    return Report(
        since=since,
        until=until,
        deployments=tuple(window),
        ignored=ignored,
        successful_changes=successes,
        per_day=successes / days,
        lead_time=durations(leads),
        lead_time_bands=bands(leads),
        lead_time_unknown=len(firsts) - len(leads),
        changes=len(changes),
        failed_changes=len(failed),
        change_failure_rate=len(failed) / len(changes) if changes else None,
        recovery=durations(recoveries),
        unrecovered=len(failed) - len(recoveries),
        rework=reworked,
        rework_rate=reworked / len(window) if window else None,
    )


def bands(seconds: Iterable[float]) -> dict[str, int]:
    """How many lead times fall in each of DORA's bands (a value on a bound belongs to the upper band)."""
    counts = {label: 0 for _, label in LEAD_TIME_BANDS}
    for value in seconds:
        counts[next(label for bound, label in LEAD_TIME_BANDS if value < bound * 3600)] += 1
    return counts
