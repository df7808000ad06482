"""container-cicd: source -> build -> registry -> pipeline -> deploy target, one stack per environment."""

import pulumi

from components.artifacts import ArtifactStore, ArtifactStoreArgs
from components.build import Build, BuildArgs
from components.contracts import DeployInputs
from components.deploy import create_target
from components.naming import physical_name
from components.pipeline import Pipeline, PipelineArgs
from components.registry import Registry, RegistryArgs
from components.settings import load_settings
from components.source import Source, SourceArgs

settings = load_settings()
tags = dict(settings.tags)

source = Source(
    "source",
    SourceArgs(
        provider=settings.source.provider,
        repository=settings.source.repository,
        branch=settings.source.branch,
        name_prefix=settings.prefix,
        create_repository=settings.source.create_repository,
        production=settings.production,
        connection_arn=settings.source.connection_arn,
        file_paths=settings.source.file_paths,
        tags=tags,
    ),
)

registry = Registry(
    "registry",
    RegistryArgs(
        repository_name=settings.prefix,
        image_retention_count=settings.registry.image_retention_count,
        untagged_image_expiry_days=settings.registry.untagged_image_expiry_days,
        production=settings.production,
        tags=tags,
    ),
)

artifacts = ArtifactStore(
    "artifacts",
    ArtifactStoreArgs(expiry_days=settings.artifact_expiry_days, production=settings.production, tags=tags),
)

build = Build(
    "build",
    BuildArgs(
        project_name=physical_name(settings.prefix, "build", 150),
        app_path=settings.build.app_path,
        container_name=settings.workload.container_name,
        repository_url=registry.repository_url,
        repository_arn=registry.repository_arn,
        repository_name=registry.repository_name,
        artifact_statements=artifacts.read_write_statements(),
        artifact_key_arn=artifacts.key_arn,
        architecture=settings.build.architecture,
        compute_type=settings.build.compute_type,
        timeout_minutes=settings.build.timeout_minutes,
        log_retention_days=settings.log_retention_days,
        production=settings.production,
        tags=tags,
    ),
)

# The only place that depends on deployTarget: the registry of targets picks the module.
target = create_target(
    "deploy",
    settings,
    DeployInputs(
        workload=settings.workload,
        repository_url=registry.repository_url,
        repository_arn=registry.repository_arn,
        log_retention_days=settings.log_retention_days,
        production=settings.production,
        tags=tags,
        artifact_statements=artifacts.read_write_statements(),
    ),
    pulumi.ResourceOptions(),
)

pipeline = Pipeline(
    "pipeline",
    PipelineArgs(
        pipeline_name=physical_name(settings.prefix, "pipeline", 100),
        artifact_bucket_name=artifacts.bucket_name,
        artifact_key_arn=artifacts.key_arn,
        artifact_statements=artifacts.read_write_statements(),
        source=source.contribution,
        stages=[build.contribution, *target.stages],
        tags=tags,
    ),
)

pulumi.export("pipelineName", pipeline.pipeline_name)
pulumi.export("pipelineConsoleUrl", pipeline.console_url)
pulumi.export("sourceLocation", source.location)
pulumi.export("repositoryUrl", registry.repository_url)
pulumi.export("serviceUrl", target.service_url)
