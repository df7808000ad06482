"""The CodeBuild buildspec, built as Python data and serialised once.

Contract with the app's Dockerfile (see app/README.md): a `test` stage that runs the tests and
writes `/reports/junit.xml` and `/reports/exit-code` without failing the docker build, so the JUnit
report reaches CodeBuild even when tests fail; the final stage is the image that runs.
"""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import yaml

# The build's output artifact for the ECS deploy action: [{name, imageUri}] of the container it deploys.
IMAGE_DEFINITIONS_FILE = "imagedefinitions.json"
REPORTS_DIR = "reports"
JUNIT_FILE = "junit.xml"
# A commit's image tag: the first 7 characters of the commit id CodePipeline passed to the build.
SHORT_SHA_LENGTH = 7
# Local tag of the Dockerfile's `test` stage; never pushed.
TEST_IMAGE = "pipeline-test"
# Stands for the image URI in the skipped-tests report; the shell puts the real one in its place.
_URI_SLOT = "@IMAGE_URI@"
# What the build exports as IMAGE_DIGEST and puts after `@` in IMAGE_URI: the registry's digest, never a tag.
DIGEST_PATTERN = "^sha256:[0-9a-f]{64}$"


def skipped_report() -> tuple[str, str]:
    """The JUnit report of a build that found its image already in the registry, split at the image URI.

    Without a report file CodeBuild marks the report group's run INCOMPLETE; one skipped test case says
    why nothing ran. An ECR image URI holds only `[a-z0-9._/:-]`, so it needs no XML escaping.
    """
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="app", tests="1", failures="0", errors="0", skipped="1")
    case = ET.SubElement(suite, "testcase", classname="pipeline", name="tests")
    ET.SubElement(case, "skipped", message=f"Image {_URI_SLOT} was already in the registry, so tests were not re-run")
    head, tail = ET.tostring(suites, encoding="unicode").split(_URI_SLOT)
    return head, tail


def buildspec(
    *,
    app_path: str,
    container_name: str,
    repository_url: str,
    repository_name: str,
    report_group_arn: str,
    install: Sequence[str] = (),
    sign: Sequence[str] = (),
) -> dict:
    """The buildspec (version 0.2) as data.

    Docker builds and pushes `$TAGGED_IMAGE` (`$REPOSITORY_URI:<short commit>`); what the build
    hands on is the digest reference `IMAGE_URI=$REPOSITORY_URI@sha256:...` (also in
    imagedefinitions.json), so every deployment names exactly the bytes that were built. IMAGE_TAG
    and IMAGE_DIGEST are exported besides it.

    The build is idempotent per commit: when the repository already holds the commit's tag
    (a re-run, a revert to an old commit) it skips the docker build and push, which would
    fail on the immutable tag, and still writes the deploy artifact with that image's digest.

    `install`: commands of the install phase (the signing tools). Omitted: no install phase. `sign`: commands that
    sign `$IMAGE_URI` once the digest is known, before the deploy artifact is written (a failed signature fails the
    build). Omitted: the image is not signed.
    """
    q = shlex.quote
    # A fixed, lowercase local name: Docker rejects upper-case repository names, which containerName allows.
    test_image = f"{TEST_IMAGE}:$IMAGE_TAG"
    report_head, report_tail = skipped_report()
    build_image = (
        'if [ "$IMAGE_EXISTS" = "true" ]; then '
        'echo "Image $TAGGED_IMAGE already in the registry; skipping test, build and push"; '
        f"printf '%s%s%s\\n' {q(report_head)} \"$TAGGED_IMAGE\" {q(report_tail)} > {REPORTS_DIR}/{JUNIT_FILE}; "
        "else "
        f'docker build --target test --tag {test_image} "$APP_PATH" && '
        f"CID=$(docker create {test_image}) && "
        f'docker cp "$CID:/reports/." {REPORTS_DIR}/ && docker rm "$CID" && '
        f'TEST_EXIT="$(cat {REPORTS_DIR}/exit-code)" && '
        'if [ "$TEST_EXIT" != "0" ]; then echo "Tests failed (exit $TEST_EXIT)"; exit 1; fi && '
        'docker build --tag "$TAGGED_IMAGE" --label "org.opencontainers.image.revision=$CODEBUILD_RESOLVED_SOURCE_VERSION" "$APP_PATH" && '
        'docker push "$TAGGED_IMAGE"; '
        "fi"
    )
    phases: dict = {"install": {"on-failure": "ABORT", "commands": list(install)}} if install else {}
    return {
        "version": 0.2,
        "env": {
            "shell": "bash",
            "variables": {
                "APP_PATH": app_path,
                "CONTAINER_NAME": container_name,
                "REPOSITORY_URI": repository_url,
                "REPOSITORY_NAME": repository_name,
                "DOCKER_BUILDKIT": "1",
            },
            # Published as #{BuildVariables.IMAGE_URI} etc. to later pipeline actions.
            "exported-variables": ["IMAGE_TAG", "IMAGE_URI", "IMAGE_DIGEST", "COMMIT_ID"],
        },
        "phases": {
            **phases,
            "pre_build": {
                "on-failure": "ABORT",
                "commands": [
                    f'IMAGE_TAG="$(echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" | cut -c 1-{SHORT_SHA_LENGTH})"',
                    'test -n "$IMAGE_TAG" || { echo "CODEBUILD_RESOLVED_SOURCE_VERSION is empty"; exit 1; }',
                    # The name docker builds and pushes; not exported: deployments use the digest reference.
                    'TAGGED_IMAGE="$REPOSITORY_URI:$IMAGE_TAG"',
                    # CodeBuild reads exported-variables from the build's environment after post_build
                    # (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ExportedEnvironmentVariable.html);
                    # a plain shell variable is not in it.
                    # The full commit id, for later actions that must name the commit without the
                    # source's own variables (a promoting stack has no source repository).
                    'COMMIT_ID="$CODEBUILD_RESOLVED_SOURCE_VERSION"',
                    "export IMAGE_TAG COMMIT_ID",
                    f"mkdir -p {REPORTS_DIR}",
                    'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"',
                    'if aws ecr describe-images --repository-name "$REPOSITORY_NAME" '
                    '--image-ids imageTag="$IMAGE_TAG" > /dev/null 2>&1; '
                    "then IMAGE_EXISTS=true; else IMAGE_EXISTS=false; fi",
                ],
            },
            "build": {"on-failure": "ABORT", "commands": [build_image]},
            "post_build": {
                "commands": [
                    'test "$CODEBUILD_BUILD_SUCCEEDING" = "1" || exit 1',
                    # The digest the registry resolves the tag to, which is what ECS and Kubernetes pull.
                    # Not the local image ID, nor the digest `docker push` prints for the platform
                    # manifest: BuildKit's provenance attestations (buildx >= 0.10) make the pushed tag
                    # an OCI image index over that manifest (https://github.com/docker/buildx/issues/1533),
                    # and describe-images reports the digest of whatever the tag references. Tags are
                    # immutable in this repository, so the digest is the one this commit's push (or the
                    # earlier build the skip path found) stored, on both paths.
                    'IMAGE_DIGEST="$(aws ecr describe-images --repository-name "$REPOSITORY_NAME" '
                    '--image-ids imageTag="$IMAGE_TAG" --query \'imageDetails[0].imageDigest\' --output text)"',
                    f'[[ "$IMAGE_DIGEST" =~ {DIGEST_PATTERN} ]] || {{ echo "No digest for $TAGGED_IMAGE in the registry: \'$IMAGE_DIGEST\'"; exit 1; }}',
                    'IMAGE_URI="$REPOSITORY_URI@$IMAGE_DIGEST"',
                    # Separate from the assignments so a failing `aws` still fails its command.
                    "export IMAGE_DIGEST IMAGE_URI",
                    *sign,
                    # The container name comes from the same Python value as the task definition's. ECS takes
                    # `registry/repository@sha256:<64 hex>` as a container image (ContainerDefinition.image,
                    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html).
                    f"jq -n --arg name {q(container_name)} --arg uri \"$IMAGE_URI\" '[{{name: $name, imageUri: $uri}}]' > {IMAGE_DEFINITIONS_FILE}",
                    f"cat {IMAGE_DEFINITIONS_FILE}",
                ],
            },
        },
        "reports": {
            report_group_arn: {
                "files": [JUNIT_FILE],
                "base-directory": REPORTS_DIR,
                "file-format": "JUNITXML",
            }
        },
        "artifacts": {"files": [IMAGE_DEFINITIONS_FILE]},
    }


def render(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, width=1000)
