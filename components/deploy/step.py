"""A deploy target's CodeBuild step: a project that a Deploy-stage action runs, with its own role and logs.

Both targets use one: ECS runs it after the ECS deploy action to record the deployed image; EKS runs
its whole rollout in it (inside the VPC, where a private cluster endpoint is reachable). The promotion
steps (components/promotion/) are built the same way, from a `StepContext` instead of `DeployInputs`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.contracts import BUILD_ARTIFACT, Statement, StepEnvironment
from components.delivery.build import start_build_statement
from components.iam import ServiceRole, logs_statement, service_role
from components.logs import target_log_group
from components.settings import CODEBUILD_QUEUED_TIMEOUT_MINUTES, CpuArchitecture

COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"


@dataclass(frozen=True)
class StepVpc:
    """Where a step runs when it must reach something inside the VPC. Omitted: CodeBuild's own network."""

    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: Sequence[pulumi.Input[str]]


@dataclass(frozen=True)
class DeployStep:
    project: aws.codebuild.Project
    role: ServiceRole
    log_group: aws.cloudwatch.LogGroup

    def action(
        self,
        name: str,
        run_order: int,
        variables: Sequence[tuple[str, str]] = (),
        *,
        namespace: str | None = None,
        more_inputs: Sequence[str] = (),
    ) -> aws.codepipeline.PipelineStageActionArgs:
        """The action that runs the step on the build's artifact (CodeBuild actions need an input artifact).

        `namespace`: where the step's exported variables go. Omitted: none. `more_inputs`: artifacts besides the
        build's; the build's stays the primary source (CodeBuild starts in it; the others are in
        CODEBUILD_SRC_DIR_<name>). Omitted: the build's alone."""
        configuration: dict[str, pulumi.Input[str]] = {"ProjectName": self.project.name}
        if more_inputs:
            configuration["PrimarySource"] = BUILD_ARTIFACT
        if variables:
            configuration["EnvironmentVariables"] = pulumi.Output.json_dumps([{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables])
        return aws.codepipeline.PipelineStageActionArgs(
            name=name,
            category="Build",
            owner="AWS",
            provider="CodeBuild",
            version="1",
            run_order=run_order,
            namespace=namespace,
            input_artifacts=[BUILD_ARTIFACT, *more_inputs],
            configuration=configuration,
        )

    def pipeline_statement(self, sid: str) -> Statement:
        return start_build_statement(sid, self.project.arn)


def deploy_step(
    name: str,
    *,
    parent: pulumi.Resource,
    project_name: str,
    description: str,
    inputs: StepEnvironment,
    buildspec: pulumi.Input[str],
    statements: Sequence[Statement],
    architecture: CpuArchitecture,
    timeout_minutes: int,
    source_account: pulumi.Input[str],
    vpc: StepVpc | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> DeployStep:
    """The project, its log group (kept when the target goes) and its role: logs and `statements`."""
    log_group = target_log_group(f"{name}-logs", f"/aws/codebuild/{project_name}-", inputs, parent=parent)
    role = service_role(
        f"{name}-role",
        "codebuild.amazonaws.com",
        [logs_statement(log_group.arn), *statements, *inputs.artifact_statements],
        parent=parent,
        tags=inputs.tags,
        description=f"CodeBuild role of {project_name}",
        conditions={"StringEquals": {"aws:SourceAccount": source_account}},
    )
    project = aws.codebuild.Project(
        f"{name}-project",
        name=project_name,
        description=description,
        service_role=role.arn,
        source={"type": "CODEPIPELINE", "buildspec": buildspec},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": architecture.codebuild_environment_type,
            "image": architecture.codebuild_image,
            "compute_type": COMPUTE_TYPE,
            "privileged_mode": False,
            "image_pull_credentials_type": "CODEBUILD",
        },
        vpc_config=({"vpc_id": vpc.vpc_id, "subnets": vpc.subnet_ids, "security_group_ids": list(vpc.security_group_ids)} if vpc else None),
        logs_config={
            "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
            "s3_logs": {"status": "DISABLED"},
        },
        build_timeout=timeout_minutes,
        queued_timeout=CODEBUILD_QUEUED_TIMEOUT_MINUTES,
        # The pipeline's key, not the AWS managed aws/s3 key, for anything the project stores.
        encryption_key=inputs.artifact_key_arn,
        tags=inputs.tags,
        # service_role=role.arn waits for the role's inline policy too.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
    return DeployStep(project=project, role=role, log_group=log_group)


_CURL = re.compile(r"curl [^\n]*?--retry (\d+)[^\n]*?--max-time (\d+)")


def download_minutes(commands: Sequence[str]) -> int:
    """The longest the downloads of `commands` (an install phase) can take, in whole minutes: every `curl` at its
    `--max-time` for each of its tries (`--retry` more after the first), with curl's backoff between tries (1 s,
    doubling). A `curl` without both bounds has no worst case: ValueError, so that an unbounded download cannot
    slip into a step's timeout."""
    seconds = 0
    for command in commands:
        for line in command.splitlines():
            if "curl " not in line:
                continue
            bounded = _CURL.search(line)
            if bounded is None:
                raise ValueError(f"a download without --retry and --max-time has no worst case: {line.strip()}")
            retries = int(bounded.group(1))
            seconds += (retries + 1) * int(bounded.group(2)) + 2**retries - 1
    return -(-seconds // 60)
