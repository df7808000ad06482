"""Publish: a building stack marks the images it deployed and verified, for the stacks that promote from it.

The Publish stage comes after the gated deploy stage(s): it runs only when every one of them succeeded,
with its deploy verification and (in production) its bake time. An image whose deployment failed or
was rolled back never reaches it and never gets the tags a downstream stack checks. Downstream stacks
in other accounts (promoteToAccounts) get read access to the registry and the pipeline's events
(share.py); a downstream stack in this account needs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import BUILD_NAMESPACE, StageContribution, Statement, StepContext
from components.deploy.step import deploy_step
from components.naming import physical_name
from components.promotion import scripts
from components.promotion.share import forward_pipeline_events, repository_policy
from components.settings import CpuArchitecture

# The Publish action's inputs: the build's image, and the execution that deployed and verified it.
# https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html (codepipeline namespace)
PUBLISH_VARIABLES = (
    ("IMAGE_DIGEST", f"#{{{BUILD_NAMESPACE}.IMAGE_DIGEST}}"),
    ("IMAGE_TAG", f"#{{{BUILD_NAMESPACE}.IMAGE_TAG}}"),
    ("EXECUTION_ID", "#{codepipeline.PipelineExecutionId}"),
)
STAGE_NAME = "Publish"
ACTION_NAME = "MarkVerified"


@dataclass(frozen=True)
class PublishArgs:
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    pipeline_name: str
    """The stack's pipeline: its succeeded executions are forwarded to the downstream accounts."""
    repository_name: pulumi.Input[str]
    """The stack's ECR repository, whose images the step tags."""
    repository_arn: pulumi.Input[str]
    """Its ARN: the step may read and tag images of this repository only."""
    environment: StepContext
    """The step's logs and the pipeline's artifacts."""
    architecture: CpuArchitecture
    """CPU architecture of the step's CodeBuild image (any works; the build's keeps one image cached)."""
    downstream_accounts: Sequence[str] = ()
    """promoteToAccounts: accounts whose promoting stacks may pull and inspect the images and receive the
    pipeline's events. Omitted: none (a promoting stack in this account needs no grant)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


def publish_statements(repository_arn: pulumi.Input[str]) -> list[Statement]:
    """Read an image's manifest and add tags to it, in the stack's repository only."""
    return [
        {
            "Sid": "TagVerifiedImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"],
            "Resource": repository_arn,
        }
    ]


class Publish(pulumi.ComponentResource):
    """The Publish stage's step, and the grants to downstream accounts.

    Outputs: `contribution` (the Publish stage, after the deploy stages), `account_id` and `region` (where
    the stack runs, for the promotion contract).
    """

    def __init__(self, name: str, args: PublishArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:promotion:Publish", name, None, opts)
        context = AwsContext(self)
        buildspec = pulumi.Output.from_input(args.repository_name).apply(lambda repository: scripts.render(scripts.publish_buildspec(repository)))
        step = deploy_step(
            f"{name}-step",
            parent=self,
            project_name=physical_name(args.name_prefix, "publish", 150),
            description="Tags the image the pipeline deployed and verified, for the stacks that promote from this one",
            inputs=args.environment,
            buildspec=buildspec,
            statements=publish_statements(args.repository_arn),
            architecture=args.architecture,
            timeout_minutes=10,
            source_account=context.account_id,
        )
        self.contribution = StageContribution(
            stage=aws.codepipeline.PipelineStageArgs(name=STAGE_NAME, actions=[step.action(ACTION_NAME, run_order=1, variables=PUBLISH_VARIABLES)]),
            pipeline_statements=[step.pipeline_statement("RunPublish")],
        )
        if args.downstream_accounts:
            repository_policy(f"{name}-pull", args.repository_name, args.downstream_accounts, context, parent=self)
            forward_pipeline_events(f"{name}-forward", args.pipeline_name, args.downstream_accounts, context, parent=self, tags=args.tags)
        self.account_id = context.account_id
        self.region = context.region
        self.register_outputs({"account_id": self.account_id, "region": self.region})
