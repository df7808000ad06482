"""tools.revert: its AWS calls, offline, against the real botocore service models (Stubber validates
every request's parameters against the model)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml
from botocore.stub import Stubber

from components.delivery.buildspec import SHORT_SHA_LENGTH
from offline import stackfile
from tests import aws_models
from tests.test_services_stack import services_config
from tools import revert as tool

COMMIT = "3f2c1e9a" + "0" * 32
TAG = COMMIT[:SHORT_SHA_LENGTH]
TARGET = tool.stack_target("dev")  # prod promotes from dev: it is reverted by digest (tests/test_promotion_revert.py)
ROOT = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "a" * 64


def clients():
    session = aws_models.session()
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


def test_stack_target_matches_the_program_names(dev):
    assert tool.read_stack("dev") == tool.stack_target("dev", region="us-east-1")
    assert TARGET.pipeline == dev.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]
    assert TARGET.repository == dev.one("aws:ecr/repository:Repository").inputs["name"]


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
        "image": f"{TARGET.repository}@{DIGEST}",
        "tag": TAG,
    }


def test_revert_by_tag_finds_the_full_commit_in_earlier_executions():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub)
    now = datetime.datetime(2026, 1, 1)
    pipeline_stub.add_response(
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {"pipelineExecutionId": "e2", "status": "Succeeded", "startTime": now, "sourceRevisions": [{"actionName": "Checkout", "revisionId": "b" * 40}]},
                {"pipelineExecutionId": "e1", "status": "Succeeded", "startTime": now, "sourceRevisions": [{"actionName": "Checkout", "revisionId": COMMIT}]},
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
            match=r"^image container-cicd-dev-app:0000000 does not exist in the registry; nothing was started\. "
            r"List the tags it holds with: aws ecr describe-images --repository-name container-cicd-dev-app ",
        ):
            tool.revert(ecr, pipeline, TARGET, tag="0000000")


def digest_found(stub: Stubber, tags: list[str]):
    stub.add_response(
        "describe_images",
        {"imageDetails": [{"repositoryName": TARGET.repository, "imageDigest": DIGEST, "imageTags": tags}]},
        {"repositoryName": TARGET.repository, "imageIds": [{"imageDigest": DIGEST}]},
    )


def test_revert_by_digest_finds_the_commit_tag_then_the_commit_and_starts_the_pipeline():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    digest_found(ecr_stub, [f"deployed-{TAG}", TAG])
    now = datetime.datetime(2026, 1, 1)
    pipeline_stub.add_response(
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {"pipelineExecutionId": "e1", "status": "Succeeded", "startTime": now, "sourceRevisions": [{"actionName": "Checkout", "revisionId": COMMIT}]}
            ]
        },
        {"pipelineName": TARGET.pipeline},
    )
    pipeline_declaration(pipeline_stub)
    started(pipeline_stub)
    with ecr_stub, pipeline_stub:
        result = tool.revert(ecr, pipeline, TARGET, digest=DIGEST)
    ecr_stub.assert_no_pending_responses()
    pipeline_stub.assert_no_pending_responses()
    assert (result["commit"], result["image"], result["tag"]) == (COMMIT, f"{TARGET.repository}@{DIGEST}", TAG)


def test_missing_digest_fails_with_a_clear_message_and_starts_nothing():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    ecr_stub.add_client_error(
        "describe_images",
        service_error_code="ImageNotFoundException",
        service_message="not found",
        expected_params={"repositoryName": TARGET.repository, "imageIds": [{"imageDigest": DIGEST}]},
    )
    with ecr_stub, pipeline_stub:
        with pytest.raises(
            tool.RevertError,
            match=rf"^image container-cicd-dev-app@{DIGEST} does not exist in the registry; nothing was started\. "
            r"List the digests it holds with: aws ecr describe-images --repository-name container-cicd-dev-app --query 'imageDetails\[\]\.imageDigest' --output text$",
        ):
            tool.revert(ecr, pipeline, TARGET, digest=DIGEST)


def test_an_image_without_a_commit_tag_cannot_be_reverted_to():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    digest_found(ecr_stub, ["latest", "deployed-"])
    with ecr_stub, pipeline_stub:
        with pytest.raises(tool.RevertError, match=rf"^image container-cicd-dev-app@{DIGEST} has no commit tag, so no pipeline execution built it; nothing was started\."):
            tool.revert(ecr, pipeline, TARGET, digest=DIGEST)


def test_cli_exits_2_when_the_digest_is_not_in_the_registry(capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    ecr_stub.add_client_error("describe_images", service_error_code="ImageNotFoundException", service_message="not found")
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--digest", DIGEST], session_factory=Sessions(ecr, pipeline))
    assert code == tool.EXIT_NOTHING_TO_REVERT == 2
    assert capsys.readouterr().err.startswith(f"revert: image container-cicd-dev-app@{DIGEST} does not exist in the registry; nothing was started.")


def test_cli_by_digest_names_the_digest_reference_it_deploys(capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    digest_found(ecr_stub, [TAG])
    now = datetime.datetime(2026, 1, 1)
    pipeline_stub.add_response(
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {"pipelineExecutionId": "e1", "status": "Succeeded", "startTime": now, "sourceRevisions": [{"actionName": "Checkout", "revisionId": COMMIT}]}
            ]
        },
        {"pipelineName": TARGET.pipeline},
    )
    pipeline_declaration(pipeline_stub)
    started(pipeline_stub)
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--digest", DIGEST], session_factory=Sessions(ecr, pipeline))
    assert code == 0
    assert f"on commit {COMMIT} (image container-cicd-dev-app@{DIGEST}, tag {TAG})." in capsys.readouterr().out


class Sessions:
    """A session factory that hands out the stubbed clients and records each session it was asked for."""

    def __init__(self, ecr=None, pipeline=None):
        self.clients = {"ecr": ecr, "codepipeline": pipeline}
        self.regions: list[str | None] = []

    def __call__(self, region):
        self.regions.append(region)
        return self

    def client(self, name):
        return self.clients[name]


def test_cli_exits_0_and_starts_the_pipeline_in_the_stack_files_region(capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub)
    pipeline_declaration(pipeline_stub)
    started(pipeline_stub)
    sessions = Sessions(ecr, pipeline)
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--commit", COMMIT.upper()], session_factory=sessions)
    assert code == tool.EXIT_STARTED == 0
    assert sessions.regions == ["us-east-1"]  # Pulumi.dev.yaml's aws:region
    pipeline_stub.assert_no_pending_responses()
    assert capsys.readouterr().out.startswith(f"Started {TARGET.pipeline} execution 11111111-2222-3333-4444-555555555555 on commit {COMMIT} ")


def test_cli_exits_2_with_the_message_when_the_image_is_missing(capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    ecr_stub.add_client_error("describe_images", service_error_code="ImageNotFoundException", service_message="not found")
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--commit", COMMIT], session_factory=Sessions(ecr, pipeline))
    assert code == tool.EXIT_NOTHING_TO_REVERT == 2
    err = capsys.readouterr().err
    assert err.startswith(f"revert: image container-cicd-dev-app:{TAG} does not exist in the registry; nothing was started.")


def test_cli_exits_2_when_no_execution_built_the_tag(capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub, "abcdef0")
    pipeline_stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": []}, {"pipelineName": TARGET.pipeline})
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--tag", "abcdef0"], session_factory=Sessions(ecr, pipeline))
    assert code == 2
    assert "built a commit starting with 'abcdef0'; nothing was started." in capsys.readouterr().err


def test_cli_exits_1_on_an_aws_error(capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub)
    pipeline_stub.add_client_error("get_pipeline", service_error_code="PipelineNotFoundException", service_message="no such pipeline")
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--commit", COMMIT], session_factory=Sessions(ecr, pipeline))
    assert code == tool.EXIT_AWS_ERROR == 1
    assert capsys.readouterr().err.startswith("revert: AWS call failed: An error occurred (PipelineNotFoundException)")


USAGE_ERRORS = {
    "no revision": (["--stack", "dev"], r"one of the arguments --commit --tag --digest is required"),
    "tag and digest": (["--stack", "dev", "--tag", TAG, "--digest", DIGEST], r"argument --digest: not allowed with argument --tag"),
    "short digest": (
        ["--stack", "dev", "--digest", "sha256:abc"],
        r"--digest: 'sha256:abc' is not an image digest; write sha256: and the 64 lowercase hex characters, as in the deployed-image record",
    ),
    "digest without algorithm": (["--stack", "dev", "--digest", "a" * 64], r"--digest: 'a{64}' is not an image digest"),
    "uppercase digest": (["--stack", "dev", "--digest", "sha256:" + "A" * 64], r"--digest: 'sha256:A{64}' is not an image digest"),
    "digest reference": (["--stack", "dev", "--digest", f"repo@{DIGEST}"], r"--digest: 'repo@sha256:a{64}' is not an image digest"),
    "both revisions": (["--stack", "dev", "--tag", TAG, "--commit", COMMIT], r"argument --commit: not allowed with argument --tag"),
    "no stack": (["--tag", TAG], r"the following arguments are required: --stack"),
    "short commit": (["--stack", "dev", "--commit", TAG], r"--commit: '3f2c1e9' is not a full 40-character commit SHA; use --tag"),
    "long commit": (["--stack", "dev", "--commit", COMMIT + "0"], r"--commit: .* is not a full 40-character commit SHA"),
    "non-hex commit": (["--stack", "dev", "--commit", "z" * 40], r"--commit: .* is not a full 40-character commit SHA"),
    "uppercase tag": (["--stack", "dev", "--tag", "3F2C1E9"], r"--tag: '3F2C1E9' is not an image tag of this pipeline; .* lowercase hex"),
    "long tag": (["--stack", "dev", "--tag", "3f2c1e9a"], r"--tag: '3f2c1e9a' is not an image tag"),
    "unknown stack": (["--stack", "staging", "--tag", TAG], r"--stack: Pulumi\.staging\.yaml does not exist in .*; stacks with a file here: dev, prod"),
    "path as stack": (["--stack", "../prod", "--tag", TAG], r"--stack: '\.\./prod' is not a stack name"),
    "unknown option": (["--stack", "dev", "--tag", TAG, "--region", "eu-west-1"], r"unrecognized arguments: --region eu-west-1"),
    "service of a stack without services": (
        ["--stack", "dev", "--tag", TAG, "--service", "web"],
        r"--service: 'web' is not a service of stack dev; it has no services list and runs one service, app: omit --service\n",
    ),
}


@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_exit_64_before_any_aws_client_exists(argv, message, capsys):
    sessions = Sessions()
    assert tool.main(argv, session_factory=sessions) == tool.EXIT_USAGE == 64
    assert sessions.regions == [], "a session was created before the arguments were validated"
    err = capsys.readouterr().err
    assert re.search(rf"^revert: {message}", err), err
    assert "usage: python -m tools.revert" in err


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_:
        tool.main(["--help"], session_factory=Sessions())
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Exit codes: 0 the pipeline was started; 64 usage error" in out
    assert "2 nothing to revert" in out and "1 an AWS error" in out


def stack_dir(tmp_path, stack_file: str):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.staging.yaml").write_text(stack_file)
    return tmp_path


def test_the_stack_file_gives_region_and_service_name_as_the_program_uses_them(tmp_path, evaluate):
    root = stack_dir(tmp_path, "config:\n  aws:region: eu-west-1\n  container-cicd:serviceName: web\n  container-cicd:notificationEmails:\n    secure: v1:AAAA\n")
    target = tool.read_stack("staging", root)
    assert target.region == "eu-west-1"
    program = evaluate("dev", serviceName="web")
    # Same names as the program gives the dev stack, with the stack name swapped.
    assert target.pipeline == program.one("aws:codepipeline/pipeline:Pipeline").inputs["name"].replace("-dev-", "-staging-")
    assert target.repository == program.one("aws:ecr/repository:Repository").inputs["name"].replace("-dev-", "-staging-")
    assert target == tool.Target("container-cicd-staging-web-pipeline", "container-cicd-staging-web", "eu-west-1")


def test_a_stack_file_without_a_region_leaves_it_to_the_aws_profile(tmp_path):
    assert tool.read_stack("staging", stack_dir(tmp_path, "config: {}\n")).region is None


def test_invalid_stack_settings_are_a_usage_error(tmp_path, capsys):
    root = stack_dir(tmp_path, "config:\n  container-cicd:serviceName: Web_1\n")
    sessions = Sessions()
    assert tool.main(["--stack", "staging", "--tag", TAG], session_factory=sessions, root=root) == 64
    assert sessions.regions == []
    assert capsys.readouterr().err.startswith("revert: Pulumi.staging.yaml: serviceName: 'Web_1' is not valid")


def test_unknown_tag_in_pipeline_history_starts_nothing():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub, "abcdef0")
    pipeline_stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": []}, {"pipelineName": TARGET.pipeline})
    with ecr_stub, pipeline_stub:
        with pytest.raises(
            tool.RevertError,
            match=r"no execution of container-cicd-dev-app-pipeline among the last 0 built a commit "
            r"starting with 'abcdef0'; nothing was started\. Pass the full commit SHA with --commit instead\.",
        ):
            tool.revert(ecr, pipeline, TARGET, tag="abcdef0")


# The tag is the commit's first 7 characters (the buildspec's IMAGE_TAG): a commit that holds the same 7
# characters anywhere else was not built under that tag.
NOT_TAGGED = {"middle": "0123" + TAG + "9" * 29, "end": "f" * 33 + TAG}


def executions(*commits: str) -> dict:
    """A ListPipelineExecutions page, newest first, one execution per commit."""
    now = datetime.datetime(2026, 1, 1)
    return {
        "pipelineExecutionSummaries": [
            {"pipelineExecutionId": f"e{n}", "status": "Succeeded", "startTime": now, "sourceRevisions": [{"actionName": "Checkout", "revisionId": commit}]}
            for n, commit in zip(range(len(commits), 0, -1), commits, strict=True)
        ]
    }


def test_a_commit_holding_the_tag_past_its_start_is_not_the_tags_commit(capsys):
    assert all(len(c) == 40 and TAG in c and not c.startswith(TAG) for c in NOT_TAGGED.values())
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub)
    pipeline_stub.add_response("list_pipeline_executions", executions(*NOT_TAGGED.values()), {"pipelineName": TARGET.pipeline})
    # No get_pipeline or start_pipeline_execution queued: starting anything fails the test.
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--tag", TAG], session_factory=Sessions(ecr, pipeline))
    pipeline_stub.assert_no_pending_responses()
    assert code == tool.EXIT_NOTHING_TO_REVERT == 2
    assert capsys.readouterr() == (
        "",
        f"revert: no execution of {TARGET.pipeline} among the last 2 built a commit starting with {TAG!r}; nothing was started. Pass the full commit SHA with --commit instead.\n",
    )


def test_the_tags_commit_is_the_one_it_starts_even_behind_newer_commits_holding_it_elsewhere():
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    image_found(ecr_stub)
    pipeline_stub.add_response("list_pipeline_executions", executions(NOT_TAGGED["middle"], NOT_TAGGED["end"], COMMIT), {"pipelineName": TARGET.pipeline})
    pipeline_declaration(pipeline_stub)
    started(pipeline_stub, COMMIT)  # the Stubber refuses any other revisionValue
    with ecr_stub, pipeline_stub:
        result = tool.revert(ecr, pipeline, TARGET, tag=TAG)
    pipeline_stub.assert_no_pending_responses()
    assert (result["commit"], result["tag"]) == (COMMIT, TAG)


@pytest.mark.parametrize("commit", ["3f2c1e9", "z" * 40, COMMIT + "0"])
def test_commit_must_be_a_full_sha(commit):
    with pytest.raises(tool.UsageError, match=r"is not a full 40-character commit SHA; use --tag for a short SHA"):
        tool.revert(None, None, TARGET, commit=commit)


def test_the_tag_is_the_build_tag_of_the_commit():
    assert tool.tag_for_commit(COMMIT) == COMMIT[:SHORT_SHA_LENGTH]


def test_pulumi_up_keeps_the_reverted_image(ecs_config):
    """A revert runs through the pipeline, whose record step writes the reverted image; the next
    `pulumi up` builds the task definition with it instead of the bootstrap image."""
    import json

    from offline.mocks import evaluate_stack

    # prod promotes from dev: it runs images from dev's repository.
    reverted = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app@{DIGEST}"
    prod_on_ecs = evaluate_stack("prod", ecs_config("prod"), ssm_parameters={"/container-cicd/prod/app/deployed-image": reverted})
    [container] = json.loads(prod_on_ecs.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    assert container["image"] == reverted


def services_stack_dir(tmp_path: Path, stack: str = "dev") -> Path:
    """tmp_path with Pulumi.yaml and Pulumi.<stack>.yaml plus the `services` of tests/test_services_stack.py (app, api,
    admin; a promoting stack's entries build nothing): the stack file an operator of a stack with services has."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    document = stackfile.load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    document["config"]["container-cicd:services"] = services_config(builds=stack != "prod")
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_a_stack_with_services_reverts_the_pipeline_and_repository_the_program_gives_the_named_service(tmp_path, evaluate):
    root = services_stack_dir(tmp_path)
    program = evaluate("dev", services=services_config())
    targets = {name: tool.read_stack("dev", root, name) for name in ("app", "api", "admin")}
    assert targets["api"] == tool.Target("container-cicd-dev-api-pipeline", "container-cicd-dev-api", "us-east-1")
    assert {t.pipeline for t in targets.values()} == {r.inputs["name"] for r in program.of_type("aws:codepipeline/pipeline:Pipeline")}
    assert {t.repository for t in targets.values()} == {r.inputs["name"] for r in program.of_type("aws:ecr/repository:Repository")}
    assert {name: program.outputs["services"][name]["pipelineName"] for name in targets} == {name: t.pipeline for name, t in targets.items()}


def test_cli_reverts_the_named_service_of_a_stack_with_services(tmp_path, capsys):
    ecr, pipeline, ecr_stub, pipeline_stub = clients()
    api = "container-cicd-dev-api"
    ecr_stub.add_response(
        "describe_images",
        {"imageDetails": [{"repositoryName": api, "imageDigest": DIGEST, "imageTags": [TAG]}]},
        {"repositoryName": api, "imageIds": [{"imageTag": TAG}]},
    )
    source = {"name": "Checkout", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}}
    declaration = {"name": f"{api}-pipeline", "roleArn": "arn:aws:iam::123456789012:role/pipeline", "stages": [{"name": "Source", "actions": [source]}]}
    pipeline_stub.add_response("get_pipeline", {"pipeline": declaration}, {"name": f"{api}-pipeline"})
    pipeline_stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "11111111-2222-3333-4444-555555555555"},
        {"name": f"{api}-pipeline", "sourceRevisions": [{"actionName": "Checkout", "revisionType": "COMMIT_ID", "revisionValue": COMMIT}]},
    )
    with ecr_stub, pipeline_stub:
        code = tool.main(["--stack", "dev", "--service", "api", "--commit", COMMIT], session_factory=Sessions(ecr, pipeline), root=services_stack_dir(tmp_path))
    assert code == tool.EXIT_STARTED
    pipeline_stub.assert_no_pending_responses()
    assert capsys.readouterr().out.startswith(f"Started {api}-pipeline execution 11111111-2222-3333-4444-555555555555 on commit {COMMIT} (image {api}@{DIGEST}, tag {TAG}).")


SERVICE_ERRORS = {
    "missing": (
        [],
        "--service: stack dev has services (app, api, admin), each with its own pipeline and repository; name the one to act on with --service NAME",
    ),
    "unknown": (["--service", "web"], "--service: 'web' is not a service of stack dev; its services: app, api, admin"),
}


@pytest.mark.parametrize(("extra", "message"), SERVICE_ERRORS.values(), ids=SERVICE_ERRORS.keys())
def test_a_stack_with_services_needs_one_of_its_service_names_before_any_aws_call(tmp_path, extra, message, capsys):
    sessions = Sessions()
    assert tool.main(["--stack", "dev", *extra, "--tag", TAG], session_factory=sessions, root=services_stack_dir(tmp_path)) == tool.EXIT_USAGE
    assert sessions.regions == []
    assert capsys.readouterr().err.startswith(f"revert: {message}\nusage: python -m tools.revert")


def test_a_stack_without_services_takes_its_service_name_as_service():
    assert tool.read_stack("dev", ROOT, "app") == tool.read_stack("dev") == tool.stack_target("dev", region="us-east-1")
