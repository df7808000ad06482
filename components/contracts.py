"""Contracts between components: artifact names, stage contributions, the deploy-target interface.

The pipeline is assembled from what each component contributes; nothing here creates resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws

from components.settings import WorkloadSettings

# Artifact and variable-namespace names, declared once and used by every stage.
SOURCE_ARTIFACT = "SourceOutput"
BUILD_ARTIFACT = "BuildOutput"
SOURCE_NAMESPACE = "SourceVariables"
BUILD_NAMESPACE = "BuildVariables"
IMAGE_DEFINITIONS_FILE = "imagedefinitions.json"

# A policy statement as data: plain values or Outputs, serialised once with Output.json_dumps.
Statement = dict[str, Any]


@dataclass(frozen=True)
class StageContribution:
    """One pipeline stage a component contributes, and what the pipeline's role needs to run it."""

    stage: aws.codepipeline.PipelineStageArgs
    pipeline_statements: Sequence[Statement] = ()


@dataclass(frozen=True)
class DeployInputs:
    """What every deploy target receives from the rest of the stack."""

    workload: WorkloadSettings
    repository_url: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    log_retention_days: int
    production: bool
    tags: dict[str, str] = field(default_factory=dict)


class DeployTarget(Protocol):
    """What the rest of the stack needs from a deploy target (ECS, EKS, ...)."""

    @property
    def stages(self) -> Sequence[StageContribution]:
        """The Deploy stage(s), in order, appended after the Build stage."""
        ...

    @property
    def service_url(self) -> pulumi.Output[str]:
        """Public URL of the running service."""
        ...
