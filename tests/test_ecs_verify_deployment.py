"""The ECS verify action against stubbed ECS, CodePipeline and CloudWatch clients (botocore's Stubber): every
deployment status, the digest check, the continuation and its bound, and the record and metrics it writes.
Every request the function sends is also checked against botocore's models by tests/aws_models.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from functions import deployment_record as records
from functions import ecs_verify_deployment as verify
from tests import aws_models
from tests.aws_models import validate

JOB = "11111111-abcd-1111-abcd-111111abcdef"
DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{DIGEST}"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/cluster/app"
DEPLOYMENT = "arn:aws:ecs:us-east-1:123456789012:service-deployment/cluster/app/EZe5RNVLH6PPzHXINuP28"
OLDER = "arn:aws:ecs:us-east-1:123456789012:service-deployment/cluster/app/older"
REVISION = "arn:aws:ecs:us-east-1:123456789012:service-revision/cluster/app/9313423515462893900"
CREATED = datetime(2025, 7, 10, 13, 0, 0, tzinfo=UTC)
STARTED = datetime(2025, 7, 10, 13, 0, 5, tzinfo=UTC)
FINISHED = datetime(2025, 7, 10, 13, 4, 35, 500000, tzinfo=UTC)
NOW = datetime(2025, 7, 10, 13, 10, 0, tzinfo=UTC)
ENV = {"SERVICE_ID": "shop-dev-app", "MAX_WAIT_MINUTES": "30"}
PARAMS = {"cluster": "cluster", "service": "app", "expectedImage": IMAGE, "commit": COMMIT, "strategy": "blue-green"}
STATUSES = aws_models.session().get_service_model("ecs").shape_for("ServiceDeploymentStatus").enum


def job(params: dict | str = PARAMS, token: str | None = None) -> dict:
    data = {"actionConfiguration": {"configuration": {"FunctionName": "verify", "UserParameters": params if isinstance(params, str) else json.dumps(params)}}}
    if token is not None:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": JOB, "accountId": "123456789012", "data": data}}


class Aws:
    """Three stubbed clients; every request they send is validated against botocore's model."""

    def __init__(self):
        self.invalid: list[str] = []
        self.ecr_regions: list[str] = []
        made = {}
        for service in ("ecs", "codepipeline", "cloudwatch", "ecr"):
            client = boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
            client.meta.events.register("before-parameter-build", self._validate)
            made[service] = client

        def ecr(region):
            self.ecr_regions.append(region)
            return made["ecr"]

        self.clients = verify.Clients(made["ecs"], made["codepipeline"], made["cloudwatch"], ecr)
        self.ecs, self.codepipeline, self.cloudwatch, self.ecr = (Stubber(made[s]) for s in ("ecs", "codepipeline", "cloudwatch", "ecr"))

    def _validate(self, params, model, **_):
        self.invalid += validate(model.service_model.service_name, model.name, params)

    def list(self, *briefs, expected=None, next_token=None, **extra):
        response = {"serviceDeployments": list(briefs), **({"nextToken": next_token} if next_token else {})}
        self.ecs.add_response("list_service_deployments", response, expected or {"cluster": "cluster", "service": "app", "maxResults": 100, **extra})

    def describe(self, status, arn=DEPLOYMENT, **fields):
        deployment = {"serviceDeploymentArn": arn, "serviceArn": SERVICE_ARN, "createdAt": CREATED, "startedAt": STARTED, "status": status}
        deployment.update({"targetServiceRevision": {"arn": REVISION}, **fields})
        self.ecs.add_response("describe_service_deployments", {"serviceDeployments": [deployment], "failures": []}, {"serviceDeploymentArns": [arn]})

    def revision(self, *images):
        revision = {"serviceRevisionArn": REVISION, "containerImages": [{"containerName": n, "imageDigest": d, "image": f"repo@{d}"} for n, d in images]}
        self.ecs.add_response("describe_service_revisions", {"serviceRevisions": [revision], "failures": []}, {"serviceRevisionArns": [REVISION]})

    def metrics(self, verdict_metric, duration):
        dimensions = [{"Name": "Service", "Value": "shop-dev-app"}]
        at = FINISHED if duration == 270.5 else NOW
        data = [
            {"MetricName": "DeploymentDurationSeconds", "Dimensions": dimensions, "Timestamp": at, "Value": duration, "Unit": "Seconds"},
            {"MetricName": verdict_metric, "Dimensions": dimensions, "Timestamp": at, "Value": 1.0, "Unit": "Count"},
        ]
        self.cloudwatch.add_response("put_metric_data", {}, {"Namespace": "ContainerCicd/Deployments", "MetricData": data})

    def success(self, summary, token=None):
        expected = {"jobId": JOB, "executionDetails": {"summary": summary}, **({"continuationToken": token} if token else {})}
        self.codepipeline.add_response("put_job_success_result", {}, expected)

    def failure(self, message, kind="JobFailed", external=DEPLOYMENT):
        details = {"type": kind, "message": message, **({"externalExecutionId": external} if external else {})}
        self.codepipeline.add_response("put_job_failure_result", {}, {"jobId": JOB, "failureDetails": details})

    def index(self, *children, media_type="application/vnd.oci.image.index.v1+json"):
        """The registry's answer for the expected digest: an index over `children` (or, with another media type, a
        single manifest)."""
        entries = [{"digest": c, "mediaType": "application/vnd.oci.image.manifest.v1+json"} for c in children]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})
        expected = {"registryId": "123456789012", "repositoryName": "app", "imageIds": [{"imageDigest": DIGEST}], "acceptedMediaTypes": list(verify.MANIFEST_MEDIA_TYPES)}
        image = {"imageId": {"imageDigest": DIGEST}, "imageManifest": manifest, "imageManifestMediaType": media_type}
        self.ecr.add_response("batch_get_image", {"images": [image], "failures": []}, expected)

    def run(self, event, env=ENV):
        with self.ecs, self.codepipeline, self.cloudwatch, self.ecr:
            result = verify.verify(event, self.clients, env, now=lambda: NOW)
            for stub in (self.ecs, self.codepipeline, self.cloudwatch, self.ecr):
                stub.assert_no_pending_responses()
        assert self.invalid == []
        return result


@pytest.fixture
def aws():
    return Aws()


def brief(arn, created):
    return {"serviceDeploymentArn": arn, "serviceArn": SERVICE_ARN, "createdAt": created, "status": "SUCCESSFUL"}


def printed_records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_successful_deployment_running_the_built_digest_succeeds_and_is_recorded(aws, capsys):
    # Listed out of order: the newest is the one created last, wherever the API puts it.
    aws.list(brief(DEPLOYMENT, CREATED), brief(OLDER, datetime(2025, 7, 9, tzinfo=UTC)))
    aws.describe("SUCCESSFUL", finishedAt=FINISHED)
    aws.revision(("app", DIGEST), ("log-router", OTHER))
    aws.metrics("DeploymentSucceeded", 270.5)
    aws.success(f"ECS deployment {DEPLOYMENT} is SUCCESSFUL and runs {DIGEST}")
    assert aws.run(job())["result"] == "success"
    assert printed_records(capsys) == [
        {
            "recordType": "deployment",
            "target": "ecs",
            "service": "shop-dev-app",
            "commit": COMMIT,
            "image": IMAGE,
            "digest": DIGEST,
            "strategy": "blue-green",
            "deployment": DEPLOYMENT,
            "startedAt": "2025-07-10T13:00:05.000Z",
            "finishedAt": "2025-07-10T13:04:35.500Z",
            "durationSeconds": 270.5,
            "outcome": "SUCCEEDED",
            "reason": None,
            "sbom": None,
            "scan": None,
        }
    ]


def test_every_ecs_deployment_status_is_classified_exactly_once():
    """botocore's ServiceDeploymentStatus enum is the authority: a status AWS adds fails here until classified."""
    classified = [*verify.NOT_FINAL, *verify.FINAL_OUTCOMES]
    assert sorted(classified) == sorted(STATUSES)
    assert len(classified) == len(set(classified))
    assert set(verify.FINAL_OUTCOMES.values()) == set(records.OUTCOMES)


@pytest.mark.parametrize("status", STATUSES)
def test_each_status_on_the_first_check(aws, capsys, status):
    aws.list(brief(DEPLOYMENT, CREATED))
    if status in verify.NOT_FINAL:
        aws.describe(status)
        token = json.dumps({"deployment": DEPLOYMENT, "attempt": 1}, separators=(",", ":"))
        aws.success(f"ECS deployment {DEPLOYMENT} is {status}; check 1, 10 of 30 min since ECS created it", token=token)
        assert aws.run(job()) == {"result": "continuation", "token": token}
        assert printed_records(capsys) == []  # no verdict, no record
    elif status == "SUCCESSFUL":
        aws.describe(status, finishedAt=FINISHED)
        aws.revision(("app", DIGEST))
        aws.metrics("DeploymentSucceeded", 270.5)
        aws.success(f"ECS deployment {DEPLOYMENT} is SUCCESSFUL and runs {DIGEST}")
        assert aws.run(job())["result"] == "success"
        assert printed_records(capsys)[0]["outcome"] == "SUCCEEDED"
    else:
        aws.describe(status, finishedAt=FINISHED, statusReason="Alarm app-5xx fired")
        aws.metrics("DeploymentFailed", 270.5)
        message = f"ECS deployment {DEPLOYMENT} ended {status}: Alarm app-5xx fired"
        aws.failure(message)
        assert aws.run(job())["result"] == "failure"
        [rec] = printed_records(capsys)
        assert (rec["outcome"], rec["reason"]) == ({"ROLLBACK_SUCCESSFUL": "ROLLED_BACK", "ROLLBACK_FAILED": "FAILED", "STOPPED": "STOPPED"}[status], message)


def test_a_successful_deployment_running_another_digest_fails_naming_both(aws, capsys):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("SUCCESSFUL", finishedAt=FINISHED)
    aws.revision(("app", OTHER), ("log-router", "sha256:" + "c" * 64))
    aws.index("sha256:" + "d" * 64)  # the build's index holds neither
    aws.metrics("DeploymentFailed", 270.5)
    message = f"ECS deployment {DEPLOYMENT} is SUCCESSFUL but its revision runs app={OTHER}, log-router={'sha256:' + 'c' * 64}, not the build's {DIGEST}"
    aws.failure(message)
    assert aws.run(job())["result"] == "failure"
    assert printed_records(capsys)[0]["reason"] == message


def test_a_platform_manifest_of_the_built_index_is_the_built_image(aws, capsys):
    """ECS may report the digest of the platform manifest it pulled rather than the index the task definition
    names (the API reference does not say which): a manifest the build's index lists is the build's image."""
    platform = "sha256:" + "e" * 64
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("SUCCESSFUL", finishedAt=FINISHED)
    aws.revision(("app", platform))
    aws.index("sha256:" + "d" * 64, platform)
    aws.metrics("DeploymentSucceeded", 270.5)
    aws.success(f"ECS deployment {DEPLOYMENT} is SUCCESSFUL and runs {platform}, a platform manifest of the build's {DIGEST}")
    assert aws.run(job({**PARAMS, "expectedImage": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@{DIGEST}"}))["result"] == "success"
    assert aws.ecr_regions == ["eu-west-1"]  # the registry's region, from the image reference
    assert printed_records(capsys)[0]["outcome"] == "SUCCEEDED"


def test_a_digest_that_is_not_an_index_has_no_platform_manifests(aws):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("SUCCESSFUL", finishedAt=FINISHED)
    aws.revision(("app", OTHER))
    aws.index(OTHER, media_type="application/vnd.oci.image.manifest.v1+json")  # a manifest listing "children" is no index
    aws.metrics("DeploymentFailed", 270.5)
    aws.failure(f"ECS deployment {DEPLOYMENT} is SUCCESSFUL but its revision runs app={OTHER}, not the build's {DIGEST}")
    assert aws.run(job())["result"] == "failure"


def test_a_named_container_must_be_the_one_running_the_digest(aws):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("SUCCESSFUL", finishedAt=FINISHED)
    aws.revision(("app", OTHER), ("sidecar", DIGEST))
    aws.index("sha256:" + "d" * 64)
    aws.metrics("DeploymentFailed", 270.5)
    aws.failure(f"ECS deployment {DEPLOYMENT} is SUCCESSFUL but its revision runs app={OTHER}, not the build's {DIGEST}")
    assert aws.run(job({**PARAMS, "container": "app"}))["result"] == "failure"


def test_a_continuation_follows_its_own_deployment_and_stops_at_the_bound(aws, capsys):
    """Re-invoked with the token: no new listing (a deployment started meanwhile never replaces ours); the
    count goes on; once the deployment is MAX_WAIT_MINUTES old (ECS's createdAt, 13:00, against now, 13:10) the job
    fails with a FAILED record ending now, however few checks CodePipeline made."""
    aws.describe("ROLLBACK_IN_PROGRESS")
    second = json.dumps({"deployment": DEPLOYMENT, "attempt": 2}, separators=(",", ":"))
    aws.success(f"ECS deployment {DEPLOYMENT} is ROLLBACK_IN_PROGRESS; check 2, 10 of 30 min since ECS created it", token=second)
    assert aws.run(job(token=json.dumps({"deployment": DEPLOYMENT, "attempt": 1}))) == {"result": "continuation", "token": second}

    last = Aws()
    last.describe("IN_PROGRESS")
    last.metrics("DeploymentFailed", 595.0)  # 13:00:05 to now (13:10:00)
    last.failure(f"ECS deployment {DEPLOYMENT} is still IN_PROGRESS 10 min after ECS created it, at check 3 (MAX_WAIT_MINUTES=10)")
    assert last.run(job(token=second), env={**ENV, "MAX_WAIT_MINUTES": "10"})["result"] == "failure"
    assert [(r["outcome"], r["finishedAt"]) for r in printed_records(capsys)] == [("FAILED", "2025-07-10T13:10:00.000Z")]


def test_a_deployment_older_than_the_bound_fails_at_the_first_check(aws):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("IN_PROGRESS")
    aws.metrics("DeploymentFailed", 595.0)
    aws.failure(f"ECS deployment {DEPLOYMENT} is still IN_PROGRESS 10 min after ECS created it, at check 1 (MAX_WAIT_MINUTES=9)")
    assert aws.run(job(), env={**ENV, "MAX_WAIT_MINUTES": "9"})["result"] == "failure"


def test_every_client_is_made_with_bounded_timeouts_and_retries(monkeypatch):
    """The function's timeout is sized from these (components/deploy/ecs/verify.py)."""
    made = {}
    monkeypatch.setattr(verify.boto3, "client", lambda service, region_name=None, config=None: made.setdefault(service, config))
    monkeypatch.setattr(verify, "verify", lambda event, clients, env: clients.ecr("us-east-1"))
    verify.handler({}, None)
    assert made == dict.fromkeys(("ecs", "codepipeline", "cloudwatch", "ecr"), verify.CLIENT_CONFIG)
    config = verify.CLIENT_CONFIG
    assert (config.connect_timeout, config.read_timeout, config.retries) == (2, 5, {"mode": "standard", "total_max_attempts": 3})
    # 3 attempts of 2 + 5 s, backoffs of at most 1 + 5 and 2 + 5 s; 20 pages and 5 more calls.
    assert (verify.CALL_WORST_SECONDS, verify.INVOCATION_WORST_SECONDS) == (34, 850)


def test_the_newest_deployment_is_looked_for_on_every_page_and_after_started_at(aws):
    after = datetime(2025, 7, 10, 12, 59, tzinfo=UTC)
    aws.list(brief(OLDER, datetime(2025, 7, 10, 12, 59, 30, tzinfo=UTC)), next_token="page-2", createdAt={"after": after})
    aws.list(brief(DEPLOYMENT, CREATED), expected={"cluster": "cluster", "service": "app", "maxResults": 100, "createdAt": {"after": after}, "nextToken": "page-2"})
    aws.describe("PENDING")
    token = json.dumps({"deployment": DEPLOYMENT, "attempt": 1}, separators=(",", ":"))
    aws.success(f"ECS deployment {DEPLOYMENT} is PENDING; check 1, 10 of 30 min since ECS created it", token=token)
    assert aws.run(job({**PARAMS, "startedAt": "2025-07-10T12:59:00Z"}))["token"] == token


def test_no_deployment_listed_fails_without_a_record(aws, capsys):
    aws.list(createdAt={"after": datetime(2025, 7, 10, 12, 59, tzinfo=UTC)})
    aws.failure("ECS lists no deployment of service app in cluster cluster created after 2025-07-10T12:59:00.000Z: nothing was deployed to verify", external=None)
    assert aws.run(job({**PARAMS, "startedAt": "2025-07-10T12:59:00+00:00"}))["result"] == "failure"
    assert printed_records(capsys) == []


def test_an_aws_error_is_reported_as_the_job_failure(aws):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.ecs.add_client_error("describe_service_deployments", "AccessDeniedException", "not authorized to perform ecs:DescribeServiceDeployments")
    aws.failure(
        "An error occurred (AccessDeniedException) when calling the DescribeServiceDeployments operation: not authorized to perform ecs:DescribeServiceDeployments",
        external=None,
    )
    assert aws.run(job())["failure"]["type"] == "JobFailed"


def test_a_status_this_function_does_not_know_fails_closed(aws):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("PAUSED")
    aws.failure(f"ECS deployment {DEPLOYMENT} has status 'PAUSED', which this function does not know; classify it in ecs_verify_deployment", external=None)
    assert aws.run(job())["result"] == "failure"


def test_a_metrics_error_is_noted_and_does_not_change_the_verdict(aws):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("SUCCESSFUL", finishedAt=FINISHED)
    aws.revision(("app", DIGEST))
    aws.cloudwatch.add_client_error("put_metric_data", "ThrottlingException", "Rate exceeded")
    note = "An error occurred (ThrottlingException) when calling the PutMetricData operation: Rate exceeded"
    aws.success(f"ECS deployment {DEPLOYMENT} is SUCCESSFUL and runs {DIGEST} (metrics not put: {note})")
    assert aws.run(job())["result"] == "success"


def test_a_failure_message_is_cut_to_what_codepipeline_takes(aws):
    aws.list(brief(DEPLOYMENT, CREATED))
    aws.describe("ROLLBACK_SUCCESSFUL", finishedAt=FINISHED, statusReason="x" * 6000)
    aws.metrics("DeploymentFailed", 270.5)
    head = f"ECS deployment {DEPLOYMENT} ended ROLLBACK_SUCCESSFUL: "
    aws.failure((head + "x" * 6000)[:4999] + "…")
    assert len(aws.run(job())["failure"]["message"]) == 5000


def test_bad_user_parameters_are_a_configuration_error_naming_every_problem(aws):
    bad = {"cluster": "", "service": "app", "expectedImage": "repo:latest", "commit": "HEAD", "strategy": "big-bang", "startedAt": "yesterday", "region": "x"}
    aws.failure(
        "UserParameters: 'region' is not a parameter; use cluster, service, expectedImage, commit, strategy, startedAt, container, sbom, scan; "
        "cluster '' is not allowed; give the ECS cluster's name or ARN; "
        "expectedImage 'repo:latest' is not allowed; give the image by digest, <repository>@sha256:<64 hex>; "
        "commit 'HEAD' is not allowed; give the Git commit id (7 to 40 lowercase hex characters); "
        "strategy 'big-bang' is not allowed; use one of rolling, blue-green, canary, linear; "
        "startedAt 'yesterday' is not allowed; give an ISO 8601 time with an offset, e.g. 2025-07-10T13:15:39Z, or leave it out",
        kind="ConfigurationError",
        external=None,
    )
    assert aws.run(job(bad))["result"] == "failure"


def test_user_parameters_that_are_not_an_object_and_a_missing_service_id(aws):
    aws.failure(
        'UserParameters \'not json\' is not a JSON object; pass {"cluster": ..., "service": ..., "expectedImage": ..., "commit": ..., "strategy": ...}',
        kind="ConfigurationError",
        external=None,
    )
    assert aws.run(job("not json"))["result"] == "failure"
    again = Aws()
    again.failure(
        "ecs_verify_deployment environment: SERVICE_ID is not set; set it to the service's physical name prefix (the metrics' Service dimension); "
        "MAX_WAIT_MINUTES='0' is not allowed; use a whole number of minutes from 1 to 1440 (unset: 60)",
        kind="ConfigurationError",
        external=None,
    )
    assert again.run(job(), env={"MAX_WAIT_MINUTES": "0"})["result"] == "failure"


def test_a_continuation_token_that_is_not_ours_fails(aws):
    aws.failure("continuation token 'abc' is not this function's", external=None)
    assert aws.run(job(token="abc"))["result"] == "failure"


def test_when_even_the_failure_report_fails_the_error_reaches_lambda(aws):
    aws.codepipeline.add_client_error("put_job_failure_result", "JobNotFoundException", "gone")
    with aws.codepipeline, pytest.raises(Exception, match="JobNotFoundException"):
        verify.verify(job(token="abc"), aws.clients, ENV)


def test_the_iam_actions_are_real_and_name_every_required_resource_type():
    """policy_sentry's IAM database: each action exists, each resource is one of the action's resource types (a
    trailing /* stands for the deployment's or revision's id), and every resource type it marks required is named."""
    from policy_sentry.querying.actions import get_action_data

    from tests.iam_authz import resource_types

    ids = {"service-deployment": "${ServiceDeploymentId}", "service-revision": "${ServiceRevisionId}"}
    for action, resources in verify.IAM_ACTIONS.items():
        service, name = action.split(":")
        formats = {row["resource_arn_format"] for row in get_action_data(service, name)[service]}
        kinds = set()
        for resource in resources:
            kind = resource.split(":")[-1].split("/")[0]
            kinds.add(kind)
            assert resource.replace("/*", "/" + ids.get(kind, "*")) in formats, (action, formats)
        assert {t for t, required in resource_types(action).items() if required} <= kinds, action


def test_a_malformed_event_is_a_failure_named_by_its_type(aws):
    aws.failure("KeyError: 'actionConfiguration'", external=None)
    assert aws.run({"CodePipeline.job": {"id": JOB, "data": {}}})["result"] == "failure"
