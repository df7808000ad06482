"""The record of the image that runs: written by the pipeline's deploy step, read back by every `pulumi up`.

After the first deployment the pipeline owns the running image, and `pulumi up` must neither put the
bootstrap image back nor stop applying its own changes (task size, replicas, environment). Ignoring
the image (`ignore_changes`) cannot do both: ECS would never get a new task size, and
pulumi-kubernetes' server-side apply does not honour `ignoreChanges` on a path inside an array. So
Pulumi *knows* the image instead: the deploy step writes the image it deployed (and, on a rollback,
the known-good image it restored) into an SSM parameter the stack creates; the stack reads the
parameter back on every `up` and builds the task definition or the pod spec with that image.

The parameter belongs to the stack, not to a deploy target: a switch of `deployTarget` starts the new
target with the image that last ran on the old one.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.contracts import Statement
from components.delivery.registry import DEPLOYED_TAG_PREFIX


@dataclass(frozen=True)
class ImageRecordArgs:
    parameter_name: str
    """SSM parameter name, unique per project, stack and service (`/project/stack/service/...`)."""
    bootstrap_image: str
    """What the parameter holds until the pipeline's first deployment."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


def parameter_name(project: str, stack: str, service: str) -> str:
    return f"/{project}/{stack}/{service}/deployed-image"


class ImageRecord(pulumi.ComponentResource):
    """Outputs: `name` (plain), `parameter_name`, `parameter_arn`, `image` (the value as it is in AWS at this `up`)."""

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
        self.register_outputs({"parameter_name": self.parameter_name, "image": self.image})


def record_commands(parameter_name: str, repository_name: str) -> list[str]:
    """Bash lines that record "$IMAGE_URI" as the image that runs, after a deployment succeeded.

    They write the SSM parameter `pulumi up` reads back, and give the image a second tag,
    `deployed-<tag>`, which the registry's lifecycle policy keeps longer than images that never ran
    (tags are immutable: the tag is added once, a redeployment of the same image finds it there).
    """
    q = shlex.quote
    repo = q(repository_name)
    return [
        f'aws ssm put-parameter --name {q(parameter_name)} --type String --overwrite --value "$IMAGE_URI" > /dev/null',
        'TAG="${IMAGE_URI##*:}"',
        f'DEPLOYED_TAG="{DEPLOYED_TAG_PREFIX}$TAG"',
        f'if ! aws ecr describe-images --repository-name {repo} --image-ids imageTag="$DEPLOYED_TAG" > /dev/null 2>&1; then '
        f'MANIFEST="$(aws ecr batch-get-image --repository-name {repo} --image-ids imageTag="$TAG" '
        "--query 'images[0].imageManifest' --output text)\" && "
        f'aws ecr put-image --repository-name {repo} --image-tag "$DEPLOYED_TAG" --image-manifest "$MANIFEST" > /dev/null; fi',
        'echo "Recorded $IMAGE_URI as the running image"',
    ]


def record_statements(parameter_arn: pulumi.Input[str], repository_arn: pulumi.Input[str]) -> list[Statement]:
    """What `record_commands` needs: the parameter, and reading and tagging images of the repository."""
    return [
        {"Sid": "RecordDeployedImage", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": parameter_arn},
        {
            "Sid": "TagDeployedImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"],
            "Resource": repository_arn,
        },
    ]
