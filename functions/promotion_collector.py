"""Promotion collector: when the upstream stack's pipeline succeeds, put the image it verified into this
stack's promotion inbox (whose new object starts this stack's pipeline).

Runs in the promoting stack's account on the upstream pipeline's "CodePipeline Pipeline Execution State
Change" event with state SUCCEEDED. The upstream's Publish stage tagged the image it deployed and
verified `verified-<commit7>` and `execution-<execution id>`; the collector looks the execution's tag up
in the upstream registry (DescribeImages, the only call it makes there, which a repository policy grants
across accounts) and writes `promotion.zip`: imagedefinitions.json (the container and the image by
digest) and promotion.json (commit, digest, upstream pipeline and execution). An execution that
verified no image (a rollback execution, an image without the verified tag) writes nothing.

Standard library and boto3 only (the Lambda Python runtime's). Environment: UPSTREAM_ACCOUNT,
UPSTREAM_PIPELINE, UPSTREAM_REPOSITORY, UPSTREAM_REPOSITORY_URL, CONTAINER_NAME, INBOX_BUCKET.
`promotion_zip` is shared with `python -m tools.revert --digest`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

# The promotion contract (components/promotion/contract.py, which tests keep equal to these).
VERIFIED_TAG_PREFIX = "verified-"
EXECUTION_TAG_PREFIX = "execution-"
INBOX_KEY = "promotion.zip"
IMAGE_DEFINITIONS_FILE = "imagedefinitions.json"
PROMOTION_FILE = "promotion.json"
# Zip entries carry this time, so the same promotion is the same bytes (ZIP's earliest date).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ENVIRONMENT = ("UPSTREAM_ACCOUNT", "UPSTREAM_PIPELINE", "UPSTREAM_REPOSITORY", "UPSTREAM_REPOSITORY_URL", "CONTAINER_NAME", "INBOX_BUCKET")

# Each call is cut at these timeouts and retried by botocore's standard mode (a backoff of at most min(2^(n-1), 20)
# s, and 5 s more when AWS asks for a later retry); the handler makes two calls, so one invocation ends within
# INVOCATION_WORST_SECONDS (components/promotion/collector.py sizes the function's timeout from it).
CONNECT_SECONDS, READ_SECONDS, ATTEMPTS = 2, 5, 3
CALL_WORST_SECONDS = ATTEMPTS * (CONNECT_SECONDS + READ_SECONDS) + sum(min(2 ** (n - 1), 20) + 5 for n in range(1, ATTEMPTS))
MAX_CALLS = 2
INVOCATION_WORST_SECONDS = MAX_CALLS * CALL_WORST_SECONDS

log = logging.getLogger()
log.setLevel(logging.INFO)


def verified_commit(tags: Sequence[str]) -> str | None:
    """The short commit of the image's verified tag, or None when it has none."""
    commits = sorted(t.removeprefix(VERIFIED_TAG_PREFIX) for t in tags if t.startswith(VERIFIED_TAG_PREFIX))
    return commits[0] if commits else None


def promotion_document(*, commit: str, digest: str, image_uri: str, pipeline: str, execution_id: str, account: str) -> dict[str, str]:
    return {
        "commit": commit,
        "digest": digest,
        "imageUri": image_uri,
        "upstreamPipeline": pipeline,
        "upstreamExecutionId": execution_id,
        "upstreamAccount": account,
    }


def promotion_zip(container_name: str, promotion: Mapping[str, str]) -> bytes:
    """promotion.zip: imagedefinitions.json for the deploy and promotion.json for the Check step."""
    files = {
        IMAGE_DEFINITIONS_FILE: [{"name": container_name, "imageUri": promotion["imageUri"]}],
        PROMOTION_FILE: dict(promotion),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), json.dumps(content, indent=2, sort_keys=True) + "\n")
    return buffer.getvalue()


def handle(event: Mapping[str, Any], env: Mapping[str, str], ecr: Any, s3: Any) -> dict[str, Any]:
    """Collect the image of one succeeded upstream execution; what was done, as a small dict."""
    detail = event.get("detail") or {}
    pipeline, execution_id = detail.get("pipeline"), detail.get("execution-id")
    # The rule's pattern already says this; a second look costs nothing and keeps a test event or a
    # widened rule from promoting another pipeline's image.
    if event.get("account") != env["UPSTREAM_ACCOUNT"] or pipeline != env["UPSTREAM_PIPELINE"] or detail.get("state") != "SUCCEEDED" or not execution_id:
        log.info("Ignored: not a succeeded execution of %s in %s", env["UPSTREAM_PIPELINE"], env["UPSTREAM_ACCOUNT"])
        return {"written": False, "reason": "not the upstream pipeline's succeeded execution"}
    tag = f"{EXECUTION_TAG_PREFIX}{execution_id}"
    try:
        found = ecr.describe_images(registryId=env["UPSTREAM_ACCOUNT"], repositoryName=env["UPSTREAM_REPOSITORY"], imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        log.info("Execution %s verified no image (no tag %s): nothing to promote", execution_id, tag)
        return {"written": False, "reason": f"no image tagged {tag}"}
    image = found["imageDetails"][0]
    commit = verified_commit(image.get("imageTags") or [])
    if commit is None:
        log.info("Image %s of execution %s carries no %s tag: nothing to promote", image["imageDigest"], execution_id, VERIFIED_TAG_PREFIX)
        return {"written": False, "reason": f"image {image['imageDigest']} is not verified"}
    digest = image["imageDigest"]
    promotion = promotion_document(
        commit=commit,
        digest=digest,
        image_uri=f"{env['UPSTREAM_REPOSITORY_URL']}@{digest}",
        pipeline=env["UPSTREAM_PIPELINE"],  # the event's pipeline, checked equal above
        execution_id=execution_id,
        account=env["UPSTREAM_ACCOUNT"],
    )
    written = s3.put_object(Bucket=env["INBOX_BUCKET"], Key=INBOX_KEY, Body=promotion_zip(env["CONTAINER_NAME"], promotion))
    log.info("Wrote %s (version %s): %s", INBOX_KEY, written.get("VersionId"), json.dumps(promotion, sort_keys=True))
    return {"written": True, "version": written.get("VersionId"), **promotion}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS, retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
    return handle(event, {name: os.environ[name] for name in ENVIRONMENT}, boto3.client("ecr", config=config), boto3.client("s3", config=config))
