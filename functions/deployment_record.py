"""The deployment record: what every deployment, on either target, reports once it has a verdict.

Two writers share this contract: the ECS verify function (`functions/ecs_verify_deployment.py`, through
`record` and `metric_data` here) and the EKS deploy script (bash, which writes the same JSON and the same
metrics with `jq` and `aws cloudwatch put-metric-data`). Dashboards, alarms and log queries read it, so the
names below are an interface: renaming one breaks them.

The record is ONE JSON line on standard output (Lambda and CodeBuild send it to their log groups), with
exactly the keys in `FIELDS`, in that order:

    recordType       "deployment" (`RECORD_TYPE`): the key to filter log lines on.
    target           "ecs" | "eks" (`TARGETS`).
    service          the service's physical name prefix (the `SERVICE_ID` the functions are given).
    commit           the Git commit deployed: 7 to 40 lowercase hex characters.
    image            the image reference deployed, as the pipeline gave it ("<repository>@sha256:<hex>").
    digest           "sha256:" + 64 lowercase hex characters: what was expected to run.
    strategy         "rolling" | "blue-green" | "canary" | "linear" (`STRATEGIES`).
    deployment       the target's id of the deployment (ECS: the service deployment ARN).
    startedAt        ISO 8601 UTC with milliseconds and "Z" ("2025-07-10T13:15:39.018Z").
    finishedAt       the same format; when the deployment finished (or when the verdict was reached).
    durationSeconds  finishedAt - startedAt in seconds (a number, 3 decimals, never negative).
    outcome          "SUCCEEDED" | "FAILED" | "ROLLED_BACK" | "STOPPED" (`OUTCOMES`).
    reason           null when SUCCEEDED; otherwise a sentence saying why (never empty).
    sbom             where the stack keeps the SBOM of the digest ("s3://<records bucket>/sbom/<digest>.json"),
                     null when the stack does not scan (scanSeverityThreshold off) or the image was refused first.
    scan             the scan verdict of the digest ("PASSED" | "BLOCKED", `SCAN_VERDICTS`), null like `sbom`.

Metrics (`metric_data`), in namespace `METRIC_NAMESPACE`, each with the one dimension `Service` = the
service id, timestamped at `finishedAt`:

    DeploymentDurationSeconds  unit Seconds, value durationSeconds (every outcome).
    DeploymentSucceeded        unit Count, value 1, when the outcome is SUCCEEDED.
    DeploymentFailed           unit Count, value 1, for every other outcome.

An alarm on DeploymentFailed should treat missing data as not breaching: nothing is sent between deployments.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

METRIC_NAMESPACE = "ContainerCicd/Deployments"
DIMENSION_NAME = "Service"
DURATION_METRIC = "DeploymentDurationSeconds"
SUCCEEDED_METRIC = "DeploymentSucceeded"
FAILED_METRIC = "DeploymentFailed"

RECORD_TYPE = "deployment"
FIELDS = (
    "recordType",
    "target",
    "service",
    "commit",
    "image",
    "digest",
    "strategy",
    "deployment",
    "startedAt",
    "finishedAt",
    "durationSeconds",
    "outcome",
    "reason",
    "sbom",
    "scan",
)
TARGETS = ("ecs", "eks")
STRATEGIES = ("rolling", "blue-green", "canary", "linear")
SUCCEEDED = "SUCCEEDED"
OUTCOMES = (SUCCEEDED, "FAILED", "ROLLED_BACK", "STOPPED")
SCAN_VERDICTS = ("PASSED", "BLOCKED")
SBOM_URI_PATTERN = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/sbom/sha256:[0-9a-f]{64}\.json")

COMMIT_PATTERN = re.compile(r"[0-9a-f]{7,40}")
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
# CloudWatch's limit on a dimension value (botocore's cloudwatch model: DimensionValue max 1024).
_MAX_DIMENSION_VALUE = 1024


def timestamp(moment: datetime) -> str:
    """The record's time format: UTC, milliseconds, "Z"."""
    if moment.tzinfo is None:
        raise ValueError(f"deployment record: time {moment.isoformat()} has no time zone; pass an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """A record time back to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def record(
    *,
    target: str,
    service: str,
    commit: str,
    image: str,
    digest: str,
    strategy: str,
    deployment: str,
    started_at: datetime,
    finished_at: datetime,
    outcome: str,
    reason: str | None = None,
    sbom: str | None = None,
    scan: str | None = None,
) -> dict:
    """The record as a dict with exactly `FIELDS`; ValueError naming every field that breaks the contract.
    `sbom`, `scan`: the supply-chain gate's evidence (SBOM_URI, SCAN_VERDICT); omitted: null (no scan)."""
    problems = []

    def check(ok: bool, field: str, value: object, allowed: str) -> None:
        if not ok:
            problems.append(f"{field} {value!r} is not allowed; {allowed}")

    check(target in TARGETS, "target", target, f"use one of {', '.join(TARGETS)}")
    check(bool(service) and len(service) <= _MAX_DIMENSION_VALUE, "service", service, f"use 1 to {_MAX_DIMENSION_VALUE} characters")
    check(bool(COMMIT_PATTERN.fullmatch(commit)), "commit", commit, "use a Git commit id (7 to 40 lowercase hex characters)")
    check(bool(image), "image", image, "use the image reference deployed")
    check(bool(DIGEST_PATTERN.fullmatch(digest)), "digest", digest, "use sha256: and 64 lowercase hex characters")
    check(strategy in STRATEGIES, "strategy", strategy, f"use one of {', '.join(STRATEGIES)}")
    check(bool(deployment), "deployment", deployment, "use the target's deployment id")
    check(outcome in OUTCOMES, "outcome", outcome, f"use one of {', '.join(OUTCOMES)}")
    if outcome == SUCCEEDED:
        check(reason is None, "reason", reason, "a SUCCEEDED record has no reason (null)")
    else:
        check(bool(reason), "reason", reason, f"a {outcome} record says why in a non-empty sentence")
    check(sbom is None or bool(SBOM_URI_PATTERN.fullmatch(sbom)), "sbom", sbom, "use null or s3://<bucket>/sbom/<digest>.json")
    check(scan is None or scan in SCAN_VERDICTS, "scan", scan, f"use null or one of {', '.join(SCAN_VERDICTS)}")
    aware = started_at.tzinfo is not None and finished_at.tzinfo is not None
    check(aware, "startedAt/finishedAt", (started_at.isoformat(), finished_at.isoformat()), "pass time-zone-aware datetimes")
    if aware:
        check(finished_at >= started_at, "finishedAt", timestamp(finished_at), f"it must not be before startedAt {timestamp(started_at)}")
    if problems:
        raise ValueError("deployment record: " + "; ".join(problems))
    values = {
        "recordType": RECORD_TYPE,
        "target": target,
        "service": service,
        "commit": commit,
        "image": image,
        "digest": digest,
        "strategy": strategy,
        "deployment": deployment,
        "startedAt": timestamp(started_at),
        "finishedAt": timestamp(finished_at),
        "durationSeconds": round((finished_at - started_at).total_seconds(), 3),
        "outcome": outcome,
        "reason": reason,
        "sbom": sbom,
        "scan": scan,
    }
    return {field: values[field] for field in FIELDS}


def json_line(rec: dict) -> str:
    """The record as the one log line (keys in `FIELDS` order, no newline inside)."""
    return json.dumps({field: rec[field] for field in FIELDS}, separators=(",", ":"))


def metric_data(rec: dict, service_id: str) -> list[dict]:
    """`MetricData` for `cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=...)`."""
    if not service_id or len(service_id) > _MAX_DIMENSION_VALUE:
        raise ValueError(f"deployment metrics: service id {service_id!r} is not allowed; use 1 to {_MAX_DIMENSION_VALUE} characters (SERVICE_ID)")
    if rec.get("outcome") not in OUTCOMES:
        raise ValueError(f"deployment metrics: outcome {rec.get('outcome')!r} is not allowed; use one of {', '.join(OUTCOMES)}")
    dimensions = [{"Name": DIMENSION_NAME, "Value": service_id}]
    at = parse_timestamp(rec["finishedAt"])
    verdict = SUCCEEDED_METRIC if rec["outcome"] == SUCCEEDED else FAILED_METRIC
    return [
        {"MetricName": DURATION_METRIC, "Dimensions": dimensions, "Timestamp": at, "Value": float(rec["durationSeconds"]), "Unit": "Seconds"},
        {"MetricName": verdict, "Dimensions": dimensions, "Timestamp": at, "Value": 1.0, "Unit": "Count"},
    ]
