"""The promotion steps' bash programs and buildspecs, as data (tests run the programs against stand-ins).

- Publish (upstream, the pipeline's last stage): tags the image the pipeline deployed and verified,
  `verified-<commit7>` then `execution-<execution id>`, by its digest.
- Check (downstream, after Source): reads promotion.json from the inbox, refuses an image the upstream
  did not tag as verified by that execution, and otherwise stands in for a build: it writes
  imagedefinitions.json and exports the build's variables (IMAGE_URI as the digest reference).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from components.delivery.buildspec import IMAGE_DEFINITIONS_FILE, SHORT_SHA_LENGTH
from components.delivery.image_record import MANIFEST_MEDIA_TYPES
from components.promotion.contract import EXECUTION_TAG_PREFIX, PROMOTION_FILE, VERIFIED_TAG_PREFIX

# What the Check step exports under the build's namespace: the build's three, and where the image came from.
CHECK_VARIABLES = ("IMAGE_URI", "IMAGE_TAG", "IMAGE_DIGEST", "COMMIT_ID", "UPSTREAM_EXECUTION_ID")
_DIGEST = "^sha256:[0-9a-f]{64}$"
_COMMIT = f"^[0-9a-f]{{{SHORT_SHA_LENGTH}}}$"
# CodePipeline execution ids are UUIDs.
_EXECUTION = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _shape(variable: str, regex: str, what: str, where: str) -> str:
    """A line that stops the program when `$variable` does not match `regex`: nothing is tagged or
    deployed from a value of the wrong shape."""
    return f'[[ "${variable}" =~ {regex} ]] || {{ echo "{where}: {variable} \'${variable}\' is not {what}"; exit 1; }}'


def publish_script(repository_name: str) -> str:
    """Tag IMAGE_DIGEST `verified-$IMAGE_TAG` and `execution-$EXECUTION_ID` in the stack's repository.

    Idempotent (a re-run finds its tags and succeeds) and never moves a tag: a tag already on another
    image fails the step. The manifest is put back as batch-get-image returns it, with its media type
    and digest (ECR checks the digest), as https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html does.
    """
    repo = shlex.quote(repository_name)
    lines = [
        "set -euo pipefail",
        _shape("IMAGE_DIGEST", _DIGEST, "an image digest", "Publish"),
        _shape("IMAGE_TAG", _COMMIT, "a short commit id", "Publish"),
        _shape("EXECUTION_ID", _EXECUTION, "a pipeline execution id", "Publish"),
        # The accepted media types name the index types too: without them ECR answers an image index (what
        # BuildKit pushes) with the failure UnsupportedImageType instead of its manifest.
        # A file of its own (mktemp): two steps on one host never read each other's answer.
        'IMAGE_JSON="$(mktemp)"',
        f'aws ecr batch-get-image --repository-name {repo} --image-ids imageDigest="$IMAGE_DIGEST" '
        f'--accepted-media-types {" ".join(MANIFEST_MEDIA_TYPES)} --output json > "$IMAGE_JSON"',
        'MANIFEST="$(jq -r \'.images[0].imageManifest // empty\' "$IMAGE_JSON")"',
        'MEDIA_TYPE="$(jq -r \'.images[0].imageManifestMediaType // empty\' "$IMAGE_JSON")"',
        f'[ -n "$MANIFEST" ] || {{ echo "Publish: no image $IMAGE_DIGEST in {repository_name}"; exit 1; }}',
        # The verified tag first: an image that carries the execution tag (what the collector looks
        # for) therefore always carries the verified tag too.
        f'for TAG in "{VERIFIED_TAG_PREFIX}$IMAGE_TAG" "{EXECUTION_TAG_PREFIX}$EXECUTION_ID"; do',
        f'  HAS="$(aws ecr describe-images --repository-name {repo} --image-ids imageTag="$TAG" --query \'imageDetails[0].imageDigest\' --output text 2> /dev/null || true)"',
        '  if [ "$HAS" = "$IMAGE_DIGEST" ]; then echo "$TAG already names $IMAGE_DIGEST"; continue; fi',
        '  if [ -n "$HAS" ]; then echo "Publish: $TAG already names $HAS, not $IMAGE_DIGEST (tags are immutable)"; exit 1; fi',
        f'  aws ecr put-image --repository-name {repo} --image-tag "$TAG" --image-manifest "$MANIFEST" '
        '--image-manifest-media-type "$MEDIA_TYPE" --image-digest "$IMAGE_DIGEST" > /dev/null',
        '  echo "Tagged $IMAGE_DIGEST as $TAG"',
        "done",
    ]
    return "\n".join(lines) + "\n"


def check_script(container_name: str, gate: Sequence[str] = (), gate_variables: Sequence[str] = ()) -> str:
    """Verify the inbox's promotion.json against the upstream registry; write the build's deploy artifact.

    Reads UPSTREAM_REGISTRY_ID, UPSTREAM_REGION, UPSTREAM_REPOSITORY and UPSTREAM_REPOSITORY_URL from
    the environment (the buildspec's variables). Nothing from the inbox is deployed as it is: the image
    reference is rebuilt from the upstream repository's URL and the checked digest, and imagedefinitions.json
    is written here with this stack's container name.

    `gate`: the supply-chain gate's lines (the signature by the upstream's profile, the rescan), run once the
    tags are checked and IMAGE_URI is the digest reference, with `refuse REASON` (prints `Refusing <image>:
    <reason>`, fails) defined; `gate_variables`: what they set and the step exports besides CHECK_VARIABLES.
    Omitted: no gate (this stack's imageSigning and scanSeverityThreshold are off).
    """
    q = shlex.quote
    lines = [
        "set -euo pipefail",
        f'[ -f {PROMOTION_FILE} ] || {{ echo "Check: the source artifact holds no {PROMOTION_FILE}"; exit 1; }}',
        f"DIGEST=\"$(jq -r '.digest // empty' {PROMOTION_FILE})\"",
        f"COMMIT=\"$(jq -r '.commit // empty' {PROMOTION_FILE})\"",
        f"EXECUTION=\"$(jq -r '.upstreamExecutionId // empty' {PROMOTION_FILE})\"",
        _shape("DIGEST", _DIGEST, "an image digest", f"Check: {PROMOTION_FILE}"),
        _shape("COMMIT", _COMMIT, "a short commit id", f"Check: {PROMOTION_FILE}"),
        _shape("EXECUTION", _EXECUTION, "a pipeline execution id", f"Check: {PROMOTION_FILE}"),
        'TAGS="$(aws ecr describe-images --registry-id "$UPSTREAM_REGISTRY_ID" --region "$UPSTREAM_REGION" '
        '--repository-name "$UPSTREAM_REPOSITORY" --image-ids imageDigest="$DIGEST" '
        "--query 'imageDetails[0].imageTags' --output json)\" "
        '|| { echo "Check: refusing $DIGEST: it is not in the upstream repository $UPSTREAM_REPOSITORY"; exit 1; }',
        f'for WANT in "{VERIFIED_TAG_PREFIX}$COMMIT" "{EXECUTION_TAG_PREFIX}$EXECUTION"; do',
        '  echo "$TAGS" | jq -e --arg tag "$WANT" \'any(.[]?; . == $tag)\' > /dev/null '
        '|| { echo "Check: refusing $DIGEST: the upstream did not verify it (no tag $WANT in $UPSTREAM_REPOSITORY)"; exit 1; }',
        "done",
        'IMAGE_URI="$UPSTREAM_REPOSITORY_URL@$DIGEST"',
        'IMAGE_TAG="$COMMIT"',
        'IMAGE_DIGEST="$DIGEST"',
        'COMMIT_ID="$COMMIT"',
        'UPSTREAM_EXECUTION_ID="$EXECUTION"',
        *(['refuse() { echo "Refusing $IMAGE_URI: $1"; exit 1; }', *gate] if gate else []),
        # CodeBuild reads exported-variables from the environment after the build; plain shell variables are not in it.
        f"export {' '.join((*CHECK_VARIABLES, *gate_variables))}",
        f"jq -n --arg name {q(container_name)} --arg uri \"$IMAGE_URI\" '[{{name: $name, imageUri: $uri}}]' > {IMAGE_DEFINITIONS_FILE}",
        'echo "The upstream verified $IMAGE_URI (commit $COMMIT, upstream execution $EXECUTION)"',
    ]
    return "\n".join(lines) + "\n"


def publish_buildspec(repository_name: str) -> dict:
    """The Publish step's buildspec (version 0.2); the action passes IMAGE_DIGEST, IMAGE_TAG and EXECUTION_ID."""
    return {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {"build": {"on-failure": "ABORT", "commands": [publish_script(repository_name)]}},
    }


def check_buildspec(
    *,
    container_name: str,
    registry_id: str,
    region: str,
    repository_name: str,
    repository_url: str,
    gate: CheckGate | None = None,
) -> dict:
    """The Check step's buildspec (version 0.2): the upstream's registry in env, the build's exported variables and artifact.
    `gate`: what the supply-chain gate adds (its tools, its lines, its variables). Omitted: no gate."""
    variables = {
        "UPSTREAM_REGISTRY_ID": registry_id,
        "UPSTREAM_REGION": region,
        "UPSTREAM_REPOSITORY": repository_name,
        "UPSTREAM_REPOSITORY_URL": repository_url,
    }
    phases: dict = {}
    if gate is not None:
        variables.update(gate.environment)
        if gate.install:
            phases["install"] = {"on-failure": "ABORT", "commands": list(gate.install)}
    script = check_script(container_name, gate.lines, gate.variables) if gate else check_script(container_name)
    phases["build"] = {"on-failure": "ABORT", "commands": [script]}
    return {
        "version": 0.2,
        "env": {
            "shell": "bash",
            "variables": variables,
            "exported-variables": [*CHECK_VARIABLES, *(gate.variables if gate else ())],
        },
        "phases": phases,
        "artifacts": {"files": [IMAGE_DEFINITIONS_FILE]},
    }


@dataclass(frozen=True)
class CheckGate:
    """What the supply-chain gate adds to the Check step."""

    lines: Sequence[str]
    """Bash run after the tag check, with IMAGE_URI, DIGEST and `refuse` defined."""
    variables: Sequence[str] = ()
    """What the lines set and the step exports (SBOM_URI, SCAN_VERDICT when it rescans). Omitted: none."""
    install: Sequence[str] = ()
    """The install phase's commands (the Notation CLI and its AWS Signer plugin). Omitted: no install phase."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """The buildspec's variables the lines read. Omitted: none."""


def render(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, width=1000)
