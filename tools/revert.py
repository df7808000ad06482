"""Put a previous image back, through the pipeline.

    venv/bin/python -m tools.revert --stack dev --commit 3f2c1e9a...   # a commit the pipeline built before
    venv/bin/python -m tools.revert --stack dev --tag 3f2c1e9           # an image tag (the short commit SHA)
    venv/bin/python -m tools.revert --stack dev --digest sha256:4b1d...  # an image digest (e.g. from the record)
    venv/bin/python -m tools.revert --stack prod --digest sha256:0a1b... # a stack that promotes (tools/promote.py)
    venv/bin/python -m tools.revert --stack dev --service api --tag 3f2c1e9   # a stack with services: name one

It reads Pulumi.<stack>.yaml for the region and the service name, checks that the image exists in the
stack's ECR repository, then starts the stack's pipeline on that image's commit (StartPipelineExecution
with a COMMIT_ID source revision override). The pipeline's build finds the image already in the registry
and skips building it, the deploy stage rolls out its digest reference with every gate of the stack
(approval, alarms, bake time), and the deploy step records it, so a later `pulumi up` keeps it. Nothing
is changed behind the pipeline's back, so the pipeline, the running service and the Pulumi state agree.

A stack with a `services` list runs a pipeline and a repository per service (project-stack-<service>): --service
names the one to revert, and is required there; a stack without one runs one service, its serviceName, and takes
--service only as that name.

A stack that promotes from another (promoteFrom) builds nothing: it is reverted by the digest of an image
its upstream verified, which the tool writes into the stack's promotion inbox (tools/promote.py).

The supply-chain gate applies to a revert as to any change, because a revert deploys only through the
pipeline. On a stack that builds, the Scan stage scans the digest again with today's vulnerability data (a
revert to an image scanned long ago is rescanned, and refused if a finding at the threshold was published
since) and VerifyImage checks its signature by the stack's profile. On a stack that promotes, the Check stage
verifies the upstream's signature and rescans the upstream's SBOM of the digest against this stack's
threshold. An image refused there is never deployed: the pipeline stops with `Refusing <image>: <reason>`.

Exit codes: 0 the pipeline was started; 64 usage error (bad arguments, no such stack file, invalid stack
settings; checked before any AWS call); 2 nothing to revert (the image is not in the registry, it has no
commit tag, no earlier execution built its commit, or the upstream did not verify the digest; nothing
was started or written); 1 an AWS error (credentials, access, network, no such pipeline).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.delivery.buildspec import DIGEST_PATTERN, SHORT_SHA_LENGTH
from tools import promote
from tools.stack import ROOT, RevertError, Target, UsageError, add_service_argument, read_settings, service_settings, stack_target, tool_parser

# sysexits.h: EX_USAGE. Distinct from 2 ("nothing to revert"), so a script can tell a typo from a missing image.
EXIT_STARTED, EXIT_AWS_ERROR, EXIT_NOTHING_TO_REVERT, EXIT_USAGE = 0, 1, 2, 64
_TAG = re.compile(rf"^[0-9a-f]{{{SHORT_SHA_LENGTH}}}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_DIGEST = re.compile(DIGEST_PATTERN)
# How many recent executions to search for the commit behind a tag.
MAX_EXECUTIONS_SEARCHED = 500


def read_stack(stack: str, root: Path = ROOT, service: str | None = None) -> Target:
    """The target of the stack's service (`service_settings`) from Pulumi.yaml and Pulumi.<stack>.yaml, read as the
    CLI reads them (YAML 1.2) and validated by the program's own settings; UsageError when either is missing or
    invalid, or `service` does not name a service of the stack."""
    project, stack_settings, region = read_settings(stack, root)
    settings = service_settings(stack, stack_settings, service)
    if settings.promotes:
        raise UsageError(f"--stack: {stack} promotes from {settings.promotion.promote_from} and builds nothing; revert it with --digest")
    return stack_target(stack, settings.service_name, project, region)


@dataclass(frozen=True)
class Revision:
    """What to revert to, well formed: exactly one of a full commit, an image tag and an image digest."""

    commit: str | None = None
    tag: str | None = None
    digest: str | None = None


def check_revision(commit: str | None = None, tag: str | None = None, digest: str | None = None) -> Revision:
    """The revision once it is known to be well formed; UsageError otherwise."""
    if sum(v is not None for v in (commit, tag, digest)) != 1:
        raise UsageError("give exactly one of --commit, --tag and --digest")
    if commit is not None:
        if not _COMMIT.match(commit.lower()):
            raise UsageError(f"--commit: {commit!r} is not a full 40-character commit SHA; use --tag for a short SHA")
        commit = commit.lower()
        return Revision(commit=commit, tag=tag_for_commit(commit))
    if tag is not None:
        if not _TAG.match(tag):
            raise UsageError(
                f"--tag: {tag!r} is not an image tag of this pipeline; tags are the first {SHORT_SHA_LENGTH} characters of the commit SHA, lowercase hex (e.g. 3f2c1e9)"
            )
        return Revision(tag=tag)
    assert digest is not None
    if not _DIGEST.match(digest):
        raise UsageError(
            f"--digest: {digest!r} is not an image digest; write sha256: and the 64 lowercase hex characters, as in the deployed-image record (e.g. sha256:{'0' * 64})"
        )
    return Revision(digest=digest)


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


def tag_for_digest(ecr: Any, repository: str, digest: str) -> str:
    """The commit tag of the image with this digest; RevertError when the repository holds no such
    image or the image has no commit tag (the pipeline did not build it)."""
    try:
        response = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    except ecr.exceptions.ImageNotFoundException:
        raise RevertError(
            f"image {repository}@{digest} does not exist in the registry; nothing was started. "
            f"List the digests it holds with: aws ecr describe-images --repository-name {repository} "
            "--query 'imageDetails[].imageDigest' --output text"
        ) from None
    tags = sorted(t for t in response["imageDetails"][0].get("imageTags", []) if _TAG.match(t))
    if not tags:
        raise RevertError(f"image {repository}@{digest} has no commit tag, so no pipeline execution built it; nothing was started. Pass the commit with --commit instead.")
    return tags[0]


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
        f"no execution of {pipeline} among the last {seen} built a commit starting with {tag!r}; nothing was started. Pass the full commit SHA with --commit instead."
    )


def source_action(codepipeline: Any, pipeline: str) -> str:
    """Name of the pipeline's source action (the first action of the first stage)."""
    declaration = codepipeline.get_pipeline(name=pipeline)["pipeline"]
    return declaration["stages"][0]["actions"][0]["name"]


def revert(ecr: Any, codepipeline: Any, target: Target, *, commit: str | None = None, tag: str | None = None, digest: str | None = None) -> dict[str, str]:
    """Check the image, then start the pipeline on its commit. Returns what was started."""
    revision = check_revision(commit, tag, digest)
    commit = revision.commit
    if revision.digest is not None:
        digest = revision.digest
        tag = tag_for_digest(ecr, target.repository, digest)
    else:
        assert revision.tag is not None
        tag = revision.tag
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
        "image": f"{target.repository}@{digest}",
        "tag": tag,
    }


def parser() -> argparse.ArgumentParser:
    parser = tool_parser("python -m tools.revert", __doc__ or "")
    parser.add_argument("--stack", required=True, help="Pulumi stack; its Pulumi.<stack>.yaml gives the region and serviceName")
    add_service_argument(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--commit", help="full 40-character commit SHA the pipeline built before")
    which.add_argument("--tag", help=f"image tag in the stack's ECR repository: the commit's first {SHORT_SHA_LENGTH} characters")
    which.add_argument(
        "--digest",
        help="image digest (sha256:<64 hex>): in the stack's ECR repository (e.g. from the deployed-image record), "
        "or, for a stack that promotes (promoteFrom), of an image its upstream verified",
    )
    return parser


def _session(region: str | None) -> Any:
    import boto3.session

    return boto3.session.Session(region_name=region)


def main(argv: list[str] | None = None, session_factory: Callable[[str | None], Any] = _session, root: Path = ROOT) -> int:
    # Everything that can be wrong locally is checked before the first AWS client exists.
    try:
        args = parser().parse_args(argv)
        revision = check_revision(args.commit, args.tag, args.digest)
        if revision.digest is not None and read_settings(args.stack, root)[1].promotes:
            return _promote(args.stack, args.service, revision.digest, session_factory, root)
        target = read_stack(args.stack, root, args.service)
    except UsageError as error:
        print(f"revert: {error}\n{parser().format_usage().rstrip()}", file=sys.stderr)
        return EXIT_USAGE
    try:
        session = session_factory(target.region)
        # A commit implies its tag; pass only what was given.
        given = {"commit": revision.commit} if revision.commit else {"tag": revision.tag, "digest": revision.digest}
        result = revert(session.client("ecr"), session.client("codepipeline"), target, **given)
    except RevertError as error:
        print(f"revert: {error}", file=sys.stderr)
        return EXIT_NOTHING_TO_REVERT
    except Exception as error:  # botocore ClientError, credentials, network: report, do not trace
        print(f"revert: AWS call failed: {error}", file=sys.stderr)
        return EXIT_AWS_ERROR
    print(
        f"Started {result['pipeline']} execution {result['executionId']} on commit {result['commit']} "
        f"(image {result['image']}, tag {result['tag']}). Follow it in the CodePipeline console; "
        "approval and bake-time gates apply as for any deployment."
    )
    return EXIT_STARTED


def _promote(stack: str, service: str | None, digest: str, session_factory: Callable[[str | None], Any], root: Path) -> int:
    """--digest: write an image the upstream verified into a promoting stack's (service's) inbox (tools/promote.py)."""
    try:
        project, settings, region = read_settings(stack, root)
        target = promote.promotion_target(stack, service_settings(stack, settings, service), project, region)
        promote.check_digest(digest)
    except UsageError as error:
        print(f"revert: {error}\n{parser().format_usage().rstrip()}", file=sys.stderr)
        return EXIT_USAGE
    try:
        session = session_factory(target.region)
        result = promote.promote(session.client("ecr"), session.client("s3"), session.client("codepipeline"), target, digest)
    except RevertError as error:
        print(f"revert: {error}", file=sys.stderr)
        return EXIT_NOTHING_TO_REVERT
    except Exception as error:  # botocore ClientError, credentials, network: report, do not trace
        print(f"revert: AWS call failed: {error}", file=sys.stderr)
        return EXIT_AWS_ERROR
    print(
        f"Wrote {result['inbox']} (version {result['version']}): image {result['imageUri']}, commit {result['commit']}, verified by "
        f"{result['upstreamPipeline']} execution {result['upstreamExecutionId']}. The new object starts {result['pipeline']}; its Check "
        "stage verifies the image again, and approval and bake-time gates apply as for any promotion."
    )
    return EXIT_STARTED


if __name__ == "__main__":
    sys.exit(main())
