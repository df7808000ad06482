"""The deployment record contract shared by the ECS verify function and the EKS deploy script: its fields,
its refusals, and its metrics (validated against botocore's CloudWatch model)."""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from functions import deployment_record as records
from tests.aws_models import assert_valid, validate

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 7, 10, 13, 0, 5, tzinfo=UTC)
GOOD = {
    "target": "eks",
    "service": "shop-prod-app",
    "commit": "0123456",
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64,
    "digest": "sha256:" + "a" * 64,
    "strategy": "rolling",
    "deployment": "app-7c9f",
    "started_at": START,
    "finished_at": START + timedelta(seconds=61, milliseconds=250),
    "outcome": "SUCCEEDED",
}


def test_a_record_has_exactly_the_fields_in_order():
    rec = records.record(**GOOD)
    assert list(rec) == list(records.FIELDS)
    assert rec == {
        "recordType": "deployment",
        "target": "eks",
        "service": "shop-prod-app",
        "commit": "0123456",
        "image": GOOD["image"],
        "digest": GOOD["digest"],
        "strategy": "rolling",
        "deployment": "app-7c9f",
        "startedAt": "2025-07-10T13:00:05.000Z",
        "finishedAt": "2025-07-10T13:01:06.250Z",
        "durationSeconds": 61.25,
        "outcome": "SUCCEEDED",
        "reason": None,
        "sbom": None,
        "scan": None,
    }
    assert records.json_line(rec) == (
        '{"recordType":"deployment","target":"eks","service":"shop-prod-app","commit":"0123456","image":"' + GOOD["image"] + '","digest":"' + GOOD["digest"] + '",'
        '"strategy":"rolling","deployment":"app-7c9f","startedAt":"2025-07-10T13:00:05.000Z","finishedAt":"2025-07-10T13:01:06.250Z",'
        '"durationSeconds":61.25,"outcome":"SUCCEEDED","reason":null,"sbom":null,"scan":null}'
    )


def test_a_record_names_the_sbom_and_the_scan_verdict_of_the_digest():
    sbom = "s3://container-cicd-prod-app-records/sbom/sha256:" + "a" * 64 + ".json"
    rec = records.record(**GOOD, sbom=sbom, scan="PASSED")
    assert (rec["sbom"], rec["scan"]) == (sbom, "PASSED")
    with pytest.raises(
        ValueError,
        match=r"^deployment record: sbom 'sbom.json' is not allowed; use null or s3://<bucket>/sbom/<digest>.json; "
        r"scan 'OK' is not allowed; use null or one of PASSED, BLOCKED$",
    ):
        records.record(**GOOD, sbom="sbom.json", scan="OK")


def test_times_in_other_zones_are_written_in_utc():
    plus_two = timezone(timedelta(hours=2))
    rec = records.record(**{**GOOD, "started_at": START.astimezone(plus_two), "finished_at": (START + timedelta(seconds=1)).astimezone(plus_two)})
    assert (rec["startedAt"], rec["finishedAt"], rec["durationSeconds"]) == ("2025-07-10T13:00:05.000Z", "2025-07-10T13:00:06.000Z", 1.0)


def test_a_record_that_breaks_the_contract_names_every_field():
    bad = {**GOOD, "target": "lambda", "commit": "HEAD", "digest": "sha256:abc", "strategy": "big-bang", "outcome": "FAILED", "finished_at": START - timedelta(seconds=1)}
    with pytest.raises(ValueError) as raised:
        records.record(**bad)
    assert str(raised.value) == (
        "deployment record: target 'lambda' is not allowed; use one of ecs, eks; "
        "commit 'HEAD' is not allowed; use a Git commit id (7 to 40 lowercase hex characters); "
        "digest 'sha256:abc' is not allowed; use sha256: and 64 lowercase hex characters; "
        "strategy 'big-bang' is not allowed; use one of rolling, blue-green, canary, linear; "
        "reason None is not allowed; a FAILED record says why in a non-empty sentence; "
        "finishedAt '2025-07-10T13:00:04.000Z' is not allowed; it must not be before startedAt 2025-07-10T13:00:05.000Z"
    )
    with pytest.raises(ValueError, match="reason 'why' is not allowed; a SUCCEEDED record has no reason"):
        records.record(**GOOD, reason="why")
    with pytest.raises(ValueError, match="pass time-zone-aware datetimes"):
        records.record(**{**GOOD, "started_at": datetime(2025, 7, 10)})


@pytest.mark.parametrize(
    ("outcome", "reason", "verdict"),
    [("SUCCEEDED", None, "DeploymentSucceeded"), ("FAILED", "x", "DeploymentFailed"), ("ROLLED_BACK", "x", "DeploymentFailed"), ("STOPPED", "x", "DeploymentFailed")],
)
def test_metrics_per_outcome_are_what_cloudwatch_accepts(outcome, reason, verdict):
    rec = records.record(**{**GOOD, "outcome": outcome, "reason": reason})
    data = records.metric_data(rec, "shop-prod-app")
    at = datetime(2025, 7, 10, 13, 1, 6, 250000, tzinfo=UTC)
    dimensions = [{"Name": "Service", "Value": "shop-prod-app"}]
    assert data == [
        {"MetricName": "DeploymentDurationSeconds", "Dimensions": dimensions, "Timestamp": at, "Value": 61.25, "Unit": "Seconds"},
        {"MetricName": verdict, "Dimensions": dimensions, "Timestamp": at, "Value": 1.0, "Unit": "Count"},
    ]
    assert_valid("cloudwatch", "PutMetricData", {"Namespace": records.METRIC_NAMESPACE, "MetricData": data})


def test_the_validator_would_see_a_bad_metric():
    """The CloudWatch check above is not vacuous: an unknown unit and an overlong dimension value fail it."""
    datum = {"MetricName": "DeploymentFailed", "Dimensions": [{"Name": "Service", "Value": "s" * 1025}], "Value": 1.0, "Unit": "Deployments"}
    assert len(validate("cloudwatch", "PutMetricData", {"Namespace": records.METRIC_NAMESPACE, "MetricData": [datum]})) == 2


def test_metrics_refuse_a_bad_service_id():
    rec = records.record(**GOOD)
    with pytest.raises(ValueError, match=r"^deployment metrics: service id '' is not allowed; use 1 to 1024 characters \(SERVICE_ID\)$"):
        records.metric_data(rec, "")


FUNCTION_MODULES = sorted(p for p in (ROOT / "functions").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", FUNCTION_MODULES, ids=lambda p: p.name)
def test_functions_import_only_what_the_lambda_runtime_has(path):
    """A function is packaged as its module plus deployment_record.py and canary_judge.py: the standard library,
    boto3 and botocore (in the Lambda Python runtimes), functions.deployment_record and functions.canary_judge are
    all it may import. The routed smoke-test hook is packed with the ECS package (FUNCTION_FILES) and runs the smoke
    test of functions.ecs_smoke_test."""
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "functions"}
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            imported |= {f"{node.module}.{alias.name}" if node.module == "functions" else node.module or "" for alias in node.names}
    shared = {"functions.deployment_record", "functions.canary_judge", *({"functions.ecs_smoke_test"} if path.name == "routed_smoke_test.py" else ())}
    assert {name for name in imported if name.split(".")[0] not in allowed or (name.startswith("functions") and name not in shared)} == set()
    assert len(FUNCTION_MODULES) == 8  # with the path router and the routed smoke-test hook
