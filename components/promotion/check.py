"""Check: a promoting stack's stand-in for the build, between Source (the inbox) and the deploy gates.

It consumes the inbox's artifact and produces what the build produces: the deploy artifact
(BUILD_ARTIFACT with imagedefinitions.json) and the build's variable namespace (IMAGE_URI as the
digest reference, IMAGE_TAG, IMAGE_DIGEST, and COMMIT_ID and UPSTREAM_EXECUTION_ID), so the deploy
targets work unchanged. It deploys nothing the upstream did not verify: it re-reads the digest's tags in
the upstream registry itself, whatever the inbox object says (scripts.check_script).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import BUILD_ARTIFACT, BUILD_NAMESPACE, SOURCE_ARTIFACT, StageContribution, Statement, StepContext
from components.deploy.step import deploy_step
from components.naming import physical_name
from components.promotion import scripts
from components.promotion.contract import UpstreamContract
from components.settings import CpuArchitecture

STAGE_NAME = "Check"
ACTION_NAME = "CheckVerified"


@dataclass(frozen=True)
class PromotionCheckArgs:
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    container_name: str
    """This stack's container, named in the imagedefinitions.json the step writes."""
    upstream: UpstreamContract
    """Where the image must be, and verified."""
    environment: StepContext
    """The step's logs and the pipeline's artifacts."""
    architecture: CpuArchitecture
    """CPU architecture of the step's CodeBuild image."""


def check_statements(repository_arn: pulumi.Input[str]) -> list[Statement]:
    """Read the upstream image's tags; nothing else in the upstream registry."""
    return [{"Sid": "ReadUpstreamImageTags", "Effect": "Allow", "Action": "ecr:DescribeImages", "Resource": repository_arn}]


class PromotionCheck(pulumi.ComponentResource):
    """Outputs: `contribution` (the Check stage)."""

    def __init__(self, name: str, args: PromotionCheckArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:promotion:PromotionCheck", name, None, opts)
        upstream = args.upstream
        buildspec = pulumi.Output.all(upstream.account_id, upstream.region, upstream.repository_name, upstream.repository_url).apply(
            lambda values: scripts.render(
                scripts.check_buildspec(
                    container_name=args.container_name,
                    registry_id=values[0],
                    region=values[1],
                    repository_name=values[2],
                    repository_url=values[3],
                )
            )
        )
        step = deploy_step(
            f"{name}-step",
            parent=self,
            project_name=physical_name(args.name_prefix, "check", 150),
            description=f"Deploys only what {upstream.stack} verified: checks the promoted digest's tags in its registry",
            inputs=args.environment,
            buildspec=buildspec,
            statements=check_statements(upstream.repository_arn),
            architecture=args.architecture,
            timeout_minutes=10,
            source_account=AwsContext(self).account_id,
        )
        action = aws.codepipeline.PipelineStageActionArgs(
            name=ACTION_NAME,
            category="Build",
            owner="AWS",
            provider="CodeBuild",
            version="1",
            namespace=BUILD_NAMESPACE,
            input_artifacts=[SOURCE_ARTIFACT],
            output_artifacts=[BUILD_ARTIFACT],
            configuration={"ProjectName": step.project.name},
        )
        self.contribution = StageContribution(
            stage=aws.codepipeline.PipelineStageArgs(name=STAGE_NAME, actions=[action]),
            pipeline_statements=[step.pipeline_statement("RunCheck")],
        )
        self.register_outputs({})
