"""Promotion on demand: `python -m tools.revert --stack prod --digest sha256:...` writes an image the upstream
verified into prod's promotion inbox, and refuses anything else (exit 2). AWS calls offline against the
real botocore models (Stubber validates every request's parameters)."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from botocore.stub import ANY, Stubber

from tests import aws_models
from tests.test_revert import services_stack_dir
from tests.test_services_stack import services_config
from tools import promote
from tools import revert as tool

DIGEST = "sha256:" + "d" * 64
EXECUTION = "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
UPSTREAM_REPOSITORY = "container-cicd-dev-app"
INBOX = "promotion-inbox-bucket-0a1b2c3d"


def clients():
    session = aws_models.session()
    made = {name: session.create_client(name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x") for name in ("ecr", "s3", "codepipeline")}
    return made, {name: Stubber(client) for name, client in made.items()}


class Sessions:
    def __init__(self, made=None):
        self.made = made or {}
        self.regions: list[str | None] = []

    def __call__(self, region):
        self.regions.append(region)
        return self

    def client(self, name):
        return self.made[name]


def upstream_image(stub: Stubber, tags: list[str], registry_id: str | None = None) -> None:
    """The upstream registry's answer; with `registry_id`, the tool must have asked that account's registry."""
    stub.add_response(
        "describe_images",
        {"imageDetails": [{"registryId": registry_id or "123456789012", "repositoryName": UPSTREAM_REPOSITORY, "imageDigest": DIGEST, "imageTags": tags}]},
        {"repositoryName": UPSTREAM_REPOSITORY, "imageIds": [{"imageDigest": DIGEST}], **({"registryId": registry_id} if registry_id else {})},
    )


def inbox_pipeline(stub: Stubber) -> None:
    stub.add_response(
        "get_pipeline",
        {
            "pipeline": {
                "name": "container-cicd-prod-app-pipeline",
                "roleArn": "arn:aws:iam::123456789012:role/pipeline",
                "stages": [
                    {
                        "name": "Source",
                        "actions": [
                            {
                                "name": "Source",
                                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                                "configuration": {"S3Bucket": INBOX, "S3ObjectKey": "promotion.zip", "PollForSourceChanges": "false"},
                            }
                        ],
                    },
                    {"name": "Check", "actions": [{"name": "CheckVerified", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}}]},
                ],
            }
        },
        {"name": "container-cicd-prod-app-pipeline"},
    )


def test_the_promotion_target_is_what_the_program_names(prod, dev):
    project, settings, region = tool.read_settings("prod")
    target = promote.promotion_target("prod", settings, project, region)
    assert target == promote.PromotionTarget(
        pipeline=prod.one("aws:codepipeline/pipeline:Pipeline").inputs["name"],
        container_name="app",
        upstream_pipeline=dev.one("aws:codepipeline/pipeline:Pipeline").inputs["name"],
        upstream_repository=dev.one("aws:ecr/repository:Repository").inputs["name"],
        upstream_account=None,
        region="us-east-1",
    )
    # The inbox the tool reads from the pipeline is the one the program made its Source.
    [source] = prod.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"][0]["actions"]
    assert (source["provider"], source["configuration"]["S3ObjectKey"]) == ("S3", "promotion.zip")


def test_cli_writes_a_verified_image_into_the_inbox_and_exits_0(capsys):
    made, stubs = clients()
    upstream_image(stubs["ecr"], ["3f2c1e9", "deployed-3f2c1e9", "verified-3f2c1e9", f"execution-{EXECUTION}"])
    inbox_pipeline(stubs["codepipeline"])
    stubs["s3"].add_response("put_object", {"VersionId": "v7"}, {"Bucket": INBOX, "Key": "promotion.zip", "Body": ANY})
    bodies: list[bytes] = []
    made["s3"].meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: bodies.append(params["Body"]))
    sessions = Sessions(made)
    with stubs["ecr"], stubs["s3"], stubs["codepipeline"]:
        code = tool.main(["--stack", "prod", "--digest", DIGEST], session_factory=sessions)
    assert code == tool.EXIT_STARTED == 0
    assert sessions.regions == ["us-east-1"]
    for stub in stubs.values():
        stub.assert_no_pending_responses()
    image_uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{UPSTREAM_REPOSITORY}@{DIGEST}"
    with zipfile.ZipFile(io.BytesIO(bodies[0])) as archive:
        assert json.loads(archive.read("imagedefinitions.json")) == [{"name": "app", "imageUri": image_uri}]
        assert json.loads(archive.read("promotion.json")) == {
            "commit": "3f2c1e9",
            "digest": DIGEST,
            "imageUri": image_uri,
            "upstreamPipeline": "container-cicd-dev-app-pipeline",
            "upstreamExecutionId": EXECUTION,
            "upstreamAccount": "123456789012",
        }
    assert capsys.readouterr().out.startswith(f"Wrote s3://{INBOX}/promotion.zip (version v7): image {image_uri}, commit 3f2c1e9, verified by ")


@pytest.mark.parametrize(
    ("tags", "why"),
    [([], "does not carry the upstream's verified tags"), (["3f2c1e9", "deployed-3f2c1e9"], "does not carry"), (["verified-3f2c1e9"], "does not carry")],
    ids=["untagged", "deployed, never verified", "no execution tag"],
)
def test_cli_refuses_an_image_the_upstream_did_not_verify_and_writes_nothing(tags, why, capsys):
    made, stubs = clients()
    upstream_image(stubs["ecr"], tags)
    # No pipeline or S3 responses: a call would fail the test.
    with stubs["ecr"], stubs["s3"], stubs["codepipeline"]:
        code = tool.main(["--stack", "prod", "--digest", DIGEST], session_factory=Sessions(made))
    assert code == tool.EXIT_NOTHING_TO_REVERT == 2
    err = capsys.readouterr().err
    assert err.startswith(f"revert: image {DIGEST} in {UPSTREAM_REPOSITORY} {why}")
    assert err.rstrip().endswith("container-cicd-dev-app-pipeline never deployed and verified it; nothing was written")


def test_cli_refuses_a_digest_the_upstream_registry_does_not_hold(capsys):
    made, stubs = clients()
    stubs["ecr"].add_client_error("describe_images", service_error_code="ImageNotFoundException", service_message="not found")
    with stubs["ecr"], stubs["s3"], stubs["codepipeline"]:
        code = tool.main(["--stack", "prod", "--digest", DIGEST], session_factory=Sessions(made))
    assert code == 2
    assert capsys.readouterr().err == f"revert: image {DIGEST} is not in {UPSTREAM_REPOSITORY}; nothing was written\n"


def test_another_account_is_asked_by_registry_id():
    """promoteFromAccount: the upstream registry is another account's; the URI names that account."""
    made, stubs = clients()
    upstream_image(stubs["ecr"], ["verified-3f2c1e9", f"execution-{EXECUTION}"], registry_id="210987654321")
    inbox_pipeline(stubs["codepipeline"])
    stubs["s3"].add_response("put_object", {}, {"Bucket": INBOX, "Key": "promotion.zip", "Body": ANY})
    target = promote.PromotionTarget("container-cicd-prod-app-pipeline", "app", "container-cicd-dev-app-pipeline", UPSTREAM_REPOSITORY, "210987654321", "us-east-1")
    with stubs["ecr"], stubs["s3"], stubs["codepipeline"]:
        result = promote.promote(made["ecr"], made["s3"], made["codepipeline"], target, DIGEST)
    assert result["imageUri"] == f"210987654321.dkr.ecr.us-east-1.amazonaws.com/{UPSTREAM_REPOSITORY}@{DIGEST}"
    assert result["upstreamAccount"] == "210987654321"


USAGE = {
    "digest shape": (["--stack", "prod", "--digest", "sha256:abc"], r"--digest: 'sha256:abc' is not an image digest; write sha256: and the 64 lowercase hex characters"),
    "digest and tag": (["--stack", "prod", "--digest", DIGEST, "--tag", "3f2c1e9"], r"argument --tag: not allowed with argument --digest"),
}


@pytest.mark.parametrize(("argv", "message"), USAGE.values(), ids=USAGE.keys())
def test_usage_errors_exit_64_before_any_aws_client_exists(argv, message, capsys):
    sessions = Sessions()
    assert tool.main(argv, session_factory=sessions) == tool.EXIT_USAGE == 64
    assert sessions.regions == []
    err = capsys.readouterr().err
    assert re.search(rf"^revert: {message}", err), err


def test_a_pipeline_without_an_inbox_is_refused():
    made, stubs = clients()
    stubs["codepipeline"].add_response(
        "get_pipeline",
        {
            "pipeline": {
                "name": "p",
                "roleArn": "arn:aws:iam::123456789012:role/pipeline",
                "stages": [
                    {"name": "Source", "actions": [{"name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}}]},
                    {"name": "Build", "actions": [{"name": "Build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}}]},
                ],
            }
        },
        {"name": "p"},
    )
    with stubs["codepipeline"], pytest.raises(tool.RevertError, match=r"^pipeline p has no promotion inbox \(its source is CodeCommit\); nothing was written$"):
        promote.inbox_of(made["codepipeline"], "p")


def test_a_service_of_a_promoting_stack_promotes_from_the_same_named_upstream_service(tmp_path, evaluate, capsys):
    """prod with services (app, api, admin) promotes each from dev's service of its name: --service api reads
    dev's api registry and writes into prod's api inbox."""
    root = services_stack_dir(tmp_path, "prod")
    upstream = evaluate("dev", services=services_config()).outputs["services"]["api"]
    project, settings, region = tool.read_settings("prod", root)
    target = promote.promotion_target("prod", tool.service_settings("prod", settings, "api"), project, region)
    assert (target.pipeline, target.upstream_pipeline, target.upstream_repository) == (
        "container-cicd-prod-api-pipeline",
        upstream["pipelineName"],
        upstream["repositoryUrl"].split("/", 1)[1],
    )
    made, stubs = clients()
    api = "container-cicd-dev-api"
    stubs["ecr"].add_response(
        "describe_images",
        {"imageDetails": [{"registryId": "123456789012", "repositoryName": api, "imageDigest": DIGEST, "imageTags": ["verified-3f2c1e9", f"execution-{EXECUTION}"]}]},
        {"repositoryName": api, "imageIds": [{"imageDigest": DIGEST}]},
    )
    source_type = {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}
    source = {"name": "Source", "actionTypeId": source_type, "configuration": {"S3Bucket": INBOX, "S3ObjectKey": "promotion.zip"}}
    declaration = {"name": target.pipeline, "roleArn": "arn:aws:iam::123456789012:role/pipeline", "stages": [{"name": "Source", "actions": [source]}]}
    stubs["codepipeline"].add_response("get_pipeline", {"pipeline": declaration}, {"name": "container-cicd-prod-api-pipeline"})
    stubs["s3"].add_response("put_object", {"VersionId": "v1"}, {"Bucket": INBOX, "Key": "promotion.zip", "Body": ANY})
    with stubs["ecr"], stubs["s3"], stubs["codepipeline"]:
        code = tool.main(["--stack", "prod", "--service", "api", "--digest", DIGEST], session_factory=Sessions(made), root=root)
    assert code == tool.EXIT_STARTED
    for stub in stubs.values():
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert f"/{api}@{DIGEST}, commit 3f2c1e9, verified by {api}-pipeline execution {EXECUTION}. The new object starts container-cicd-prod-api-pipeline;" in out


def test_a_promoting_stack_with_services_needs_the_service_to_promote(tmp_path, capsys):
    sessions = Sessions()
    assert tool.main(["--stack", "prod", "--digest", DIGEST], session_factory=sessions, root=services_stack_dir(tmp_path, "prod")) == tool.EXIT_USAGE
    assert sessions.regions == []
    message = "--service: stack prod has services (app, api, admin), each with its own pipeline and repository; name the one to act on with --service NAME"
    assert capsys.readouterr().err.startswith(f"revert: {message}\nusage: python -m tools.revert")
