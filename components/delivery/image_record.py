"""The record of the image that runs: written by the pipeline's deploy step, read back by every `pulumi up`.

After the first deployment the pipeline owns the running image, and `pulumi up` must neither put the
bootstrap image back nor stop applying its own changes (task size, replicas, environment). Ignoring
the image (`ignore_changes`) cannot do both: ECS would never get a new task size, and
pulumi-kubernetes' server-side apply does not honour `ignoreChanges` on a path inside an array. So
Pulumi *knows* the image instead: the deploy step writes the image it deployed, as its digest
reference (and, on a rollback, the known-good image it restored), into an SSM parameter the stack
creates; the stack reads the parameter back on every `up` and builds the task definition or the pod
spec with that image. The parameter holds the bootstrap image until the first deployment.

The parameter belongs to the stack, not to a deploy target: a switch of `deployTarget` starts the new
target with the image that last ran on the old one.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.delivery.buildspec import DIGEST_PATTERN, SHORT_SHA_LENGTH
from components.delivery.registry import DEPLOYED_TAG_PREFIX
from components.iam import Statement


@dataclass(frozen=True)
class ImageRecordArgs:
    parameter_name: str
    """SSM parameter name, unique per project, stack and service (`/project/stack/service/...`)."""
    bootstrap_image: str
    """What the parameters hold until the pipeline's first deployment."""
    known_good_parameter_name: str
    """SSM parameter of the image that last passed its bake (`/project/stack/service/...`)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


def parameter_name(project: str, stack: str, service: str) -> str:
    return f"/{project}/{stack}/{service}/deployed-image"


def known_good_parameter_name(project: str, stack: str, service: str) -> str:
    return f"/{project}/{stack}/{service}/known-good-image"


class ImageRecord(pulumi.ComponentResource):
    """Two records: the image the pipeline deployed last (what runs, what `pulumi up` keeps), and the image that
    last passed its bake (what a failed rollout goes back to). A deployment is recorded in the first when its deploy
    step verified it, and in the second only once its deploy stage succeeded with its bake (the Release stage):
    a rollout whose bake fails was never known good, and a rollback never restores it.

    Outputs: `name` (plain), `parameter_name`, `parameter_arn`, `image` (the value as it is in AWS at this `up`),
    `known_good_name` (plain), `known_good_arn`.
    """

    def __init__(self, name: str, args: ImageRecordArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:delivery:ImageRecord", name, None, opts)
        parameter = aws.ssm.Parameter(
            f"{name}-parameter",
            name=args.parameter_name,
            description="Image the pipeline deployed last (written by its deploy step); pulumi up runs this image",
            type="String",
            # Not sensitive: an image reference. (`value` would mark everything built from it secret.)
            insecure_value=args.bootstrap_image,
            tags=args.tags,
            # The deploy step owns the value after the first deployment.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["insecure_value"]),
        )
        # Read the parameter as it is now, not as Pulumi last wrote it; after the parameter exists.
        live = aws.ssm.get_parameter_output(name=parameter.name, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[parameter]))
        self.parameter_name = parameter.name
        self.name: str = args.parameter_name
        """The parameter's name as a plain value, for deploy scripts."""
        self.parameter_arn = parameter.arn
        self.image: pulumi.Output[str] = live.insecure_value
        known_good = aws.ssm.Parameter(
            f"{name}-known-good",
            name=args.known_good_parameter_name,
            description="Image that last passed its deploy stage and bake (written by the pipeline's Release stage); a failed rollout restores it",
            type="String",
            # Created with what runs: the bootstrap image in a new stack; in a stack that has deployed before
            # this record existed, the image its deploy step recorded (a rollback never falls back to bootstrap).
            insecure_value=self.image,
            tags=args.tags,
            # The Release stage owns the value after the first deployment.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["insecure_value"]),
        )
        self.known_good_name: str = args.known_good_parameter_name
        """The known-good parameter's name as a plain value, for deploy scripts."""
        self.known_good_arn = known_good.arn
        self.register_outputs({"parameter_name": self.parameter_name, "image": self.image, "known_good_arn": self.known_good_arn})


# The manifest media types the record step accepts from batch-get-image: all four, so ECR returns the
# stored manifest or index as it is (a list without the index types would ask ECR for a platform
# manifest instead; amazon-ecr-containerd-resolver asks for the same four:
# https://github.com/awslabs/amazon-ecr-containerd-resolver/blob/master/ecr/base.go).
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def registry_id(repository_url: str) -> str:
    """The account of an ECR repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`): its registry id.
    Every ECR call names it: without `--registry-id` ECR looks in the caller's own account."""
    return repository_url.split(".", 1)[0]


def digest_reference_commands(repository_url: str, repository_name: str) -> list[str]:
    """Bash lines that turn "$IMAGE_URI" into the digest reference of the image it names, checked
    against the registry; they fail for anything that is not an image of this repository.

    Afterwards IMAGE_URI is `<repository_url>@sha256:<digest>`, IMAGE_DIGEST the digest and
    IMAGE_DETAILS the registry's description of the image (JSON, with its tags). A digest reference
    must name an image the repository holds. `<repository_url>:<tag>` is accepted only as what a
    pipeline execution from before digest deployments passes (a stage rollback re-runs such an
    execution with its own variables and artifacts); it resolves to the digest its immutable tag
    references, so the record never holds a tag the pipeline deployed.
    """
    return [
        f"REPOSITORY_URI={shlex.quote(repository_url)}",
        'case "$IMAGE_URI" in "$REPOSITORY_URI"@sha256:*) IMAGE_ID="imageDigest=${IMAGE_URI#"$REPOSITORY_URI"@}" ;; '
        '"$REPOSITORY_URI":*) IMAGE_ID="imageTag=${IMAGE_URI#"$REPOSITORY_URI":}" ;; '
        "*) echo \"Not an image of $REPOSITORY_URI: '$IMAGE_URI'\"; false ;; esac",
        f'IMAGE_DETAILS="$(aws ecr describe-images --registry-id {registry_id(repository_url)} --repository-name {shlex.quote(repository_name)} '
        f'--image-ids "$IMAGE_ID" --query \'imageDetails[0]\' --output json)"',
        'IMAGE_DIGEST="$(jq -r .imageDigest <<<"$IMAGE_DETAILS")"',
        f'[[ "$IMAGE_DIGEST" =~ {DIGEST_PATTERN} ]] || {{ echo "No image $IMAGE_URI in {repository_name}"; false; }}',
        'IMAGE_URI="$REPOSITORY_URI@$IMAGE_DIGEST"',
    ]


def record_commands(parameter_name: str, repository_url: str, repository_name: str, *, tag_deployed: bool = True) -> list[str]:
    """Bash lines that record "$IMAGE_URI" as the image that runs, after a deployment succeeded:
    `digest_reference_commands`, then `record_resolved_commands`."""
    return [*digest_reference_commands(repository_url, repository_name), *record_resolved_commands(parameter_name, repository_url, repository_name, tag_deployed=tag_deployed)]


def record_resolved_commands(parameter_name: str, repository_url: str, repository_name: str, *, tag_deployed: bool = True) -> list[str]:
    """Bash lines that record the image `digest_reference_commands` resolved (IMAGE_URI, IMAGE_DIGEST,
    IMAGE_DETAILS).

    They write the digest reference into the SSM parameter `pulumi up` reads back, and give the image
    a second tag, `deployed-<commit tag>`, which the registry's lifecycle policy keeps longer than
    images that never ran. The commit tag is found among the tags of the image the digest names; the
    deployed tag is added once (tags are immutable), a redeployment of the same digest finds it there. put-image gets the manifest exactly as
    batch-get-image returned it, its media type (PutImage refuses an OCI manifest or index whose
    media type it must guess: "Invalid parameter at 'ImageManifest' failed to satisfy constraint:
    'Invalid JSON syntax'", https://github.com/aws/containers-roadmap/issues/1873) and the digest,
    so ECR refuses rather than creates a different image if the bytes ever differ.

    `tag_deployed` False (the repository belongs to another account, whose policy lets this one pull and
    describe, never tag): the image is recorded and not tagged; the owner's registry keeps it as a verified image.
    """
    q = shlex.quote
    repo = f"--registry-id {registry_id(repository_url)} --repository-name {q(repository_name)}"
    commit_tag = f"^[0-9a-f]{{{SHORT_SHA_LENGTH}}}$"
    tag_image = (
        f'IMAGE="$(aws ecr batch-get-image {repo} --image-ids imageDigest="$IMAGE_DIGEST" '
        f"--accepted-media-types {' '.join(MANIFEST_MEDIA_TYPES)} --query 'images[0]' --output json)\" && "
        'MANIFEST="$(jq -r .imageManifest <<<"$IMAGE")" && MEDIA_TYPE="$(jq -r .imageManifestMediaType <<<"$IMAGE")" && '
        f'aws ecr put-image {repo} --image-tag "$DEPLOYED_TAG" --image-digest "$IMAGE_DIGEST" '
        '--image-manifest "$MANIFEST" --image-manifest-media-type "$MEDIA_TYPE" > /dev/null'
    )
    record = f'aws ssm put-parameter --name {q(parameter_name)} --type String --overwrite --value "$IMAGE_URI" > /dev/null'
    if not tag_deployed:
        return [record, f'echo "Recorded $IMAGE_URI as the running image (not tagged: {registry_id(repository_url)} is another account\'s registry)"']
    return [
        record,
        f"""TAG="$(jq -r '[.imageTags[]? | select(test("{commit_tag}"))] | first // empty' <<<"$IMAGE_DETAILS")\"""",
        f'DEPLOYED_TAG="{DEPLOYED_TAG_PREFIX}$TAG"',
        'if [ -z "$TAG" ]; then echo "$IMAGE_URI has no commit tag; not tagged as deployed"; '
        'elif jq -e --arg tag "$DEPLOYED_TAG" \'any(.imageTags[]?; . == $tag)\' <<<"$IMAGE_DETAILS" > /dev/null; '
        'then echo "$IMAGE_URI is already tagged $DEPLOYED_TAG"; '
        f"else {tag_image}; fi",
        'echo "Recorded $IMAGE_URI as the running image"',
    ]


def release_script(deployed_parameter: str, known_good_parameter: str) -> str:
    """The Release step: record "$IMAGE_URI" (the digest reference the deploy stage verified) as known good, once
    its deploy stage succeeded with its bake, and only while it is what runs: a `pulumi up` or a stage rollback
    since has put another image in the deployed-image record, and then nothing is recorded and the step fails."""
    q = shlex.quote
    return (
        "\n".join(
            [
                "set -euo pipefail",
                f'[[ "$IMAGE_URI" =~ @{DIGEST_PATTERN[1:]} ]] || {{ echo "Release: IMAGE_URI \'$IMAGE_URI\' is not a digest reference; nothing recorded"; exit 1; }}',
                f'RUNNING="$(aws ssm get-parameter --name {q(deployed_parameter)} --query Parameter.Value --output text)"',
                '[ "$RUNNING" = "$IMAGE_URI" ] || { echo "Release: $IMAGE_URI passed its bake, but $RUNNING runs now (deployed-image); not recorded as known good"; exit 1; }',
                f'aws ssm put-parameter --name {q(known_good_parameter)} --type String --overwrite --value "$IMAGE_URI" > /dev/null',
                'echo "Recorded $IMAGE_URI as the known-good image"',
            ]
        )
        + "\n"
    )


def release_statements(deployed_arn: pulumi.Input[str], known_good_arn: pulumi.Input[str]) -> list[Statement]:
    return [
        {"Sid": "ReadDeployedImage", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": deployed_arn},
        {"Sid": "RecordKnownGoodImage", "Effect": "Allow", "Action": "ssm:PutParameter", "Resource": known_good_arn},
    ]


def record_statements(parameter_arn: pulumi.Input[str], repository_arn: pulumi.Input[str], *, tag_deployed: bool = True) -> list[Statement]:
    """What `record_commands` (and the EKS step's read of the record) needs: the parameter, and looking up
    (with `tag_deployed`: reading and tagging) images of the repository."""
    image = {"Sid": "TagDeployedImage", "Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"], "Resource": repository_arn}
    if not tag_deployed:
        image = {"Sid": "FindDeployedImage", "Effect": "Allow", "Action": "ecr:DescribeImages", "Resource": repository_arn}
    return [{"Sid": "RecordDeployedImage", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": parameter_arn}, image]
