"""Print DORA's five delivery metrics of one stack, from its deployment records and its pipeline's history.

    venv/bin/python -m tools.dora --stack dev                # the last 30 days
    venv/bin/python -m tools.dora --stack prod --days 7      # a promoting stack: lead time from the upstream's commits
    venv/bin/python -m tools.dora --stack dev --json         # the same as one JSON document
    venv/bin/python -m tools.dora --stack dev --service api  # a stack with services: one service's metrics

It reads Pulumi.<stack>.yaml for the region and the service name and derives the names the program gives the
stack's resources. It reads, with your AWS credentials and nothing else: the deployment records (CloudWatch Logs
FilterLogEvents over every log group of both deploy targets' record writers, kept groups of an earlier
deployTarget included), the pipeline's executions (ListPipelineExecutions) and its action executions
(ListActionExecutions: the source action's CommitId and AuthorDate, the COMMIT_ID the Build or Check stage
exported). A promoting stack's commits were built by its upstream: their times come from the upstream
pipeline's source action. A stack with a `services` list deploys each service by its own pipeline and records
(project-stack-<service>): --service names the one to measure, and is required there (a promoting stack's
service: its commits come from the same-named upstream service); a stack without one runs one service, its
serviceName, and takes --service only as that name. It changes nothing. docs/dora.md defines each metric (tools/dora_metrics.py).

Exit codes: 0 printed; 64 usage error (arguments, stack file; checked before any AWS call); 1 an AWS error
(credentials, access, network), nothing printed but the error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from components.naming import physical_name
from functions.deployment_record import COMMIT_PATTERN, RECORD_TYPE
from tools.dora_metrics import DEFAULT_REWORK_HOURS, Durations, Execution, Report, compute
from tools.stack import ROOT, UsageError, add_service_argument, read_settings, service_settings, stack_target, tool_parser

EXIT_PRINTED, EXIT_AWS_ERROR, EXIT_USAGE = 0, 1, 64
DEFAULT_DAYS, MAX_DAYS = 30, 365
# Records and executions this long before the window are read too: a revert is told from a first deployment
# by an earlier record of its commit, and a fix by a failure shortly before it.
HISTORY_DAYS = 30
# ListActionExecutions answers at most 100 per page; this many pages bound the time the tool takes.
MAX_ACTION_PAGES = 50
RECORD_FILTER = f'{{ $.recordType = "{RECORD_TYPE}" }}'
# The API call -> the IAM action it is authorized as (Service Authorization Reference; each has the same name).
IAM_ACTIONS: dict[tuple[str, str], str] = {
    ("logs", "DescribeLogGroups"): "logs:DescribeLogGroups",
    ("logs", "FilterLogEvents"): "logs:FilterLogEvents",
    ("codepipeline", "ListPipelineExecutions"): "codepipeline:ListPipelineExecutions",
    ("codepipeline", "ListActionExecutions"): "codepipeline:ListActionExecutions",
}


@dataclass(frozen=True)
class Target:
    stack: str
    pipeline: str
    record_log_group_prefixes: tuple[str, ...]
    """Name prefixes of the record writers' log groups (CloudWatch Logs completes each with a unique suffix)."""
    region: str | None
    commits_pipeline: str
    """The pipeline whose source action names the commits and their times: this stack's, or its upstream's."""


def record_log_group_prefixes(name_prefix: str) -> tuple[str, ...]:
    """Both targets' record writers: the ECS verify function's group and the EKS deploy step's group."""
    return (f"/aws/lambda/{physical_name(name_prefix, 'verify', 64)}-", f"/aws/codebuild/{physical_name(name_prefix, 'deploy', 150)}-")


def read_target(stack: str, root: Path = ROOT, service: str | None = None) -> Target:
    """What to read for the stack's service (`service_settings`): its pipeline, its record writers' log groups, and
    the pipeline whose source action timed its commits (a promoting stack's: the same-named upstream service's)."""
    project, stack_settings, region = read_settings(stack, root)
    settings = service_settings(stack, stack_settings, service)
    own = stack_target(stack, settings.service_name, project, region)
    commits = own.pipeline
    upstream = settings.promotion.promote_from
    if upstream is not None:
        if "/" in upstream:
            raise UsageError(f"--stack: {stack} promotes from {upstream}, a stack of another project this tool cannot name; run it in that project for the commits")
        commits = stack_target(upstream, settings.service_name, project, region).pipeline
    return Target(stack, own.pipeline, record_log_group_prefixes(settings.prefix), region, commits)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def read_records(logs: Any, prefixes: Sequence[str], start: datetime, end: datetime) -> tuple[list[dict], list[str]]:
    """Every deployment record in the groups named by `prefixes` between start and end; and the groups read."""
    groups = [
        group["logGroupName"]
        for prefix in prefixes
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
        for group in page.get("logGroups", [])
    ]
    found: list[dict] = []
    for group in groups:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=_ms(start), endTime=_ms(end), filterPattern=RECORD_FILTER):
            for event in page.get("events", []):
                try:
                    value = json.loads(event.get("message", "").strip())
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    found.append(value)
    return found, groups


# A stage rollback is a new execution with executionType ROLLBACK (automatic on failure, or RollbackStage)
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html).
def read_executions(codepipeline: Any, pipeline: str, start: datetime) -> list[dict]:
    """Execution summaries started at or after `start` (the API lists the newest first)."""
    summaries: list[dict] = []
    for page in codepipeline.get_paginator("list_pipeline_executions").paginate(pipelineName=pipeline):
        for summary in page.get("pipelineExecutionSummaries", []):
            if summary["startTime"] < start:
                return summaries
            summaries.append(summary)
    return summaries


# The CodeCommit and the CodeStarSourceConnection source actions both export CommitId and AuthorDate (ISO 8601)
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html); ListActionExecutions returns
# each action execution's outputVariables, kept for up to a year
# (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListActionExecutions.html).
def read_action_outputs(codepipeline: Any, pipeline: str) -> tuple[dict[str, datetime], dict[str, str]]:
    """(commit -> its time, from the source action's CommitId and AuthorDate; execution id -> the COMMIT_ID its
    Build or Check stage exported), over the newest MAX_ACTION_PAGES pages of action executions."""
    times: dict[str, datetime] = {}
    commits: dict[str, str] = {}
    pages = codepipeline.get_paginator("list_action_executions").paginate(pipelineName=pipeline, PaginationConfig={"MaxItems": 100 * MAX_ACTION_PAGES, "PageSize": 100})
    for page in pages:
        for detail in page.get("actionExecutionDetails", []):
            variables = (detail.get("output") or {}).get("outputVariables") or {}
            if COMMIT_PATTERN.fullmatch(variables.get("CommitId", "")) and variables.get("AuthorDate"):
                try:
                    times[variables["CommitId"]] = datetime.fromisoformat(variables["AuthorDate"].replace("Z", "+00:00")).astimezone(UTC)
                except ValueError:
                    pass
            if COMMIT_PATTERN.fullmatch(variables.get("COMMIT_ID", "")):
                commits[detail["pipelineExecutionId"]] = variables["COMMIT_ID"]
    return times, commits


def executions_of(summaries: Sequence[dict], exported: dict[str, str], now: datetime) -> list[Execution]:
    """Summaries as the metrics' executions; the commit is what Build or Check exported, else the source revision."""
    found = []
    for s in summaries:
        revisions = [r.get("revisionId", "") for r in s.get("sourceRevisions", [])]
        commit = exported.get(s["pipelineExecutionId"]) or next((r for r in revisions if COMMIT_PATTERN.fullmatch(r)), None)
        updated = now if s["status"] in ("InProgress", "Stopping") else s.get("lastUpdateTime", s["startTime"])
        found.append(Execution(s["pipelineExecutionId"], s["status"], s["startTime"].astimezone(UTC), updated.astimezone(UTC), s.get("executionType") == "ROLLBACK", commit))
    return found


@dataclass(frozen=True)
class Inputs:
    log_groups: tuple[str, ...]
    records: int
    executions: int
    commit_times: int
    notes: tuple[str, ...]


def measure(session: Any, commits_session: Any, target: Target, now: datetime, days: int, rework_hours: float) -> tuple[Report, Inputs]:
    since = now - timedelta(days=days)
    history = since - timedelta(days=HISTORY_DAYS)
    found, groups = read_records(session.client("logs"), target.record_log_group_prefixes, history, now)
    codepipeline = session.client("codepipeline")
    summaries = read_executions(codepipeline, target.pipeline, history)
    times, exported = read_action_outputs(codepipeline, target.pipeline)
    notes = []
    if target.commits_pipeline != target.pipeline:
        try:
            times = read_action_outputs(commits_session.client("codepipeline"), target.commits_pipeline)[0]
        except Exception as error:  # another account's pipeline: lead time unknown, the rest stands
            notes.append(f"cannot read the upstream pipeline {target.commits_pipeline} ({error}): lead times unknown")
    report = compute(found, executions_of(summaries, exported, now), times, since, now, rework_hours)
    return report, Inputs(tuple(groups), len(found), len(summaries), len(times), tuple(notes))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    return (f"{days}d " if days else "") + f"{rest // 60}h {rest % 60:02d}m"


def _spread(d: Durations) -> str:
    return f"median {_duration(d.median_seconds)}, p90 {_duration(d.p90_seconds)}, min {_duration(d.min_seconds)}, max {_duration(d.max_seconds)}"


def _rate(part: int, whole: int, rate: float | None) -> str:
    return f"{part} of {whole}" + (f" ({100 * rate:.1f} %)" if rate is not None else " (no deployments)")


def text(target: Target, report: Report, inputs: Inputs) -> str:
    r = report
    kinds = {k: sum(1 for d in r.deployments if d.rework == k) for k in ("rollback", "revert", "fix")}
    lines = [
        f"DORA metrics of stack {target.stack} (pipeline {target.pipeline}), {r.since:%Y-%m-%d %H:%M} to {r.until:%Y-%m-%d %H:%M} UTC",
        f"Deployment frequency         {r.successful_changes} successful changes, {r.per_day:.2f} per day",
        f"Lead time for changes        {_spread(r.lead_time)} ({r.lead_time.count} commits; {r.lead_time_unknown} without a commit time)",
        "                             " + ", ".join(f"{label}: {n}" for label, n in r.lead_time_bands.items()),
        f"Change failure rate          {_rate(r.failed_changes, r.changes, r.change_failure_rate)} changes failed",
        f"Failed-deployment recovery   {_spread(r.recovery)} ({r.recovery.count} recovered, {r.unrecovered} not yet)",
        f"Rework rate                  {_rate(r.rework, len(r.deployments), r.rework_rate)} deployments: " + ", ".join(f"{n} {k}" for k, n in kinds.items()),
        f"Inputs: {inputs.records} records from {len(inputs.log_groups)} log groups ({', '.join(inputs.log_groups) or 'none found'}), "
        f"{inputs.executions} pipeline executions, {inputs.commit_times} commit times from {target.commits_pipeline}; {r.ignored} malformed records ignored",
        *inputs.notes,
        "Deployments (finished, commit, outcome, execution, kind, failure, rework, lead time):",
    ]
    for d in r.deployments:
        kind = "restore" if d.restore else "change"
        lines.append(f"  {d.finished:%Y-%m-%d %H:%M} {d.commit[:7]} {d.outcome} {d.execution or '-'} {kind} {d.failure or '-'} {d.rework or '-'} {_duration(d.lead_time_seconds)}")
    return "\n".join(lines)


def as_json(target: Target, report: Report, inputs: Inputs) -> str:
    return json.dumps({"stack": target.stack, "pipeline": target.pipeline, "inputs": asdict(inputs), "metrics": asdict(report)}, default=lambda v: v.isoformat(), indent=2)


def parser() -> Any:
    p = tool_parser("python -m tools.dora", __doc__ or "")
    p.add_argument("--stack", required=True, help="Pulumi stack; its Pulumi.<stack>.yaml gives the region and serviceName")
    add_service_argument(p)
    p.add_argument("--days", default=str(DEFAULT_DAYS), help=f"the window: the last N days, 1 to {MAX_DAYS} (default {DEFAULT_DAYS})")
    p.add_argument("--rework-hours", default=str(DEFAULT_REWORK_HOURS), help=f"a change this soon after a failure is a fix, 1 to 168 (default {DEFAULT_REWORK_HOURS})")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    return p


def _bounded(flag: str, raw: str, high: int) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise UsageError(f"{flag}: {raw!r} is not allowed; use a whole number from 1 to {high}")
    return int(raw)


def _session(region: str | None) -> Any:
    import boto3.session

    return boto3.session.Session(region_name=region)


def main(argv: list[str] | None = None, session_factory: Callable[[str | None], Any] = _session, root: Path = ROOT, now: datetime | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        days, rework_hours = _bounded("--days", args.days, MAX_DAYS), _bounded("--rework-hours", args.rework_hours, 168)
        target = read_target(args.stack, root, args.service)
    except UsageError as error:
        print(f"dora: {error}\n{parser().format_usage().rstrip()}", file=sys.stderr)
        return EXIT_USAGE
    try:
        session = session_factory(target.region)
        report, inputs = measure(session, session, target, now or datetime.now(UTC), days, rework_hours)
    except Exception as error:  # botocore ClientError, credentials, network: report, do not trace
        print(f"dora: AWS call failed: {error}", file=sys.stderr)
        return EXIT_AWS_ERROR
    print(as_json(target, report, inputs) if args.json else text(target, report, inputs))
    return EXIT_PRINTED


if __name__ == "__main__":
    sys.exit(main())
