"""Build: the CodeBuild project that tests the app, builds and pushes its image, writes the deploy artifact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.contracts import BUILD_ARTIFACT, BUILD_NAMESPACE, SOURCE_ARTIFACT, StageContribution, Statement
from components.delivery import buildspec
from components.iam import logs_statement, registry_login_statement, service_role
from components.settings import CODEBUILD_QUEUED_TIMEOUT_MINUTES, CpuArchitecture
from components.supply import notation
from components.supply.signing import sign_statements, verify_statements


@dataclass(frozen=True)
class BuildArgs:
    project_name: str
    """Physical CodeBuild project name (unique per account and region)."""
    app_path: str
    """Folder in the repository that holds the Dockerfile and the app's tests."""
    container_name: str
    """Name of the application container, written into imagedefinitions.json."""
    repository_url: pulumi.Input[str]
    """ECR repository URL the build pushes the image to."""
    repository_arn: pulumi.Input[str]
    """ECR repository ARN: the build role may push to this repository only."""
    repository_name: pulumi.Input[str]
    """ECR repository name, handed to the buildspec."""
    artifact_statements: Sequence[Statement]
    """What the build role needs to read and write pipeline artifacts (bucket and key)."""
    artifact_key_arn: pulumi.Input[str]
    """KMS key that encrypts the build's output artifacts."""
    architecture: CpuArchitecture
    """CPU architecture of the CodeBuild image, and so of the built image."""
    compute_type: str
    """CodeBuild compute type (BUILD_GENERAL1_...)."""
    timeout_minutes: int
    """CodeBuild stops a build that runs longer."""
    log_retention_days: int
    """Retention of the build's CloudWatch log group."""
    log_key_arn: pulumi.Input[str]
    """The stack's CloudWatch Logs key: the build's log group is encrypted with it."""
    production: bool
    """When True the log group is protected from deletion."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""
    signing_profile_arn: pulumi.Input[str] | None = None
    """The AWS Signer profile the build signs each pushed digest with; the build role is the only one allowed to
    sign with it. Omitted: images are not signed."""


class Build(pulumi.ComponentResource):
    """CodeBuild project with its own role, log group and JUnit report group.

    Outputs: `project_name`, `project_arn`, `log_group_name`, `contribution` (the Build stage).
    """

    def __init__(self, name: str, args: BuildArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:build:Build", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/codebuild/{args.project_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        reports = aws.codebuild.ReportGroup(
            f"{name}-tests",
            name=f"{args.project_name}-tests",
            type="TEST",
            export_config={"type": "NO_EXPORT"},
            # Keep reports of deleted builds only as long as the group exists.
            delete_reports=True,
            tags=args.tags,
            opts=child,
        )
        role = service_role(
            f"{name}-role",
            "codebuild.amazonaws.com",
            build_statements(
                log_group_arn=log_group.arn,
                repository_arn=args.repository_arn,
                report_group_arn=reports.arn,
                artifact_statements=args.artifact_statements,
            )
            # A re-run checks the signature it finds before it signs (notation.sign_built_commands).
            + (sign_statements(args.signing_profile_arn) + verify_statements([args.signing_profile_arn]) if args.signing_profile_arn is not None else []),
            parent=self,
            tags=args.tags,
            description=f"CodeBuild service role of {args.project_name}",
        )
        signing = args.signing_profile_arn is not None
        spec = pulumi.Output.all(args.repository_url, args.repository_name, reports.arn, args.signing_profile_arn).apply(
            lambda values: buildspec.render(
                buildspec.buildspec(
                    app_path=args.app_path,
                    container_name=args.container_name,
                    repository_url=values[0],
                    repository_name=values[1],
                    report_group_arn=values[2],
                    install=notation.install_commands(args.architecture) if signing else (),
                    sign=notation.sign_built_commands(values[3]) if signing else (),
                )
            )
        )
        project = aws.codebuild.Project(
            f"{name}-project",
            name=args.project_name,
            description="Tests the app, builds, pushes and signs its image, writes imagedefinitions.json"
            if signing
            else "Tests the app, builds and pushes its image, writes imagedefinitions.json",
            service_role=role.arn,
            source={"type": "CODEPIPELINE", "buildspec": spec},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "type": args.architecture.codebuild_environment_type,
                "image": args.architecture.codebuild_image,
                "compute_type": args.compute_type,
                # Docker builds need the Docker daemon, which needs privileged mode.
                "privileged_mode": True,
                "image_pull_credentials_type": "CODEBUILD",
            },
            cache={"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]},
            logs_config={
                "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
                "s3_logs": {"status": "DISABLED"},
            },
            build_timeout=args.timeout_minutes,
            queued_timeout=CODEBUILD_QUEUED_TIMEOUT_MINUTES,
            encryption_key=args.artifact_key_arn,
            tags=args.tags,
            # role.arn waits for the role's policy: the first build finds its permissions.
            opts=child,
        )
        action = aws.codepipeline.PipelineStageActionArgs(
            name="BuildImage",
            category="Build",
            owner="AWS",
            provider="CodeBuild",
            version="1",
            namespace=BUILD_NAMESPACE,
            input_artifacts=[SOURCE_ARTIFACT],
            output_artifacts=[BUILD_ARTIFACT],
            configuration={"ProjectName": project.name},
        )
        self.contribution = StageContribution(
            stage=aws.codepipeline.PipelineStageArgs(name="Build", actions=[action]),
            pipeline_statements=[start_build_statement("RunBuild", project.arn)],
        )
        self.project_name = project.name
        self.project_arn = project.arn
        self.log_group_name = log_group.name
        self.register_outputs({"project_name": self.project_name, "project_arn": self.project_arn})


def start_build_statement(sid: str, project_arn: pulumi.Input[str]) -> Statement:
    """What CodePipeline's CodeBuild action needs on the one project it runs."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
        "Resource": project_arn,
    }


def build_statements(
    *,
    log_group_arn: pulumi.Input[str],
    repository_arn: pulumi.Input[str],
    report_group_arn: pulumi.Input[str],
    artifact_statements: Sequence[Statement],
) -> list[Statement]:
    """Least privilege for the build: its logs, its reports, push/pull on its repository, artifacts."""
    return [
        logs_statement(log_group_arn),
        # The token the login gets may do what the statement below allows.
        registry_login_statement(),
        {
            "Sid": "PushImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            "Resource": repository_arn,
        },
        {
            "Sid": "TestReports",
            "Effect": "Allow",
            "Action": [
                "codebuild:BatchPutCodeCoverages",
                "codebuild:BatchPutTestCases",
                "codebuild:CreateReport",
                "codebuild:UpdateReport",
            ],
            "Resource": report_group_arn,
        },
        *artifact_statements,
    ]
