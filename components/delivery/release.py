"""Release: the stage after the deploy stage(s) that records the image as known good.

It comes after the gated deploy stage(s), so it runs only when every one of them succeeded with its
verification and (in production) its bake time; a stage rollback re-runs the deploy stage alone and never
reaches it. So the known-good record (components/delivery/image_record.py) holds only an image that passed its
bake, and a failed rollout (the EKS deploy step's restore) never goes back to one that did not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import yaml

from components.aws_context import AwsContext
from components.contracts import IMAGE_URI_VARIABLE, StageContribution, StepContext
from components.delivery.image_record import ImageRecord, release_script, release_statements
from components.deploy.step import deploy_step
from components.naming import physical_name
from components.settings import CpuArchitecture

STAGE_NAME = "Release"
ACTION_NAME = "MarkKnownGood"


@dataclass(frozen=True)
class ReleaseArgs:
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    image_record: ImageRecord
    """The records: the step reads what runs and writes what is known good."""
    environment: StepContext
    """The step's logs and the pipeline's artifacts."""
    architecture: CpuArchitecture
    """CPU architecture of the step's CodeBuild image (any works; the build's keeps one image cached)."""


def release_buildspec(deployed_parameter: str, known_good_parameter: str) -> dict:
    """The step's buildspec (version 0.2); the action passes IMAGE_URI."""
    return {"version": 0.2, "env": {"shell": "bash"}, "phases": {"build": {"on-failure": "ABORT", "commands": [release_script(deployed_parameter, known_good_parameter)]}}}


class Release(pulumi.ComponentResource):
    """Outputs: `contribution` (the Release stage, after the deploy stages)."""

    def __init__(self, name: str, args: ReleaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:pipeline:Release", name, None, opts)
        record = args.image_record
        step = deploy_step(
            f"{name}-step",
            parent=self,
            project_name=physical_name(args.name_prefix, "release", 150),
            description="Records the image the deploy stage verified and baked as known good",
            inputs=args.environment,
            buildspec=yaml.safe_dump(release_buildspec(record.name, record.known_good_name), sort_keys=False, width=1000),
            statements=release_statements(record.parameter_arn, record.known_good_arn),
            architecture=args.architecture,
            timeout_minutes=10,
            source_account=AwsContext(self).account_id,
        )
        self.contribution = StageContribution(
            stage=aws.codepipeline.PipelineStageArgs(name=STAGE_NAME, actions=[step.action(ACTION_NAME, run_order=1, variables=[("IMAGE_URI", IMAGE_URI_VARIABLE)])]),
            pipeline_statements=[step.pipeline_statement("RunRelease")],
        )
        self.register_outputs({})
