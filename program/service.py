"""One service's parts, from its `ServiceSettings` and the stack's shared parts: its image origin (source, registry,
build, or promotion), image record, release, deploy target, alarms, pipeline, notification rules and dashboard section.

Logical names: `program.naming` (the implicit service keeps today's; a named service prefixes its own). Physical names:
from the service's prefix (project-stack-<service>). Tags: the service's (its `service` tag is its name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi

from components.contracts import DeployInputs, DeployTarget, GateVariables, SharedCluster
from components.delivery.image_record import ImageRecord, ImageRecordArgs, known_good_parameter_name
from components.delivery.image_record import parameter_name as image_parameter_name
from components.delivery.path_router import PathRouter, PathRouterArgs, RoutedPipeline
from components.delivery.pipeline import Pipeline, PipelineArgs, PipelineGates
from components.delivery.release import Release, ReleaseArgs
from components.naming import physical_name
from components.promotion.contract import stack_exports
from components.promotion.origin import ImageOrigin
from components.safety.alarms import Alarms, AlarmsArgs, alarm_names
from components.safety.dashboard import DashboardSection
from components.safety.notifications import ServiceEvents, gate_actions
from components.settings import ServiceSettings
from program.naming import adopting, adopts_stack, service_resource_name
from program.origin import image_origin
from program.shared import SharedParts
from program.targets import create_target, route_args


@dataclass(frozen=True)
class ServiceParts:
    """What the stack exports of a service and shows of it on the dashboard."""

    service: ServiceSettings
    origin: ImageOrigin
    target: DeployTarget
    standby: DeployTarget | None
    """nextDeployTarget's target, beside `target` (weight 0); None without nextDeployTarget."""
    pipeline: Pipeline
    alarms: Alarms
    image_record: ImageRecord
    dashboard: DashboardSection


def build_service(service: ServiceSettings, shared: SharedParts) -> ServiceParts:
    settings, stack = service.settings, shared.settings
    tags = dict(settings.tags)
    safety = settings.safety

    # An entry named like the stack's serviceName takes over the single-service resources (names and rules).
    adopts = adopts_stack(service, stack.service_name)

    def name(base: str) -> str:
        return service_resource_name(service, base)

    def opts(_base: str) -> pulumi.ResourceOptions:
        return adopting(service, stack.service_name)

    pipeline_name = physical_name(settings.prefix, "pipeline", 100)
    step_context = shared.step_context(settings)
    # Where the images come from: a source repository, a registry and a build here, or (promoteFrom) the
    # images another stack built and verified, by digest (docs/promotion.md).
    # A promoting stack's named service promotes from the same-named service upstream.
    upstream_service = None if service.implicit else service.name
    origin = image_origin(settings, shared.artifacts, step_context, pipeline_name, shared.records, lambda base: (name(base), opts(base)), shared.source, upstream_service)

    # The image that runs: the bootstrap image until the pipeline's deploy step records what it deployed.
    image_record = ImageRecord(
        name("image-record"),
        ImageRecordArgs(
            parameter_name=image_parameter_name(settings.project, settings.stack, settings.service_name),
            bootstrap_image=settings.workload.bootstrap_image,
            known_good_parameter_name=known_good_parameter_name(settings.project, settings.stack, settings.service_name),
            tags=tags,
        ),
        opts=opts("image-record"),
    )
    # After the gated deploy stage(s): the image that passed them, bake included, becomes the known-good image.
    release = Release(
        name("release"),
        ReleaseArgs(name_prefix=settings.prefix, image_record=image_record, environment=step_context, architecture=settings.build.architecture),
        opts=opts("release"),
    )

    inputs = DeployInputs(
        workload=settings.workload,
        network=shared.network,
        # The target attaches itself: its target group(s), its listener rule (routed) or the listener's default action
        # (ECS blue-green, canary, linear: also its rules on the test listener, open to the hook's addresses).
        load_balancer=shared.load_balancer,
        hook_source_ips=shared.hook_source_ips,
        route=route_args(service),
        # The implicit service, and the entry that adopts the stack's resources, keep the load balancer's own names
        # (its target group and default action stay); another service's are its own.
        attachment_name=None if service.implicit or adopts else name("deploy-lb"),
        image_record=image_record,
        repository_url=origin.repository_url,
        repository_arn=origin.repository_arn,
        repository_name=origin.repository_name,
        log_retention_days=settings.log_retention_days,
        log_key_arn=shared.logs_key.key_arn,
        production=settings.production,
        tags=tags,
        artifact_statements=shared.artifacts.read_write_statements(),
        artifact_key_arn=shared.artifacts.key_arn,
        tag_deployed_images=origin.registry_is_own,
        trusted_signer=origin.trusted_signer,
        # Names known before the alarms exist: the target rolls back a deployment when one fires.
        alarm_names=alarm_names(settings.prefix),
        # The scan gate's SBOM and verdict for the deployment record, from the action that exports them: the Scan stage's
        # VerifyImage in a building stack, the Check stage's CheckVerified (in the Build stage's namespace) in a promoting
        # one. A pipeline may only name a namespace one of its earlier actions declares.
        gate_variables=GateVariables.exported_by(origin.stages) if settings.supply.scans else None,
        shared_cluster=_cluster(shared),
        # EKS services share their nodes' security group: the stack opens it once per port (`connect_shared_nodes`).
        workload_connected=shared.eks_cluster is not None,
    )
    # The only place that depends on deployTarget: the registry of targets picks the module. (Called inside the load
    # balancer's `attaching()`: the caller's.)
    target = create_target(name("deploy"), settings, inputs, opts("deploy"))
    # nextDeployTarget: the other target beside it, with the recorded image, in its own target group (weight 0,
    # no production traffic): it is in no pipeline stage, and no alarm watches it (docs/safety.md).
    standby = create_target(name("deploy"), settings.for_next_target(), replace(inputs, alarm_names=(), standby=True), opts("deploy")) if settings.next_deploy_target else None

    notifications = shared.notifications
    notifications.route(
        name("notifications"),
        ServiceEvents(
            pipeline_name=pipeline_name,
            repository_name=origin.repository_name,
            failure_events=target.failure_events,
            gate_actions=gate_actions(origin.stages),
            tags=tags,
        ),
        previous_name="notifications" if adopts else None,
    )
    alarms = Alarms(
        name("alarms"),
        AlarmsArgs(
            name_prefix=settings.prefix,
            metrics=target.metrics,
            thresholds=safety.thresholds,
            topic_arn=notifications.topic_arn,
            tags=tags,
        ),
        opts=opts("alarms"),
    )
    pipeline = Pipeline(
        name("pipeline"),
        PipelineArgs(
            pipeline_name=pipeline_name,
            artifact_bucket_name=shared.artifacts.bucket_name,
            artifact_key_arn=shared.artifacts.key_arn,
            artifact_statements=shared.artifacts.read_write_statements(),
            source=origin.source,
            stages=origin.stages,
            tags=tags,
            deploy_stages=target.stages,
            final_stages=[release.contribution, *origin.final_stages],
            # Several services on one CodeCommit branch: the stack's path router starts each pipeline (`path_router`).
            started_by_router=routed(shared),
            gates=PipelineGates(
                topic_arn=notifications.topic_arn,
                topic_statements=notifications.publish_statements(),
                # An Output of the composite alarm: the pipeline is created after the alarm it watches.
                alarm_name=alarms.composite_alarm_name,
                manual_approval=safety.manual_approval,
                approval_message=origin.approval_message,
                # The bake time is a production gate; dev deploys succeed as soon as the target is healthy.
                bake_time_minutes=safety.bake_time_minutes if settings.production else 0,
                deployment_window=((safety.deployment_window_cron, safety.deployment_window_time_zone) if safety.deployment_window_cron else None),
                block_while_alarming=safety.block_deploy_while_alarming,
            ),
        ),
        opts=opts("pipeline"),
    )
    section = DashboardSection(
        name=name("dashboard"),
        title=service.name,
        pipeline_name=pipeline_name,
        deploy_stage_names=[c.stage.name for c in target.stages],
        metrics=target.metrics,
        thresholds=safety.thresholds,
        alarm_arns=alarms.alarm_arns,
        service_id=settings.prefix,
        deployment_record_log_groups=target.deployment_record_log_groups,
        tags=tags,
        previous_name="dashboard" if adopts else None,
    )
    return ServiceParts(service=service, origin=origin, target=target, standby=standby, pipeline=pipeline, alarms=alarms, image_record=image_record, dashboard=section)


def routed(shared: SharedParts) -> bool:
    """The services' pipelines are started by the stack's path router: they share a CodeCommit source."""
    return shared.source is not None and shared.source.repository_arn is not None


def path_router(shared: SharedParts, services: Sequence[ServiceParts]) -> PathRouter | None:
    """Several services on one CodeCommit branch: one rule on the branch's pushes, and a function that starts only the
    pipelines whose sourceFilePaths a push changed (CodeCommit has no trigger filters). None otherwise."""
    if not routed(shared):
        return None
    assert shared.source is not None and shared.source.repository_arn is not None
    stack = shared.settings
    return PathRouter(
        "path-router",
        PathRouterArgs(
            function_name=physical_name(stack.prefix, "path-router", 64),
            repository_name=stack.source.repository,
            repository_arn=shared.source.repository_arn,
            branch=stack.source.branch,
            pipelines={
                physical_name(parts.service.settings.prefix, "pipeline", 100): RoutedPipeline(arn=parts.pipeline.pipeline_arn, file_paths=parts.service.settings.source.file_paths)
                for parts in services
            },
            environment=shared.step_context(stack),
        ),
    )


def _cluster(shared: SharedParts) -> SharedCluster | None:
    if shared.ecs_cluster is not None:
        return shared.ecs_cluster
    if shared.eks_cluster is not None and shared.eks_cluster.cluster is not None:
        return SharedCluster(shared.eks_cluster.cluster_name, shared.eks_cluster.cluster)
    return None


def connect_shared_nodes(shared: SharedParts, services: Sequence[ServiceParts]) -> None:
    """EKS services share their nodes' security group: one rule pair per container port for all of them (EC2 refuses
    the same rule twice, and removing a service must not close a port another one listens on)."""
    if shared.eks_cluster is None:
        return
    ports = [parts.service.settings.workload.container_port for parts in services]
    shared.eks_cluster.open_to(services[0].target.attachment, ports, shared.settings.workload.container_port)


def service_exports(parts: ServiceParts) -> Mapping[str, Any]:
    """What the stack exports of one service (a stack of one service at the top level, as it always has; a named
    service's in the `services` output under its name). Its image origin's outputs: `origin_exports`."""
    return {
        "pipelineName": parts.pipeline.pipeline_name,
        "pipelineConsoleUrl": parts.pipeline.console_url,
        "sourceLocation": parts.origin.location,
        "repositoryUrl": parts.origin.repository_url,
        "serviceUrl": parts.target.service_url,
        "alarmNames": pulumi.Output.from_input(list(parts.alarms.alarm_names)),
        **parts.target.outputs,
    }


def origin_exports(services: Sequence[ServiceParts], *, implicit: bool) -> Mapping[str, Any]:
    """The image origins' outputs: a stack of one service's `promotion` contract (or `promotesFrom`) as always; with
    `services`, every building service's contract in `promotions` {service: contract} (stack_exports)."""
    return stack_exports({parts.service.name: parts.origin.exports(parts.pipeline.pipeline_name, parts.pipeline.pipeline_arn) for parts in services}, implicit=implicit)
