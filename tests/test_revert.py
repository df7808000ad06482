"""tools.revert: its AWS calls, offline, against the real botocore service models (Stubber validates
every request's parameters against the model)."""

from __future__ import annotations

import datetime

import botocore.session
import pytest
from botocore.stub import Stubber

from components.buildspec import SHORT_SHA_LENGTH
from tools import revert as tool

COMMIT = "3f2c1e9a" + "0" * 32
TAG = COMMIT[:SHORT_SHA_LENGTH]
TARGET = tool.stack_target("prod")
DIGEST = "sha256:" + "a" * 64


def clients():
    session = botocore.session.get_session()
    ecr = session.create_client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    pipeline = session.create_client("codepipeline", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return ecr, pipeline, Stubber(ecr), Stubber(pipeline)


def image_found(stub: Stubber, tag: str = TAG):
    stub.add_response(
        "describe_images",
        {"imageDetails": [{"repositoryName": TARGET.repository, "imageDigest": DIGEST, "imageTags": [tag]}]},
        {"repositoryName": TARGET.repository, "imageIds": [{"imageTag": tag}]},
    )


def pipeline_declaration(stub: Stubber):
    stub.add_response(
        "get_pipeline",
        {
            "pipeline": {
                "name": TARGET.pipeline,
                "roleArn": "arn:aws:iam::123456789012:role/pipeline",
                "stages": [
                    {"name": "Source", "actions": [{"name": "Checkout", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}}]},
                    {"name": "Build", "actions": [{"name": "Build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}}]},
                ],
            }
        },
        {"name": TARGET.pipeline},
    )


def started(stub: Stubber, commit: str = COMMIT):
    stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "11111111-2222-3333-4444-555555555555"},
        {
            "name": TARGET.pipeline,
            "sourceRevisions": [{"actionName": "Checkout", "revisionType": "COMMIT_ID", "revisionValue": commit}],
        },
    )


def test_stack_target_matches_the_program_names(prod):
    assert TARGET.pipeline == prod.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]
    assert TARGET.repository == prod.one("aws:ecr/repository:Repository").inputs["name"]


def test_revert_by_commit_checks_the_image_then_starts_the_pipeline_on_that_commit():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub)
    pipeline_declaration(pipeline_stub)
    started(pipeline_stub)
    with ecr_stub, pipeline_stub:
        result = tool.revert(ecr, pipeline, TARGET, commit=COMMIT)
    ecr_stub.assert_no_pending_responses()
    pipeline_stub.assert_no_pending_responses()
    assert result == {
        "pipeline": TARGET.pipeline,
        "executionId": "11111111-2222-3333-4444-555555555555",
        "commit": COMMIT,
        "image": f"{TARGET.repository}:{TAG}",
        "digest": DIGEST,
    }


def test_revert_by_tag_finds_the_full_commit_in_earlier_executions():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub)
    now = datetime.datetime(2026, 1, 1)
    pipeline_stub.add_response(
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {"pipelineExecutionId": "e2", "status": "Succeeded", "startTime": now,
                 "sourceRevisions": [{"actionName": "Checkout", "revisionId": "b" * 40}]},
                {"pipelineExecutionId": "e1", "status": "Succeeded", "startTime": now,
                 "sourceRevisions": [{"actionName": "Checkout", "revisionId": COMMIT}]},
            ]
        },
        {"pipelineName": TARGET.pipeline},
    )
    pipeline_declaration(pipeline_stub)
    started(pipeline_stub)
    with ecr_stub, pipeline_stub:
        result = tool.revert(ecr, pipeline, TARGET, tag=TAG)
    assert result["commit"] == COMMIT
    pipeline_stub.assert_no_pending_responses()


def test_missing_image_fails_with_a_clear_message_and_starts_nothing():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    ecr_stub.add_client_error(
        "describe_images",
        service_error_code="ImageNotFoundException",
        service_message="The image with imageId {imageTag:'0000000'} does not exist",
        expected_params={"repositoryName": TARGET.repository, "imageIds": [{"imageTag": "0000000"}]},
    )
    # No pipeline responses queued: any pipeline call would fail the test.
    with ecr_stub, pipeline_stub:
        with pytest.raises(
            tool.RevertError,
            match=r"^image container-cicd-prod-app:0000000 does not exist in the registry; nothing was started\. "
            r"List the tags it holds with: aws ecr describe-images --repository-name container-cicd-prod-app ",
        ):
            tool.revert(ecr, pipeline, TARGET, tag="0000000")


def test_cli_exits_2_with_the_message_when_the_image_is_missing(capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    ecr_stub.add_client_error("describe_images", service_error_code="ImageNotFoundException", service_message="not found")

    class Session:
        def client(self, name):
            return {"ecr": ecr, "codepipeline": pipeline}[name]

    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "prod", "--commit", COMMIT], session=Session())
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"revert: image container-cicd-prod-app:{TAG} does not exist in the registry; nothing was started.")


def test_unknown_tag_in_pipeline_history_starts_nothing():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub, "abcdef0")
    pipeline_stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": []}, {"pipelineName": TARGET.pipeline})
    with ecr_stub, pipeline_stub:
        with pytest.raises(tool.RevertError, match=r"no execution of container-cicd-prod-app-pipeline among the last 0 built a commit "
                           r"starting with 'abcdef0'; nothing was started\. Pass the full commit SHA with --commit instead\."):
            tool.revert(ecr, pipeline, TARGET, tag="abcdef0")


@pytest.mark.parametrize("commit", ["3f2c1e9", "z" * 40, COMMIT + "0"])
def test_commit_must_be_a_full_sha(commit):
    with pytest.raises(tool.RevertError, match=r"is not a full 40-character commit SHA; use --tag for a short SHA"):
        tool.revert(None, None, TARGET, commit=commit)


def test_the_tag_is_the_build_tag_of_the_commit():
    assert tool.tag_for_commit(COMMIT) == COMMIT[:SHORT_SHA_LENGTH]


def test_pulumi_up_keeps_the_reverted_image(ecs_config):
    """A revert runs through the pipeline, whose record step writes the reverted image; the next
    `pulumi up` builds the task definition with it instead of the bootstrap image."""
    import json

    from offline.mocks import evaluate_stack

    reverted = "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-prod-app:3f2c1e9"
    prod_on_ecs = evaluate_stack("prod", ecs_config("prod"), ssm_parameters={"/container-cicd/prod/app/deployed-image": reverted})
    [container] = json.loads(prod_on_ecs.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    assert container["image"] == reverted
