"""The deployment record's supply-chain fields: `sbom` (the digest's SBOM in the records bucket) and `scan` (the gate's
verdict), written by the ECS verify function from the gate's pipeline variables, null when the gate does not scan."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from functions import deployment_record as records
from tests.test_ecs_verify_deployment import CREATED, DEPLOYMENT, DIGEST, FINISHED, OTHER, PARAMS, brief, job, printed_records

START = datetime(2025, 7, 10, 13, 0, 5, tzinfo=UTC)
SBOM = f"s3://container-cicd-dev-app-records-1a2b3c4/sbom/{DIGEST}.json"
GOOD = {
    "target": "ecs",
    "service": "container-cicd-dev-app",
    "commit": "0123456",
    "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app@{DIGEST}",
    "digest": DIGEST,
    "strategy": "rolling",
    "deployment": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/1",
    "started_at": START,
    "finished_at": START + timedelta(seconds=30),
    "outcome": "SUCCEEDED",
}


def test_the_record_names_the_sbom_and_the_verdict_last():
    rec = records.record(**GOOD, sbom=SBOM, scan="PASSED")
    assert list(rec)[-2:] == ["sbom", "scan"]
    assert (rec["sbom"], rec["scan"]) == (SBOM, "PASSED")
    assert records.json_line(rec).endswith(f',"sbom":"{SBOM}","scan":"PASSED"}}')


def test_without_the_gate_both_are_null():
    rec = records.record(**GOOD)
    assert (rec["sbom"], rec["scan"]) == (None, None)


def test_an_sbom_of_another_digest_or_a_blocked_verdict_is_refused():
    other = f"s3://container-cicd-dev-app-records-1a2b3c4/sbom/{OTHER}.json"
    with pytest.raises(ValueError) as raised:
        records.record(**GOOD, sbom=other, scan="BLOCKED")
    assert str(raised.value) == (
        f"deployment record: sbom {other!r} is not allowed; use s3://<records bucket>/sbom/{DIGEST}.json (this digest's SBOM) or null; "
        "scan 'BLOCKED' is not allowed; use PASSED (a blocked image never deploys) or null"
    )
    with pytest.raises(ValueError, match=r"sbom 'https://example.com/sbom.json' is not allowed"):
        records.record(**GOOD, sbom="https://example.com/sbom.json")


# ---------------------------------------------------------------- the ECS verify function writes them


@pytest.fixture
def aws():
    from tests.test_ecs_verify_deployment import Aws

    return Aws()


def succeed(aws) -> None:
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("SUCCESSFUL", finishedAt=FINISHED)
    aws.revision(("app", DIGEST))
    aws.metrics("DeploymentSucceeded", 270.5)
    aws.success(f"ECS deployment {DEPLOYMENT} is SUCCESSFUL and runs {DIGEST}")


def test_the_ecs_record_carries_the_gate_variables(aws, capsys):
    succeed(aws)
    assert aws.run(job({**PARAMS, "sbom": SBOM, "scan": "PASSED"}))["result"] == "success"
    [rec] = printed_records(capsys)
    assert (rec["sbom"], rec["scan"]) == (SBOM, "PASSED")


def test_variables_the_gate_left_empty_are_null_in_the_record(aws, capsys):
    succeed(aws)
    assert aws.run(job({**PARAMS, "sbom": "", "scan": ""}))["result"] == "success"
    [rec] = printed_records(capsys)
    assert (rec["sbom"], rec["scan"]) == (None, None)


def test_an_sbom_of_another_digest_is_a_configuration_error(aws, capsys):
    other = f"s3://container-cicd-dev-app-records-1a2b3c4/sbom/{OTHER}.json"
    aws.failure(
        f"UserParameters: sbom {other!r} is not allowed; give s3://<records bucket>/sbom/<the expected digest>.json, or leave it out; "
        "scan 'FAILED' is not allowed; use PASSED, or leave it out",
        kind="ConfigurationError",
        external=None,
    )
    assert aws.run(job({**PARAMS, "sbom": other, "scan": "FAILED"}))["result"] == "failure"
    assert printed_records(capsys) == []


# ---------------------------------------------------------------- the EKS deploy step's record (jq) reads them from its environment


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"SBOM_URI": SBOM, "SCAN_VERDICT": "PASSED"}, (SBOM, "PASSED")), ({"SBOM_URI": "", "SCAN_VERDICT": ""}, (None, None)), ({}, (None, None))],
)
def test_the_eks_record_takes_the_gate_variables_from_the_environment(env, expected):
    import subprocess

    from components.deploy.eks.verdict import record_filter

    args = ["--arg", "commit", "0123456", "--arg", "image", GOOD["image"], "--arg", "digest", DIGEST, "--arg", "deployment", "p:1"]
    args += ["--argjson", "t0", "1752152139018", "--argjson", "t1", "1752152214268", "--arg", "outcome", "SUCCEEDED", "--arg", "reason", ""]
    done = subprocess.run(["jq", "-cn", *args, record_filter("container-cicd-prod-app")], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, check=True)
    rec = json.loads(done.stdout)
    assert list(rec) == list(records.FIELDS)
    assert (rec["sbom"], rec["scan"]) == expected


# ---------------------------------------------------------------- the pipeline passes the gate's variables to the ECS verifier


def verify_parameters(stack) -> dict:
    actions = {a["name"]: a for s in stack.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] for a in s["actions"]}
    return json.loads(actions["VerifyDeployment"]["configuration"]["UserParameters"])


def test_a_building_stack_records_what_its_scan_stage_exported(dev):
    params = verify_parameters(dev)
    assert (params["sbom"], params["scan"]) == ("#{SupplyVariables.SBOM_URI}", "#{SupplyVariables.SCAN_VERDICT}")


def test_a_promoting_stack_on_ecs_records_what_its_check_stage_exported(prod_ecs):
    params = verify_parameters(prod_ecs)
    assert (params["sbom"], params["scan"]) == ("#{BuildVariables.SBOM_URI}", "#{BuildVariables.SCAN_VERDICT}")


def test_without_a_scan_the_verifier_gets_neither_and_records_null(evaluate):
    params = verify_parameters(evaluate("dev", scanSeverityThreshold="off"))
    assert "sbom" not in params and "scan" not in params
