"""A stack's image origin from its settings (components/promotion/origin.py `ImageOrigin`): built from source
here (source, registry, build, the supply-chain gate, Publish), or promoted from another stack (promoteFrom)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from components.contracts import BUILD_NAMESPACE, StepContext
from components.delivery.artifacts import ArtifactStore
from components.delivery.build import Build, BuildArgs
from components.delivery.registry import Registry, RegistryArgs
from components.delivery.source import Source, SourceArgs
from components.naming import physical_name
from components.promotion.check import OwnRecords
from components.promotion.contract import CONTRACT_OUTPUT, contract_output
from components.promotion.downstream import Promoted, PromotedArgs
from components.promotion.origin import ImageOrigin
from components.promotion.publish import Publish, PublishArgs
from components.settings import Settings
from components.supply.gate import ScanGate, ScanGateArgs
from components.supply.records import Records
from components.supply.signing import SigningProfile

Naming = Callable[[str], tuple[str, pulumi.ResourceOptions]]
"""A component's logical name and options from its base name ("source", "build", ...): a stack's service names its own."""


def as_is(base: str) -> tuple[str, pulumi.ResourceOptions]:
    """The names a stack of one service has always had."""
    return base, pulumi.ResourceOptions()


def image_origin(
    settings: Settings,
    artifacts: ArtifactStore,
    step_context: StepContext,
    pipeline_name: str,
    records: Records | None = None,
    naming: Naming = as_is,
    source: Source | None = None,
    upstream_service: str | None = None,
) -> ImageOrigin:
    """`records`: the stack's records bucket (SBOMs and scan verdicts by digest). Omitted: the stack keeps none.
    `naming`: the components' names and options (a service of several names its own). Omitted: `as_is`.
    `source`: the stack's source, which its services' pipelines share (a monorepo). Omitted: the origin creates one.
    `upstream_service`: in a promoting stack with `services`, the service's name (it promotes from the same-named
    service upstream). Omitted: a stack without services."""
    if settings.promotes:
        return promoted(settings, artifacts, step_context, records, naming, upstream_service)
    return built(settings, artifacts, step_context, pipeline_name, records, naming, source)


def source_args(settings: Settings) -> SourceArgs:
    """The source of a stack's (or a service's) settings: its repository and branch, its file-path filter."""
    return SourceArgs(
        provider=settings.source.provider,
        repository=settings.source.repository,
        branch=settings.source.branch,
        name_prefix=settings.prefix,
        create_repository=settings.source.create_repository,
        production=settings.production,
        connection_arn=settings.source.connection_arn,
        file_paths=settings.source.file_paths,
        tags=dict(settings.tags),
    )


def built(
    settings: Settings,
    artifacts: ArtifactStore,
    step_context: StepContext,
    pipeline_name: str,
    records: Records | None = None,
    naming: Naming = as_is,
    shared_source: Source | None = None,
) -> ImageOrigin:
    tags = dict(settings.tags)
    supply = settings.supply
    # The build signs with it; VerifyImage (and a promoting stack, through the contract) trusts it.
    signing = SigningProfile(naming("signing")[0], prefix=settings.prefix, production=settings.production, tags=tags, opts=naming("signing")[1]) if supply.signing else None
    source = shared_source or Source(naming("source")[0], source_args(settings), opts=naming("source")[1])
    # Several services' pipelines read one source, each started by the pushes that change its own files.
    source_stage = shared_source.for_paths(settings.source.file_paths) if shared_source is not None else source.contribution
    registry = Registry(
        naming("registry")[0],
        RegistryArgs(
            repository_name=settings.prefix,
            image_retention_count=settings.registry.image_retention_count,
            untagged_image_expiry_days=settings.registry.untagged_image_expiry_days,
            production=settings.production,
            tags=tags,
        ),
        opts=naming("registry")[1],
    )
    build = Build(
        naming("build")[0],
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
            log_key_arn=step_context.log_key_arn,
            production=settings.production,
            tags=tags,
            signing_profile_arn=signing.arn if signing is not None else None,
        ),
        opts=naming("build")[1],
    )
    # Between Build and the approval: the scan of the pushed digest and the check of its signature.
    gate = (
        ScanGate(
            naming("supply")[0],
            ScanGateArgs(
                name_prefix=settings.prefix,
                supply=supply,
                repository_name=registry.repository_name,
                repository_arn=registry.repository_arn,
                pipeline_name=pipeline_name,
                environment=step_context,
                architecture=settings.build.architecture,
                signing_profile_arn=signing.arn if signing is not None else None,
                records=records,
            ),
            opts=naming("supply")[1],
        )
        if supply.gated
        else None
    )
    publish = Publish(
        naming("publish")[0],
        PublishArgs(
            name_prefix=settings.prefix,
            pipeline_name=pipeline_name,
            repository_name=registry.repository_name,
            repository_arn=registry.repository_arn,
            environment=step_context,
            architecture=settings.build.architecture,
            downstream_accounts=settings.promotion.promote_to_accounts,
            tags=tags,
        ),
        opts=naming("publish")[1],
    )

    def exports(name: pulumi.Output[str], arn: pulumi.Output[str]) -> Mapping[str, Any]:
        contract = contract_output(
            repository_url=registry.repository_url,
            repository_arn=registry.repository_arn,
            repository_name=registry.repository_name,
            pipeline_name=name,
            pipeline_arn=arn,
            account_id=publish.account_id,
            region=publish.region,
            cpu_architecture=settings.build.architecture.value,
            downstream_accounts=settings.promotion.promote_to_accounts,
            signing_profile_arn=signing.arn if signing else None,
            records_bucket=records.bucket_name if records else None,
            records_key_arn=artifacts.key_arn if records else None,
        )
        return {CONTRACT_OUTPUT: contract}

    return ImageOrigin(
        source=source_stage,
        stages=[build.contribution, *([gate.contribution] if gate is not None else [])],
        final_stages=[publish.contribution],
        repository_url=registry.repository_url,
        repository_arn=registry.repository_arn,
        repository_name=registry.repository_name,
        location=source.location,
        exports=exports,
        trusted_signer=signing.arn if signing else None,
    )


# The organisation self-managed backends report (the Pulumi CLI always passes one; a bare runtime may not).
DEFAULT_ORGANIZATION = "organization"


def promoted(
    settings: Settings, artifacts: ArtifactStore, step_context: StepContext, records: Records | None = None, naming: Naming = as_is, upstream_service: str | None = None
) -> ImageOrigin:
    """`records`: the stack's records bucket, where the Check step keeps the SBOM and verdict of what it rescans."""
    upstream_stack = settings.promotion.stack_reference(pulumi.get_organization() or DEFAULT_ORGANIZATION, settings.project)
    origin = Promoted(
        naming("promotion")[0],
        PromotedArgs(
            upstream_stack=upstream_stack,
            promote_from_account=settings.promotion.promote_from_account,
            name_prefix=settings.prefix,
            container_name=settings.workload.container_name,
            architecture=settings.build.architecture,
            environment=step_context,
            artifact_key_arn=artifacts.key_arn,
            expiry_days=settings.artifact_expiry_days,
            production=settings.production,
            tags=dict(settings.tags),
            supply=settings.supply,
            records=OwnRecords(records.bucket_name, records.bucket_arn, artifacts.key_arn) if records else None,
            upstream_service=upstream_service,
        ),
        opts=naming("promotion")[1],
    )
    upstream = origin.upstream
    b = BUILD_NAMESPACE
    approval = pulumi.Output.concat(
        f"Promote commit #{{{b}.COMMIT_ID}} as image #{{{b}.IMAGE_URI}}, verified by execution #{{{b}.UPSTREAM_EXECUTION_ID}} of ",
        upstream.pipeline_name,
        f" ({upstream_stack})?",
    )
    return ImageOrigin(
        source=origin.source,
        stages=[origin.check],
        repository_url=upstream.repository_url,
        repository_arn=upstream.repository_arn,
        repository_name=upstream.repository_name,
        location=origin.location,
        exports=lambda name, arn: {"promotesFrom": upstream_stack},
        approval_message=approval,
        registry_is_own=not settings.promotion.promote_from_account,
        trusted_signer=upstream.signing_profile_arn if settings.supply.signing else None,
    )
