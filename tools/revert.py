"""Put a previous image back, through the pipeline.

    python -m tools.revert --stack prod --commit 3f2c1e9a...   # a commit the pipeline built before
    python -m tools.revert --stack prod --tag 3f2c1e9           # an image tag (the short commit SHA)

It checks that the image exists in the stack's ECR repository, then starts the stack's pipeline on that
commit (StartPipelineExecution with a COMMIT_ID source revision override). The pipeline's build finds the
image already in the registry and skips building it, the deploy stage rolls it out with every gate of
the stack (approval, alarms, bake time), and the service's task definition / image then belongs to the
pipeline, which `pulumi up` leaves alone (`ignore_changes` on the image-bearing field). Nothing is
changed behind the pipeline's back, so the pipeline, the running service and the Pulumi state agree.

Exit codes: 0 started, 2 the image or commit cannot be found (nothing was started), 1 an AWS error.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import Any

from components.buildspec import SHORT_SHA_LENGTH
from components.naming import physical_name
from components.settings import PROJECT

_HEX = re.compile(r"^[0-9a-f]+$")
# How many recent executions to search for the commit behind a tag.
MAX_EXECUTIONS_SEARCHED = 500


class RevertError(Exception):
    """The revert cannot start; the message says why and what to do. Nothing was changed."""


@dataclass(frozen=True)
class Target:
    pipeline: str
    repository: str


def stack_target(stack: str, service: str = "app") -> Target:
    """The pipeline and repository names the Pulumi program gives a stack (see __main__.py)."""
    prefix = f"{PROJECT}-{stack}-{service}"
    return Target(pipeline=physical_name(prefix, "pipeline", 100), repository=prefix)


def tag_for_commit(commit: str) -> str:
    """The image tag the build gives a commit (buildspec: the first SHORT_SHA_LENGTH characters)."""
    return commit[:SHORT_SHA_LENGTH]


def check_image(ecr: Any, repository: str, tag: str) -> str:
    """The image's digest; RevertError when the repository holds no image with this tag."""
    try:
        response = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        raise RevertError(
            f"image {repository}:{tag} does not exist in the registry; nothing was started. "
            f"List the tags it holds with: aws ecr describe-images --repository-name {repository} "
            "--query 'imageDetails[].imageTags[]' --output text"
        ) from None
    return response["imageDetails"][0]["imageDigest"]


def commit_for_tag(codepipeline: Any, pipeline: str, tag: str) -> str:
    """The full commit SHA of an earlier execution whose source revision starts with `tag`."""
    paginator = codepipeline.get_paginator("list_pipeline_executions")
    seen = 0
    for page in paginator.paginate(pipelineName=pipeline):
        for execution in page["pipelineExecutionSummaries"]:
            seen += 1
            for revision in execution.get("sourceRevisions", []):
                revision_id = revision.get("revisionId", "")
                if revision_id.startswith(tag):
                    return revision_id
            if seen >= MAX_EXECUTIONS_SEARCHED:
                break
        if seen >= MAX_EXECUTIONS_SEARCHED:
            break
    raise RevertError(
        f"no execution of {pipeline} among the last {seen} built a commit starting with {tag!r}; "
        "nothing was started. Pass the full commit SHA with --commit instead."
    )


def source_action(codepipeline: Any, pipeline: str) -> str:
    """Name of the pipeline's source action (the first action of the first stage)."""
    declaration = codepipeline.get_pipeline(name=pipeline)["pipeline"]
    return declaration["stages"][0]["actions"][0]["name"]


def revert(ecr: Any, codepipeline: Any, target: Target, *, commit: str | None = None, tag: str | None = None) -> dict[str, str]:
    """Check the image, then start the pipeline on its commit. Returns what was started."""
    if (commit is None) == (tag is None):
        raise RevertError("give exactly one of --commit and --tag")
    if commit is not None:
        commit = commit.strip().lower()
        if len(commit) != 40 or not _HEX.match(commit):
            raise RevertError(f"--commit: {commit!r} is not a full 40-character commit SHA; use --tag for a short SHA")
        tag = tag_for_commit(commit)
    assert tag is not None
    digest = check_image(ecr, target.repository, tag)
    if commit is None:
        commit = commit_for_tag(codepipeline, target.pipeline, tag)
    action = source_action(codepipeline, target.pipeline)
    started = codepipeline.start_pipeline_execution(
        name=target.pipeline,
        sourceRevisions=[{"actionName": action, "revisionType": "COMMIT_ID", "revisionValue": commit}],
    )
    return {
        "pipeline": target.pipeline,
        "executionId": started["pipelineExecutionId"],
        "commit": commit,
        "image": f"{target.repository}:{tag}",
        "digest": digest,
    }


def main(argv: list[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.revert", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="Pulumi stack, e.g. prod")
    parser.add_argument("--service", default="app", help="serviceName of the stack (default: app)")
    parser.add_argument("--region", help="AWS region (default: from the AWS profile/environment)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--commit", help="full commit SHA the pipeline built before")
    which.add_argument("--tag", help="image tag in the stack's ECR repository (the short commit SHA)")
    args = parser.parse_args(argv)
    if session is None:
        import boto3.session

        session = boto3.session.Session(region_name=args.region)
    target = stack_target(args.stack, args.service)
    try:
        result = revert(session.client("ecr"), session.client("codepipeline"), target, commit=args.commit, tag=args.tag)
    except RevertError as error:
        print(f"revert: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # botocore ClientError, credentials, network: report, do not trace
        print(f"revert: AWS call failed: {error}", file=sys.stderr)
        return 1
    print(
        f"Started {result['pipeline']} execution {result['executionId']} on commit {result['commit']} "
        f"(image {result['image']}, {result['digest']}). Follow it in the CodePipeline console; "
        "approval and bake-time gates apply as for any deployment."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
