"""The deployment record's supply-chain fields: `sbom` (the digest's SBOM in the records bucket) and `scan` (the gate's
verdict), written by the ECS verify function from the gate's pipeline variables, null when the gate does not scan."""

from __future__ import annotations

import json

import pytest

from tests.test_ecs_verify_deployment import CREATED, DEPLOYMENT, DIGEST, FINISHED, OTHER, PARAMS, brief, job, printed_records

SBOM = f"s3://container-cicd-dev-app-records-1a2b3c4/sbom/{DIGEST}.json"


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


# ---------------------------------------------------------------- the pipeline passes the gate's variables to the ECS verifier


def verify_parameters(stack) -> dict:
    actions = {a["name"]: a for s in stack.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] for a in s["actions"]}
    return json.loads(actions["VerifyDeployment"]["configuration"]["UserParameters"])


def test_the_variables_come_from_the_gate_action_that_exports_them():
    from types import SimpleNamespace as N

    from components.contracts import GateVariables

    def stages(*names):
        return [N(stage=N(actions=[N(name=n) for n in names]))]

    assert GateVariables.exported_by(stages("BuildImage", "ImageScan", "VerifyImage")) == GateVariables("#{SupplyVariables.SBOM_URI}", "#{SupplyVariables.SCAN_VERDICT}")
    assert GateVariables.exported_by(stages("CheckVerified")) == GateVariables("#{BuildVariables.SBOM_URI}", "#{BuildVariables.SCAN_VERDICT}")
    # No action declares the namespace: naming it would make CreatePipeline fail, so the record says null.
    assert GateVariables.exported_by(stages("BuildImage")) is None


def test_a_building_stack_records_what_its_scan_stage_exported(dev):
    params = verify_parameters(dev)
    [verify_image] = [a for s in dev.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] for a in s["actions"] if a["name"] == "VerifyImage"]
    assert verify_image["namespace"] == "SupplyVariables"
    assert (params["sbom"], params["scan"]) == ("#{SupplyVariables.SBOM_URI}", "#{SupplyVariables.SCAN_VERDICT}")


def test_a_promoting_stack_on_ecs_records_what_its_check_stage_exported(prod_ecs):
    params = verify_parameters(prod_ecs)
    assert (params["sbom"], params["scan"]) == ("#{BuildVariables.SBOM_URI}", "#{BuildVariables.SCAN_VERDICT}")


def test_without_a_scan_the_verifier_gets_neither_and_records_null(evaluate):
    params = verify_parameters(evaluate("dev", scanSeverityThreshold="off"))
    assert "sbom" not in params and "scan" not in params
