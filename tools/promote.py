"""Promote an image by digest into a promoting stack, through its pipeline (`python -m tools.revert --digest`).

    venv/bin/python -m tools.revert --stack prod --digest sha256:0a1b...   # an image the upstream verified
    venv/bin/python -m tools.revert --stack prod --service api --digest sha256:0a1b...   # a stack with services

The stack promotes from another stack of this project (promoteFrom). The image must be in the upstream's
registry with the upstream's verified tag (its Publish stage gave it `verified-<commit7>` and
`execution-<execution id>` after deploying it); otherwise nothing is written and the exit code is 2.
The tool writes promotion.zip into the stack's promotion inbox, exactly as the collector does after an
upstream execution: the inbox's new object starts the pipeline, whose Check stage verifies the image
again (its tags, its signature by the upstream's profile, a rescan of its SBOM against this stack's threshold
with today's vulnerability data) and whose gates (approval, alarms, bake time) apply as for any promotion.

In a stack with a `services` list each service promotes from the same-named service of the upstream: --service
names it, and the image must be in that upstream service's registry, verified by that service's pipeline; the
tool writes into that service's inbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from components.promotion.contract import EXECUTION_TAG_PREFIX, VERIFIED_TAG_PREFIX
from components.settings import Settings
from functions.promotion_collector import promotion_document, promotion_zip, verified_commit
from tools.stack import RevertError, UsageError, stack_target

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class PromotionTarget:
    pipeline: str
    """The promoting stack's pipeline, whose Source action names the inbox."""
    container_name: str
    """The promoting stack's container (imagedefinitions.json)."""
    upstream_pipeline: str
    upstream_repository: str
    upstream_account: str | None
    """promoteFromAccount: the upstream registry's account. None: the caller's account."""
    region: str | None
    """aws:region of the stack file; None: boto3's default."""


def promotion_target(stack: str, settings: Settings, project: str, region: str | None) -> PromotionTarget:
    """Names the Pulumi program gives the stack and its upstream (a stack of the same project). `settings`: the stack's,
    or in a stack with `services` the service's (`tools.stack.service_settings`): a service promotes from the
    same-named service upstream, whose names its service name gives (project-upstream-service)."""
    upstream = settings.promotion.promote_from
    if upstream is None:
        raise UsageError(f"--digest: stack {stack} builds its images (no promoteFrom); revert it with --commit or --tag")
    if "/" in upstream:
        raise UsageError(f"--digest: stack {stack} promotes from {upstream}, a stack this tool cannot read; promote from its project instead")
    own = stack_target(stack, settings.service_name, project, region)
    upstream_target = stack_target(upstream, settings.service_name, project, region)
    return PromotionTarget(
        pipeline=own.pipeline,
        container_name=settings.workload.container_name,
        upstream_pipeline=upstream_target.pipeline,
        upstream_repository=upstream_target.repository,
        upstream_account=settings.promotion.promote_from_account,
        region=region,
    )


def check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise UsageError(f"--digest: {digest!r} is not an image digest; write sha256: and 64 lowercase hex digits")
    return digest


def registry_host(account: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


def inbox_of(codepipeline: Any, pipeline: str) -> tuple[str, str]:
    """(bucket, key) of the pipeline's S3 source action: the promotion inbox."""
    source = codepipeline.get_pipeline(name=pipeline)["pipeline"]["stages"][0]["actions"][0]
    if source.get("actionTypeId", {}).get("provider") != "S3":
        raise RevertError(f"pipeline {pipeline} has no promotion inbox (its source is {source.get('actionTypeId', {}).get('provider')}); nothing was written")
    return source["configuration"]["S3Bucket"], source["configuration"]["S3ObjectKey"]


def promote(ecr: Any, s3: Any, codepipeline: Any, target: PromotionTarget, digest: str) -> dict[str, str]:
    """Check that the upstream verified `digest`, then write it into the inbox. Returns what was written."""
    digest = check_digest(digest)
    registry = {"registryId": target.upstream_account} if target.upstream_account else {}
    try:
        found = ecr.describe_images(repositoryName=target.upstream_repository, imageIds=[{"imageDigest": digest}], **registry)
    except ecr.exceptions.ImageNotFoundException:
        raise RevertError(f"image {digest} is not in {target.upstream_repository}; nothing was written") from None
    image = found["imageDetails"][0]
    tags = image.get("imageTags") or []
    commit = verified_commit(tags)
    executions = sorted(t.removeprefix(EXECUTION_TAG_PREFIX) for t in tags if t.startswith(EXECUTION_TAG_PREFIX))
    if commit is None or not executions:
        raise RevertError(
            f"image {digest} in {target.upstream_repository} does not carry the upstream's verified tags "
            f"({VERIFIED_TAG_PREFIX}<commit> and {EXECUTION_TAG_PREFIX}<execution>): {target.upstream_pipeline} never deployed and verified it; nothing was written"
        )
    region = target.region or ecr.meta.region_name
    promotion = promotion_document(
        commit=commit,
        digest=digest,
        image_uri=f"{registry_host(image['registryId'], region)}/{target.upstream_repository}@{digest}",
        pipeline=target.upstream_pipeline,
        # Any execution that verified the image is true; the Check step checks the one named.
        execution_id=executions[0],
        account=image["registryId"],
    )
    bucket, key = inbox_of(codepipeline, target.pipeline)
    written = s3.put_object(Bucket=bucket, Key=key, Body=promotion_zip(target.container_name, promotion))
    return {"pipeline": target.pipeline, "inbox": f"s3://{bucket}/{key}", "version": written.get("VersionId", ""), **promotion}
