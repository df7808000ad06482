"""Pipeline: CodePipeline V2 assembled from the stages the other components contribute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.contracts import StageContribution, Statement
from components.iam import service_role
from components.source import SourceContribution


@dataclass(frozen=True)
class PipelineArgs:
    pipeline_name: str
    """Physical pipeline name (unique per account and region)."""
    artifact_bucket_name: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    artifact_statements: Sequence[Statement]
    source: SourceContribution
    stages: Sequence[StageContribution]
    """Stages after Source, in order: Build, then the deploy target's."""
    tags: dict[str, str] = field(default_factory=dict)


class Pipeline(pulumi.ComponentResource):
    """CodePipeline V2 in QUEUED mode with its own role; starts on pushes to the source branch.

    Outputs: `pipeline_name`, `pipeline_arn`, `console_url`.
    """

    def __init__(self, name: str, args: PipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:pipeline:Pipeline", name, None, opts)
        contributions: list[StageContribution] = [args.source, *args.stages]
        statements = [*args.artifact_statements]
        for contribution in contributions:
            statements.extend(contribution.pipeline_statements)
        role = service_role(
            f"{name}-role",
            "codepipeline.amazonaws.com",
            statements,
            parent=self,
            tags=args.tags,
            description=f"CodePipeline service role of {args.pipeline_name}",
        )
        pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            name=args.pipeline_name,
            pipeline_type="V2",
            # QUEUED: every push is deployed, in order; none is superseded mid-flight, and stage
            # rollback (which V2 needs a non-PARALLEL mode for) stays available.
            execution_mode="QUEUED",
            role_arn=role.arn,
            artifact_stores=[
                {
                    "location": args.artifact_bucket_name,
                    "type": "S3",
                    "encryption_key": {"id": args.artifact_key_arn, "type": "KMS"},
                }
            ],
            stages=[c.stage for c in contributions],
            triggers=list(args.source.triggers) or None,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
        if args.source.start_event_pattern is not None:
            self._start_on(name, args, pipeline)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        self.pipeline_name = pipeline.name
        self.pipeline_arn = pipeline.arn
        self.role_arn = role.arn
        self.console_url = pulumi.Output.concat(
            "https://", region, ".console.aws.amazon.com/codesuite/codepipeline/pipelines/",
            pipeline.name, "/view?region=", region,
        )
        self.register_outputs(
            {"pipeline_name": self.pipeline_name, "pipeline_arn": self.pipeline_arn, "console_url": self.console_url}
        )

    def _start_on(self, name: str, args: PipelineArgs, pipeline: aws.codepipeline.Pipeline) -> None:
        """CodeCommit change detection: an EventBridge rule starts the pipeline on a push."""
        rule = aws.cloudwatch.EventRule(
            f"{name}-start",
            description=f"Start {args.pipeline_name} on a push to its source branch",
            event_pattern=pulumi.Output.json_dumps(args.source.start_event_pattern),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        role = service_role(
            f"{name}-start-role",
            "events.amazonaws.com",
            [
                {
                    "Sid": "StartPipeline",
                    "Effect": "Allow",
                    "Action": "codepipeline:StartPipelineExecution",
                    "Resource": pipeline.arn,
                }
            ],
            parent=self,
            tags=args.tags,
            description=f"Lets EventBridge start {args.pipeline_name}",
        )
        aws.cloudwatch.EventTarget(
            f"{name}-start-target",
            rule=rule.name,
            arn=pipeline.arn,
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=rule),
        )
