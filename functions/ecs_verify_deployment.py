"""CodePipeline Lambda invoke action, after the ECS deploy action: refuse a false green.

Contract (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Lambda.html):
- Event: {"CodePipeline.job": {"id", "data": {"actionConfiguration": {"configuration": {"FunctionName",
  "UserParameters"}}, "continuationToken" (only when re-invoked), "artifactCredentials", ...}}}. The event
  carries temporary credentials: it is never logged.
- The function must call PutJobSuccessResult or PutJobFailureResult, or the action hangs until it times out.
  PutJobSuccessResult with a `continuationToken` (1 to 2048 characters) means "not done": CodePipeline invokes
  the function again with that token in `data.continuationToken`, at times it chooses. PutJobFailureResult's
  message is 1 to 5000 characters (botocore's codepipeline model; longer messages are cut here).
- Limits: the action fails if the function has not answered for 20 minutes, and after 24 hours in all
  (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).

UserParameters (a JSON object; unknown keys are refused):
    cluster        the ECS cluster (name or ARN).
    service        the ECS service (name or ARN).
    expectedImage  "<repository>@sha256:<64 hex>": the image the build pushed, by digest.
    commit         the Git commit built (7 to 40 lowercase hex characters).
    strategy       "rolling" | "blue-green" | "canary" | "linear".
    startedAt      optional ISO 8601 time with an offset: only deployments created after it are considered.
    container      optional container name: its image must be the expected one. Omitted: any container.
    sbom           optional "s3://<records bucket>/sbom/<digest>.json" of the expected digest, from the supply-chain
                   gate's pipeline variable (SBOM_URI); omitted or empty: the gate did not scan (the record says null).
    scan           optional scan verdict of the gate (SCAN_VERDICT: PASSED); omitted or empty: null in the record.

Environment: SERVICE_ID (required; the metrics' Service dimension), MAX_WAIT_MINUTES (1 to 1440: how long after
ECS created the deployment it may still be not final; unset: 60, the ECS deploy action's limit). The bound is in
time, not in checks: CodePipeline documents no interval between continuations.

Behaviour. First invocation: ecs.list_service_deployments (every page; the API documents no order, so the
newest is the one created last) picks the newest deployment of the service. Each invocation then describes
THAT deployment (its ARN travels in the continuation token with the count of checks made, so a deployment
started meanwhile never replaces it). Its status (every value of botocore's ServiceDeploymentStatus is
classified below, and a test keeps it so):
    PENDING, IN_PROGRESS, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, STOP_REQUESTED -> not final: continue,
        until MAX_WAIT_MINUTES after the deployment's createdAt, then fail (outcome FAILED).
    ROLLBACK_SUCCESSFUL -> fail, ROLLED_BACK; ROLLBACK_FAILED -> fail, FAILED; STOPPED -> fail, STOPPED
        (the message names the status and ECS's statusReason).
    SUCCESSFUL -> the target service revision's containerImages must run the expected digest, or a platform
        manifest of it when the expected digest is an image index (what BuildKit pushes with provenance
        attestations): the API reference says ECS resolves tags to digests but not which digest of an index it
        reports, so both are accepted, and the index is read from the registry (ecr.batch_get_image) only when
        the revision reports another digest. Anything else fails naming both digests; then succeed.
A verdict writes the deployment record (`functions.deployment_record`) as one JSON line on stdout and puts its
metrics (a metrics error is logged and noted in the job summary; it does not change the verdict). Any
exception reports a job failure with its message: the job is never left hanging.

Time. Every client answers within CLIENT_CONFIG's connect and read timeouts per attempt, with botocore's standard
retries; one invocation makes at most MAX_CALLS calls, so it ends within INVOCATION_WORST_SECONDS
(components/deploy/ecs/verify.py sizes the function's timeout from it).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions import deployment_record as records

NOT_FINAL = ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED")
FINAL_OUTCOMES = {"SUCCESSFUL": records.SUCCEEDED, "ROLLBACK_SUCCESSFUL": "ROLLED_BACK", "ROLLBACK_FAILED": "FAILED", "STOPPED": "STOPPED"}
MAX_MESSAGE = 5000
MAX_TOKEN = 2048
MAX_SUMMARY = 2048
# A bound on ListServiceDeployments pages (100 each) when no startedAt narrows the list.
MAX_PAGES = 20
# ECS and CodePipeline answer these calls in well under a second; a call that hangs is cut and retried (botocore's
# standard mode: 3 attempts, a backoff of at most min(2^(n-1), 20) s, and 5 s more when AWS asks for a later retry).
CONNECT_SECONDS, READ_SECONDS, ATTEMPTS = 2, 5, 3
CLIENT_CONFIG = Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS, retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
CALL_WORST_SECONDS = ATTEMPTS * (CONNECT_SECONDS + READ_SECONDS) + sum(min(2 ** (n - 1), 20) + 5 for n in range(1, ATTEMPTS))
# The most calls one invocation makes: every page of the listing, the deployment, its revision, the built image
# index (when the revision reports another digest), the metrics and the answer to CodePipeline.
MAX_CALLS = MAX_PAGES + 5
INVOCATION_WORST_SECONDS = MAX_CALLS * CALL_WORST_SECONDS
DEFAULT_MAX_WAIT_MINUTES = 60
PARAMETERS = ("cluster", "service", "expectedImage", "commit", "strategy", "startedAt", "container", "sbom", "scan")
IMAGE_PATTERN = re.compile(r"(?P<repository>[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})")
# A private ECR repository: <registry id>.dkr.ecr.<region>.amazonaws.com[.cn]/<name>.
ECR_REPOSITORY = re.compile(r"(?P<registry>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<name>.+)")
# What batch_get_image may answer with: the stored manifest or index as it is (the record step's list).
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_MEDIA_TYPES = MANIFEST_MEDIA_TYPES[0::2]
# What the function's role needs, action -> resources (the service's own ARNs: describing a deployment or a
# revision is authorized against it and its service; the CodePipeline job actions and PutMetricData take no
# resource, PutMetricData is narrowed by its cloudwatch:namespace condition key).
_SERVICE = "arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}"
IAM_ACTIONS = {
    "ecs:ListServiceDeployments": (_SERVICE,),
    "ecs:DescribeServiceDeployments": ("arn:${Partition}:ecs:${Region}:${Account}:service-deployment/${ClusterName}/${ServiceName}/*", _SERVICE),
    "ecs:DescribeServiceRevisions": ("arn:${Partition}:ecs:${Region}:${Account}:service-revision/${ClusterName}/${ServiceName}/*", _SERVICE),
    # Reading the built image index, in the registry that holds it (the upstream's, for a promoting stack).
    "ecr:BatchGetImage": ("arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}",),
    "codepipeline:PutJobSuccessResult": ("*",),
    "codepipeline:PutJobFailureResult": ("*",),
    "cloudwatch:PutMetricData": ("*",),
}

logger = logging.getLogger("ecs_verify_deployment")
logger.setLevel(logging.INFO)


class VerifyError(Exception):
    """A reason to fail the job that is not a deployment verdict (nothing to record)."""

    def __init__(self, message: str, failure_type: str = "JobFailed"):
        super().__init__(message)
        self.failure_type = failure_type


@dataclass(frozen=True)
class Parameters:
    cluster: str
    """The ECS cluster, name or ARN."""
    service: str
    """The ECS service, name or ARN."""
    expected_image: str
    """expectedImage as given."""
    digest: str
    """The sha256 digest in expectedImage."""
    commit: str
    """The Git commit built."""
    strategy: str
    """The deployment strategy, for the record."""
    started_at: datetime | None = None
    """Only deployments created after it count. Omitted: all deployments of the service."""
    container: str | None = None
    """The container that must run the expected image. Omitted: any container of the revision."""
    sbom: str | None = None
    """The digest's SBOM in the records bucket, for the record. Omitted: null (the gate did not scan)."""
    scan: str | None = None
    """The gate's scan verdict, for the record. Omitted: null."""


def parse_parameters(raw: object) -> Parameters:
    """UserParameters to Parameters; VerifyError (ConfigurationError) naming every problem."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        required = ", ".join(f'"{key}": ...' for key in PARAMETERS[:5])
        raise VerifyError(f"UserParameters {raw!r} is not a JSON object; pass {{{required}}}", "ConfigurationError")
    problems = [f"{key!r} is not a parameter; use {', '.join(PARAMETERS)}" for key in value if key not in PARAMETERS]
    text: dict[str, Any] = {key: value.get(key) for key in PARAMETERS}
    for key in ("cluster", "service"):
        if not (isinstance(text[key], str) and text[key]):
            problems.append(f"{key} {text[key]!r} is not allowed; give the ECS {key}'s name or ARN")
    image = IMAGE_PATTERN.fullmatch(text["expectedImage"]) if isinstance(text["expectedImage"], str) else None
    if image is None:
        problems.append(f"expectedImage {text['expectedImage']!r} is not allowed; give the image by digest, <repository>@sha256:<64 hex>")
    if not (isinstance(text["commit"], str) and records.COMMIT_PATTERN.fullmatch(text["commit"])):
        problems.append(f"commit {text['commit']!r} is not allowed; give the Git commit id (7 to 40 lowercase hex characters)")
    if text["strategy"] not in records.STRATEGIES:
        problems.append(f"strategy {text['strategy']!r} is not allowed; use one of {', '.join(records.STRATEGIES)}")
    started_at = None
    if text["startedAt"] is not None:
        try:
            started_at = datetime.fromisoformat(str(text["startedAt"]).replace("Z", "+00:00"))
        except ValueError:
            started_at = None
        if not isinstance(text["startedAt"], str) or started_at is None or started_at.tzinfo is None:
            problems.append(f"startedAt {text['startedAt']!r} is not allowed; give an ISO 8601 time with an offset, e.g. 2025-07-10T13:15:39Z, or leave it out")
    if text["container"] is not None and not (isinstance(text["container"], str) and text["container"]):
        problems.append(f"container {text['container']!r} is not allowed; give a container name or leave it out")
    # A pipeline variable the gate exported empty (it did not scan) resolves to "": the record says null.
    supply = {key: text[key] or None for key in ("sbom", "scan")}
    sbom = supply["sbom"]
    if sbom is not None and not (isinstance(sbom, str) and records.SBOM_URI_PATTERN.fullmatch(sbom) and image and sbom.endswith(f"/sbom/{image['digest']}.json")):
        problems.append(f"sbom {text['sbom']!r} is not allowed; give s3://<records bucket>/sbom/<the expected digest>.json, or leave it out")
    # Only a passing verdict reaches a deploy step: the gate fails the execution on any other.
    if supply["scan"] is not None and supply["scan"] != records.SCAN_VERDICTS[0]:
        problems.append(f"scan {text['scan']!r} is not allowed; use {records.SCAN_VERDICTS[0]}, or leave it out")
    if problems or image is None:
        raise VerifyError("UserParameters: " + "; ".join(problems), "ConfigurationError")
    return Parameters(
        text["cluster"], text["service"], text["expectedImage"], image["digest"], text["commit"], text["strategy"], started_at, text["container"], supply["sbom"], supply["scan"]
    )


def _settings(env: Mapping[str, str]) -> tuple[str, int]:
    service_id, raw = env.get("SERVICE_ID", ""), env.get("MAX_WAIT_MINUTES", str(DEFAULT_MAX_WAIT_MINUTES))
    problems = [] if service_id else ["SERVICE_ID is not set; set it to the service's physical name prefix (the metrics' Service dimension)"]
    minutes = int(raw) if raw.isdigit() else 0
    if not 1 <= minutes <= 1440:
        problems.append(f"MAX_WAIT_MINUTES={raw!r} is not allowed; use a whole number of minutes from 1 to 1440 (unset: {DEFAULT_MAX_WAIT_MINUTES})")
    if problems:
        raise VerifyError("ecs_verify_deployment environment: " + "; ".join(problems), "ConfigurationError")
    return service_id, minutes


@dataclass(frozen=True)
class Clients:
    ecs: Any
    """boto3 ECS client."""
    codepipeline: Any
    """boto3 CodePipeline client."""
    cloudwatch: Any
    """boto3 CloudWatch client."""
    ecr: Callable[[str], Any]
    """region -> boto3 ECR client (the registry's region)."""


@dataclass(frozen=True)
class Verdict:
    record: dict | None
    """The deployment record; None while the deployment is not final."""
    token: str | None = None
    """The continuation token when not final. Omitted: a verdict."""
    summary: str = ""
    """What the job reports (summary, or failure message). Omitted: none."""
    service_id: str = ""
    """The metrics' Service dimension. Omitted: none (no record, no metrics)."""


def newest_deployment(ecs: Any, params: Parameters) -> str:
    request: dict[str, Any] = {"cluster": params.cluster, "service": params.service, "maxResults": 100}
    if params.started_at is not None:
        request["createdAt"] = {"after": params.started_at}
    briefs: list[dict] = []
    for _ in range(MAX_PAGES):
        page = ecs.list_service_deployments(**request)
        briefs += page.get("serviceDeployments", [])
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    else:
        raise VerifyError(f"service {params.service} has more than {MAX_PAGES * 100} deployments to look through; pass startedAt in UserParameters")
    if not briefs:
        since = f" created after {records.timestamp(params.started_at)}" if params.started_at else ""
        raise VerifyError(f"ECS lists no deployment of service {params.service} in cluster {params.cluster}{since}: nothing was deployed to verify")
    return max(briefs, key=lambda brief: brief["createdAt"])["serviceDeploymentArn"]


def _describe(ecs: Any, arn: str) -> dict:
    answer = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    if not answer.get("serviceDeployments"):
        raise VerifyError(f"ECS cannot describe service deployment {arn}: {answer.get('failures')}")
    return answer["serviceDeployments"][0]


def running_images(ecs: Any, deployment: dict) -> dict[str, str | None]:
    """container name -> image digest, for the deployment's target service revision."""
    arn = (deployment.get("targetServiceRevision") or {}).get("arn")
    if not arn:
        raise VerifyError(f"service deployment {deployment['serviceDeploymentArn']} names no target service revision")
    answer = ecs.describe_service_revisions(serviceRevisionArns=[arn])
    if not answer.get("serviceRevisions"):
        raise VerifyError(f"ECS cannot describe service revision {arn}: {answer.get('failures')}")
    return {image.get("containerName", "?"): image.get("imageDigest") for image in answer["serviceRevisions"][0].get("containerImages", [])}


def index_children(ecr: Callable[[str], Any], image: str) -> set[str]:
    """The platform manifests' digests of `image` when it is an image index in ECR; empty otherwise."""
    reference = IMAGE_PATTERN.fullmatch(image)
    repository = ECR_REPOSITORY.fullmatch(reference["repository"]) if reference else None
    if reference is None or repository is None:
        return set()
    answer = ecr(repository["region"]).batch_get_image(
        registryId=repository["registry"],
        repositoryName=repository["name"],
        imageIds=[{"imageDigest": reference["digest"]}],
        acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES),
    )
    found = answer.get("images") or []
    if not found:
        raise VerifyError(f"the registry does not return {image}: {answer.get('failures')}")
    manifest = json.loads(found[0]["imageManifest"])
    if (found[0].get("imageManifestMediaType") or manifest.get("mediaType")) not in INDEX_MEDIA_TYPES:
        return set()
    return {entry["digest"] for entry in manifest.get("manifests", []) if isinstance(entry, dict) and "digest" in entry}


def _token(raw: str) -> tuple[str, int]:
    try:
        state = json.loads(raw)
        arn, count = state["deployment"], state["attempt"]
    except (ValueError, TypeError, KeyError):
        arn, count = None, None
    if not (isinstance(arn, str) and isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        raise VerifyError(f"continuation token {raw[:200]!r} is not this function's")
    return arn, count


def judge(event: Mapping, clients: Clients, env: Mapping[str, str], now: Callable[[], datetime]) -> Verdict:
    """The verdict on the job. VerifyError and AWS errors propagate."""
    data = event["CodePipeline.job"]["data"]
    params = parse_parameters(data["actionConfiguration"]["configuration"].get("UserParameters"))
    service_id, max_wait = _settings(env)
    if data.get("continuationToken"):
        arn, checks = _token(data["continuationToken"])
    else:
        arn, checks = newest_deployment(clients.ecs, params), 0
    checks += 1
    deployment = _describe(clients.ecs, arn)
    status = deployment["status"]

    def verdict(outcome: str, reason: str | None, finished: datetime | None = None) -> Verdict:
        started = deployment.get("startedAt") or deployment.get("createdAt") or now()
        end = finished or deployment.get("finishedAt") or deployment.get("stoppedAt") or now()
        fields = {"target": "ecs", "service": service_id, "commit": params.commit, "image": params.expected_image, "digest": params.digest}
        rec = records.record(
            **fields,
            strategy=params.strategy,
            deployment=arn,
            started_at=started,
            finished_at=max(end, started),
            outcome=outcome,
            reason=reason,
            sbom=params.sbom,
            scan=params.scan,
        )
        return Verdict(rec, summary=reason or f"ECS deployment {arn} is SUCCESSFUL and runs {params.digest}", service_id=service_id)

    if status in NOT_FINAL:
        created = deployment.get("createdAt") or deployment.get("startedAt")
        if created is None:
            raise VerifyError(f"ECS reports no createdAt for deployment {arn}: how long it has run cannot be told")
        waited = round((now() - created).total_seconds() / 60, 1)
        if waited >= max_wait:
            return verdict("FAILED", f"ECS deployment {arn} is still {status} {waited:g} min after ECS created it, at check {checks} (MAX_WAIT_MINUTES={max_wait})", now())
        token = json.dumps({"deployment": arn, "attempt": checks}, separators=(",", ":"))
        if len(token) > MAX_TOKEN:
            raise VerifyError(f"the continuation token for {arn} would be {len(token)} characters; CodePipeline takes {MAX_TOKEN}")
        return Verdict(None, token, f"ECS deployment {arn} is {status}; check {checks}, {waited:g} of {max_wait} min since ECS created it")
    if status not in FINAL_OUTCOMES:
        raise VerifyError(f"ECS deployment {arn} has status {status!r}, which this function does not know; classify it in ecs_verify_deployment")
    if status != "SUCCESSFUL":
        return verdict(FINAL_OUTCOMES[status], f"ECS deployment {arn} ended {status}: {deployment.get('statusReason') or 'ECS gave no reason'}")
    images = running_images(clients.ecs, deployment)
    relevant = {params.container: images.get(params.container)} if params.container else images
    if params.digest in relevant.values():
        return verdict(records.SUCCEEDED, None)
    platforms = index_children(clients.ecr, params.expected_image)
    matched = sorted(d for d in relevant.values() if d in platforms)
    if matched:
        return replace(verdict(records.SUCCEEDED, None), summary=f"ECS deployment {arn} is SUCCESSFUL and runs {matched[0]}, a platform manifest of the build's {params.digest}")
    running = ", ".join(f"{name}={digest}" for name, digest in relevant.items()) or "no container images"
    reason = f"ECS deployment {arn} is SUCCESSFUL but its revision runs {running}, not the build's {params.digest}"
    return verdict("FAILED", reason)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def verify(event: Mapping, clients: Clients, env: Mapping[str, str], now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> dict:
    """The action: judge, record, report. Returns what it reported ({"result": "success" | "continuation" | "failure", ...})."""
    job_id = event["CodePipeline.job"]["id"]
    try:
        verdict = judge(event, clients, env, now)
        if verdict.record is None:
            clients.codepipeline.put_job_success_result(jobId=job_id, continuationToken=verdict.token, executionDetails={"summary": _clip(verdict.summary, MAX_SUMMARY)})
            return {"result": "continuation", "token": verdict.token}
        print(records.json_line(verdict.record), flush=True)
        summary = verdict.summary
        try:
            clients.cloudwatch.put_metric_data(Namespace=records.METRIC_NAMESPACE, MetricData=records.metric_data(verdict.record, verdict.service_id))
        except Exception as error:  # the verdict stands; the missing metric is said where people look
            logger.error("deployment metrics not put: %s", error)
            summary += f" (metrics not put: {error})"
        if verdict.record["outcome"] == records.SUCCEEDED:
            clients.codepipeline.put_job_success_result(jobId=job_id, executionDetails={"summary": _clip(summary, MAX_SUMMARY)})
            return {"result": "success", "summary": summary}
        failure = {"type": "JobFailed", "message": _clip(summary, MAX_MESSAGE), "externalExecutionId": verdict.record["deployment"]}
    except Exception as error:
        logger.error("verification failed: %s", error)
        # Ours and botocore's messages say what failed; anything else is a bug, named by its type.
        message = str(error) if isinstance(error, VerifyError | ClientError | BotoCoreError) else f"{type(error).__name__}: {error}"
        failure = {"type": getattr(error, "failure_type", "JobFailed"), "message": _clip(message, MAX_MESSAGE)}
    clients.codepipeline.put_job_failure_result(jobId=job_id, failureDetails=failure)
    return {"result": "failure", "failure": failure}


def handler(event: dict, context: object) -> dict:
    """Lambda entry point (handler `functions.ecs_verify_deployment.handler`)."""
    clients = Clients(
        boto3.client("ecs", config=CLIENT_CONFIG),
        boto3.client("codepipeline", config=CLIENT_CONFIG),
        boto3.client("cloudwatch", config=CLIENT_CONFIG),
        lambda region: boto3.client("ecr", region_name=region, config=CLIENT_CONFIG),
    )
    return verify(event, clients, os.environ)
