"""The promotion collector (functions/promotion_collector.py): its AWS calls offline against the real
botocore models (Stubber validates every request), the zip it writes, and the EventBridge patterns that
start it and the promoting pipeline, matched against sample events by moto's pattern engine."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.stub import ANY, Stubber

import functions.promotion_collector as collector
from components.promotion import contract
from components.promotion.collector import HANDLER
from tests import aws_models
from tests.iam_eval import Decision, allowed, decision
from tests.test_iam import role_name_of, role_policies

UPSTREAM = "123456789012"
PIPELINE = "container-cicd-dev-app-pipeline"
REPOSITORY = "container-cicd-dev-app"
REPOSITORY_URL = f"{UPSTREAM}.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}"
EXECUTION = "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
DIGEST = "sha256:" + "c" * 64
SSE_CONFIG = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ENV = {
    "UPSTREAM_ACCOUNT": UPSTREAM,
    "UPSTREAM_PIPELINE": PIPELINE,
    "UPSTREAM_REPOSITORY": REPOSITORY,
    "UPSTREAM_REPOSITORY_URL": REPOSITORY_URL,
    "CONTAINER_NAME": "app",
    "INBOX_BUCKET": "promotion-inbox-bucket-mock",
}


def succeeded(pipeline: str = PIPELINE, account: str = UPSTREAM, state: str = "SUCCEEDED") -> dict:
    """Shape from https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html"""
    return {
        "version": "0",
        "id": "01234567-0123-0123-0123-012345678901",
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "source": "aws.codepipeline",
        "account": account,
        "time": "2026-01-24T22:03:07Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:codepipeline:us-east-1:{account}:{pipeline}"],
        "detail": {
            "pipeline": pipeline,
            "execution-id": EXECUTION,
            "execution-trigger": {"trigger-type": "StartPipelineExecution", "trigger-detail": "arn:aws:sts::123456789012:assumed-role/x"},
            "state": state,
            "version": 1.0,
            "pipeline-execution-attempt": 1.0,
        },
    }


def clients():
    session = aws_models.session()
    ecr = session.create_client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    s3 = session.create_client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return ecr, s3, Stubber(ecr), Stubber(s3)


def image(stub: Stubber, tags: list[str]) -> None:
    stub.add_response(
        "describe_images",
        {"imageDetails": [{"registryId": UPSTREAM, "repositoryName": REPOSITORY, "imageDigest": DIGEST, "imageTags": tags}]},
        {"registryId": UPSTREAM, "repositoryName": REPOSITORY, "imageIds": [{"imageTag": f"execution-{EXECUTION}"}]},
    )


def capture_body(s3) -> list[bytes]:
    bodies: list[bytes] = []
    s3.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: bodies.append(params["Body"]))
    return bodies


def test_a_succeeded_execution_puts_its_verified_image_into_the_inbox():
    ecr, s3, ecr_stub, s3_stub = clients()
    image(ecr_stub, ["3f2c1e9", "deployed-3f2c1e9", "verified-3f2c1e9", f"execution-{EXECUTION}"])
    s3_stub.add_response("put_object", {"VersionId": "v2"}, {"Bucket": ENV["INBOX_BUCKET"], "Key": "promotion.zip", "Body": ANY})
    bodies = capture_body(s3)
    with ecr_stub, s3_stub:
        result = collector.handle(succeeded(), ENV, ecr, s3)
    ecr_stub.assert_no_pending_responses()
    s3_stub.assert_no_pending_responses()
    promotion = {
        "commit": "3f2c1e9",
        "digest": DIGEST,
        "imageUri": f"{REPOSITORY_URL}@{DIGEST}",
        "upstreamPipeline": PIPELINE,
        "upstreamExecutionId": EXECUTION,
        "upstreamAccount": UPSTREAM,
    }
    assert result == {"written": True, "version": "v2", **promotion}
    [body] = bodies
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["imagedefinitions.json", "promotion.json"]
        assert json.loads(archive.read("imagedefinitions.json")) == [{"name": "app", "imageUri": f"{REPOSITORY_URL}@{DIGEST}"}]
        assert json.loads(archive.read("promotion.json")) == promotion
    # The same promotion is the same bytes: no timestamps in the zip.
    assert collector.promotion_zip("app", promotion) == body


@pytest.mark.parametrize(
    "event",
    [succeeded(pipeline="container-cicd-staging-app-pipeline"), succeeded(account="210987654321"), succeeded(state="FAILED"), {"detail": {}}],
    ids=["another pipeline", "another account", "failed", "no detail"],
)
def test_events_of_anything_else_are_ignored_without_a_call(event):
    ecr, s3, ecr_stub, s3_stub = clients()
    # No responses queued: any call would fail the test.
    with ecr_stub, s3_stub:
        result = collector.handle(event, ENV, ecr, s3)
    assert result == {"written": False, "reason": "not the upstream pipeline's succeeded execution"}


def test_an_execution_that_verified_no_image_writes_nothing():
    """A rollback execution, or one whose Publish stage never ran: no image carries its execution tag."""
    ecr, s3, ecr_stub, s3_stub = clients()
    ecr_stub.add_client_error(
        "describe_images",
        service_error_code="ImageNotFoundException",
        service_message="The image with imageId {imageTag:'execution-...'} does not exist",
        expected_params={"registryId": UPSTREAM, "repositoryName": REPOSITORY, "imageIds": [{"imageTag": f"execution-{EXECUTION}"}]},
    )
    with ecr_stub, s3_stub:
        result = collector.handle(succeeded(), ENV, ecr, s3)
    assert result == {"written": False, "reason": f"no image tagged execution-{EXECUTION}"}


def test_an_image_without_the_verified_tag_writes_nothing():
    ecr, s3, ecr_stub, s3_stub = clients()
    image(ecr_stub, ["3f2c1e9", f"execution-{EXECUTION}"])
    with ecr_stub, s3_stub:
        result = collector.handle(succeeded(), ENV, ecr, s3)
    assert result == {"written": False, "reason": f"image {DIGEST} is not verified"}


def test_the_function_agrees_with_the_contract_and_its_deployment(prod):
    """It runs with the standard library and boto3 only; its names are the contract's; the program gives it
    exactly the environment it reads and a runtime the Lambda API knows."""
    assert (collector.VERIFIED_TAG_PREFIX, collector.EXECUTION_TAG_PREFIX, collector.INBOX_KEY, collector.PROMOTION_FILE) == (
        contract.VERIFIED_TAG_PREFIX,
        contract.EXECUTION_TAG_PREFIX,
        contract.INBOX_KEY,
        contract.PROMOTION_FILE,
    )
    imports = {line.split()[1].split(".")[0] for line in collector.__loader__.get_source(collector.__name__).splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"__future__", "io", "json", "logging", "os", "zipfile", "collections", "typing"}
    function = prod.one("aws:lambda/function:Function").inputs
    assert sorted(function["environment"]["variables"]) == sorted(collector.ENVIRONMENT)
    assert function["handler"] == "promotion_collector.handler" and hasattr(collector, "handler")
    runtimes = aws_models.session().get_service_model("lambda").shape_for("Runtime").enum
    assert function["runtime"] in runtimes
    assert function["code"] == {"archive": {"promotion_collector.py": {"file": "functions/promotion_collector.py", "sha256": ANY}}}


def test_its_clients_are_bounded_and_its_timeout_covers_both_calls(prod, monkeypatch):
    """Each call is cut at 2 s to connect and 5 s to read, 3 attempts in botocore's standard mode (at most 34 s with
    the backoffs); two calls and 10 s for the handler make the function's 78 s timeout."""
    made = {}
    monkeypatch.setattr("boto3.client", lambda service, config=None: made.setdefault(service, config))
    monkeypatch.setattr(collector, "handle", lambda event, env, ecr, s3: {})
    for name in collector.ENVIRONMENT:
        monkeypatch.setenv(name, "x")
    collector.handler({}, None)
    assert sorted(made) == ["ecr", "s3"]
    for config in made.values():
        assert (config.connect_timeout, config.read_timeout, config.retries) == (2, 5, {"mode": "standard", "total_max_attempts": 3})
    assert (collector.CALL_WORST_SECONDS, collector.INVOCATION_WORST_SECONDS) == (34, 68)
    assert prod.one("aws:lambda/function:Function").inputs["timeout"] == 78


# ---- the patterns against sample events (moto's EventBridge pattern engine as the authority) ----


def matches(pattern: dict, event: dict) -> bool:
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def rule_pattern(result, name: str) -> dict:
    return json.loads(result.named(name).inputs["eventPattern"])


def test_the_collector_starts_on_the_upstream_pipelines_succeeded_executions_only(prod):
    pattern = rule_pattern(prod, "promotion-collector-on-upstream")
    assert pattern == {
        "source": ["aws.codepipeline"],
        "account": [UPSTREAM],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"pipeline": [PIPELINE], "state": ["SUCCEEDED"]},
    }
    assert matches(pattern, succeeded())
    assert not matches(pattern, succeeded(state="FAILED"))
    assert not matches(pattern, succeeded(pipeline="container-cicd-prod-app-pipeline"))
    assert not matches(pattern, succeeded(account="210987654321"))


def object_created(bucket: str, key: str = "promotion.zip") -> dict:
    """Shape from https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html"""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": UPSTREAM,
        "time": "2026-01-24T22:03:09Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 512, "etag": "b1946ac92492d2347c6235b4d2611184", "version-id": "v2", "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": UPSTREAM,
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }


def test_the_promoting_pipeline_starts_when_the_inbox_object_is_written(prod):
    bucket = prod.named("promotion-inbox-bucket").outputs["bucket"]
    start = prod.named("pipeline-start")
    pattern = json.loads(start.inputs["eventPattern"])
    assert matches(pattern, object_created(bucket))
    assert not matches(pattern, object_created(bucket, "other.zip"))
    assert not matches(pattern, object_created("another-bucket"))
    assert start.inputs["description"] == "Start container-cicd-prod-app-pipeline on a promotion written to promotion.zip in its inbox"
    [target] = [t for t in prod.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.name == "pipeline-start-target"]
    assert target.inputs["arn"] == prod.one("aws:codepipeline/pipeline:Pipeline").outputs["arn"]
    # S3 sends the bucket's events to EventBridge (off by default).
    assert prod.named("promotion-inbox-events").inputs == {"bucket": bucket, "eventbridge": True}


# ---- the collector's grant on the inbox key, evaluated as IAM would for S3's KMS call ----


def collector_statements(result) -> list[dict]:
    """The collector role's statements as the stack renders them (its inline policy)."""
    [function] = [f for f in result.of_type("aws:lambda/function:Function") if f.inputs["handler"] == HANDLER]
    role = role_name_of(result, function.inputs["role"])
    return [statement for name, statement in role_policies(result) if name == role]


def default_encryption(result, bucket: str) -> dict:
    [config] = [c for c in result.of_type(SSE_CONFIG) if c.inputs["bucket"] == bucket]
    [rule] = config.inputs["rules"]
    return rule


def s3_kms_request(s3_arn: str) -> dict:
    """The condition keys of the kms:GenerateDataKey call S3 makes, with the writer's credentials, when it
    encrypts a new object under the bucket's default SSE-KMS key: the encryption context is
    {"aws:s3:arn": <object ARN>}, or <bucket ARN> when the bucket uses an S3 Bucket Key
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html, "Encryption context";
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key.html)."""
    return {
        "kms:EncryptionContext:aws:s3:arn": s3_arn,
        "kms:EncryptionContextKeys": ["aws:s3:arn"],
        "kms:ViaService": "s3.us-east-1.amazonaws.com",
        "kms:CallerAccount": "123456789012",
    }


def test_the_collector_may_encrypt_the_inbox_object_and_no_other_buckets(prod):
    statements = collector_statements(prod)
    inbox = prod.named("promotion-inbox-bucket").outputs
    rule = default_encryption(prod, inbox["bucket"])
    key = rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    # The function writes with the bucket's default encryption (no SSE arguments): SSE-KMS under `key` with an
    # S3 Bucket Key, so the context S3 sends is the bucket's ARN.
    assert (rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"], rule["bucketKeyEnabled"]) == ("aws:kms", True)
    assert decision(statements, "s3:PutObject", f"{inbox['arn']}/promotion.zip", {}) == Decision(True, "allowed by statement 'WritePromotion'")
    assert decision(statements, "kms:GenerateDataKey", key, s3_kms_request(inbox["arn"])) == Decision(True, "allowed by statement 'EncryptPromotion'")
    # Were the Bucket Key turned off, the context would be the object's ARN: still allowed.
    assert allowed(statements, "kms:GenerateDataKey", key, s3_kms_request(f"{inbox['arn']}/promotion.zip"))
    # The artifact store is encrypted under the same key: only the condition keeps the collector out of it.
    artifacts = prod.named("artifacts-bucket").outputs
    assert default_encryption(prod, artifacts["bucket"])["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key
    for other in (artifacts["arn"], f"{artifacts['arn']}/container-cicd-prod-app-pipeline/x.zip", f"{inbox['arn']}-other", f"{inbox['arn']}-other/promotion.zip"):
        found = decision(statements, "kms:GenerateDataKey", key, s3_kms_request(other))
        assert not found.allowed, other
        assert found.reason.startswith(f"implicitly denied: no statement allows kms:GenerateDataKey on {key}; statement 'EncryptPromotion' (Allow) names"), found.reason
    # Nor may it ask KMS for a data key directly, outside any S3 request.
    assert not allowed(statements, "kms:GenerateDataKey", key, {"kms:CallerAccount": "123456789012"})
    assert not allowed(statements, "kms:Decrypt", key, s3_kms_request(inbox["arn"]))
