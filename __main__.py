"""container-cicd: source -> build -> registry -> pipeline -> deploy target, one stack per environment (or
promoted from another stack's verified images instead of built: promoteFrom)."""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - before anything that needs 3.11 is imported
    sys.exit(f"container-cicd needs Python 3.11 or newer; this is {sys.version.split()[0]}. Point Pulumi at a newer python3.")

from dataclasses import replace  # noqa: E402

import pulumi  # noqa: E402

from components.contracts import DeployInputs, GateVariables, StepContext
from components.delivery.artifacts import ArtifactStore, ArtifactStoreArgs
from components.delivery.image_record import ImageRecord, ImageRecordArgs, known_good_parameter_name
from components.delivery.image_record import parameter_name as image_parameter_name
from components.delivery.pipeline import Pipeline, PipelineArgs, PipelineGates
from components.delivery.release import Release, ReleaseArgs
from components.deploy import moved_out_of_target
from components.logs import LogsKey, LogsKeyArgs
from components.naming import physical_name
from components.network.egress import hook_sources
from components.network.loadbalancer import LoadBalancer, LoadBalancerArgs
from components.network.vpc import Network, network_args
from components.promotion.origin import image_origin
from components.safety.alarms import Alarms, AlarmsArgs, alarm_names
from components.safety.audit import AuditTrail, AuditTrailArgs
from components.safety.dashboard import Dashboard, DashboardArgs
from components.safety.notifications import Notifications, NotificationsArgs, gate_actions
from components.settings import load_settings
from components.supply.records import Records, RecordsArgs
from program.targets import create_target

settings = load_settings()
tags = dict(settings.tags)
# In an existing VPC, the addresses the smoke-test hook reaches the test listener from: read from the VPC
# before anything is created, so a VPC the stack cannot read them from is refused first.
existing_vpc_hook_sources = hook_sources(settings)

# Every log group the stack creates is encrypted with this one key. It belongs to the stack, so a
# deployTarget switch keeps it (and the old target's kept log groups readable).
logs_key = LogsKey("logs", LogsKeyArgs(production=settings.production, tags=tags))

artifacts = ArtifactStore(
    "artifacts",
    ArtifactStoreArgs(expiry_days=settings.artifact_expiry_days, production=settings.production, tags=tags),
)
pipeline_name = physical_name(settings.prefix, "pipeline", 100)

# What a pipeline step outside the deploy target runs with: its logs and the pipeline's artifacts.
step_context = StepContext(
    log_retention_days=settings.log_retention_days,
    log_key_arn=logs_key.key_arn,
    artifact_statements=artifacts.read_write_statements(),
    artifact_key_arn=artifacts.key_arn,
    tags=tags,
)

# Where the images come from: a source repository, a registry and a build here, or (promoteFrom) the
# images another stack built and verified, by digest (docs/promotion.md).
# SBOMs and scan verdicts by digest, kept as long as the deployment records that name them.
records = (
    Records(
        "records",
        RecordsArgs(
            expiry_days=settings.log_retention_days,
            key_arn=artifacts.key_arn,
            production=settings.production,
            reader_accounts=settings.promotion.promote_to_accounts,
            tags=tags,
            # Named by the stack (S3's bucket_prefix takes at most 37 characters; the provider appends 26).
            bucket_prefix=physical_name(settings.prefix, "records", 36) + "-",
        ),
    )
    if settings.supply.scans
    else None
)
origin = image_origin(settings, artifacts, step_context, pipeline_name, records)

# The image that runs: the bootstrap image until the pipeline's deploy step records what it deployed.
image_record = ImageRecord(
    "image-record",
    ImageRecordArgs(
        parameter_name=image_parameter_name(settings.project, settings.stack, settings.service_name),
        bootstrap_image=settings.workload.bootstrap_image,
        known_good_parameter_name=known_good_parameter_name(settings.project, settings.stack, settings.service_name),
        tags=tags,
    ),
)
# After the gated deploy stage(s): the image that passed them, bake included, becomes the known-good image.
release = Release(
    "release",
    ReleaseArgs(name_prefix=settings.prefix, image_record=image_record, environment=step_context, architecture=settings.build.architecture),
)

# The network and the load balancer belong to the stack, not to the deploy target: switching
# deployTarget keeps the VPC, the ALB and the service URL. (They were the target's children before.)
network = Network("deploy-network", network_args(settings, logs_key.key_arn), opts=pulumi.ResourceOptions(aliases=moved_out_of_target("deploy")))
load_balancer = LoadBalancer(
    "deploy-lb",
    LoadBalancerArgs(
        name_prefix=settings.prefix,
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        network_variant=settings.network.vpc_id or f"created:{settings.network.vpc_cidr}",
        ingress_cidrs=settings.network.ingress_cidrs,
        certificate_arn=settings.network.certificate_arn,
        service_domain=settings.network.service_domain,
        hosted_zone_id=settings.network.hosted_zone_id,
        production=settings.production,
        deletion_protection=settings.network.alb_deletion_protection,
        access_log_expiry_days=settings.log_retention_days if settings.network.alb_access_logs else None,
        waf=settings.network.waf,
        tags=tags,
    ),
    opts=pulumi.ResourceOptions(aliases=moved_out_of_target("deploy")),
)

# The only place that depends on deployTarget: the registry of targets picks the module.
inputs = DeployInputs(
    workload=settings.workload,
    network=network,
    # The target attaches itself: its target group(s), the listener's default action (ECS blue-green, canary,
    # linear: also the listener rules and the test listener, open to these addresses).
    load_balancer=load_balancer,
    hook_source_ips=[*network.nat_public_ips, *existing_vpc_hook_sources],
    image_record=image_record,
    repository_url=origin.repository_url,
    repository_arn=origin.repository_arn,
    repository_name=origin.repository_name,
    log_retention_days=settings.log_retention_days,
    log_key_arn=logs_key.key_arn,
    production=settings.production,
    tags=tags,
    artifact_statements=artifacts.read_write_statements(),
    artifact_key_arn=artifacts.key_arn,
    tag_deployed_images=origin.registry_is_own,
    trusted_signer=origin.trusted_signer,
    # Names known before the alarms exist: the target rolls back a deployment when one fires.
    alarm_names=alarm_names(settings.prefix),
    # The scan gate's SBOM and verdict for the deployment record, from the action that exports them: the Scan stage's
    # VerifyImage in a building stack, the Check stage's CheckVerified (in the Build stage's namespace) in a promoting
    # one. A pipeline may only name a namespace one of its earlier actions declares.
    gate_variables=GateVariables.exported_by(origin.stages) if settings.supply.scans else None,
)
# Every workload attaches inside this block; its end settles the listener's default action (loadbalancer.py).
with load_balancer.attaching():
    target = create_target("deploy", settings, inputs)
    # nextDeployTarget: the other target beside it, with the recorded image, in its own target group (weight 0,
    # no production traffic): it is in no pipeline stage, and no alarm watches it (docs/safety.md).
    standby = create_target("deploy", settings.for_next_target(), replace(inputs, alarm_names=(), standby=True)) if settings.next_deploy_target else None

safety = settings.safety
notifications = Notifications(
    "notifications",
    NotificationsArgs(
        topic_name=physical_name(settings.prefix, "delivery", 256),
        pipeline_name=pipeline_name,
        repository_name=origin.repository_name,
        emails=safety.notification_emails,
        https_endpoints=safety.notification_https_endpoints,
        failure_events=target.failure_events,
        gate_actions=gate_actions(origin.stages),
        tags=tags,
    ),
)

alarms = Alarms(
    "alarms",
    AlarmsArgs(
        name_prefix=settings.prefix,
        metrics=target.metrics,
        thresholds=safety.thresholds,
        topic_arn=notifications.topic_arn,
        tags=tags,
    ),
)

pipeline = Pipeline(
    "pipeline",
    PipelineArgs(
        pipeline_name=pipeline_name,
        artifact_bucket_name=artifacts.bucket_name,
        artifact_key_arn=artifacts.key_arn,
        artifact_statements=artifacts.read_write_statements(),
        source=origin.source,
        stages=origin.stages,
        tags=tags,
        deploy_stages=target.stages,
        final_stages=[release.contribution, *origin.final_stages],
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
)

if safety.audit_trail:
    AuditTrail(
        "audit",
        AuditTrailArgs(
            trail_name=physical_name(settings.prefix, "trail", 128),
            log_retention_days=settings.log_retention_days,
            log_key_arn=logs_key.key_arn,
            production=settings.production,
            tags=tags,
        ),
    )

dashboard = Dashboard(
    "dashboard",
    DashboardArgs(
        dashboard_name=physical_name(settings.prefix, "delivery", 255),
        pipeline_name=pipeline_name,
        deploy_stage_names=[c.stage.name for c in target.stages],
        metrics=target.metrics,
        thresholds=safety.thresholds,
        alarm_arns=alarms.alarm_arns,
        service_id=settings.prefix,
        tags=tags,
        deployment_record_log_groups=target.deployment_record_log_groups,
        scan_panels=settings.supply.scans,
    ),
)

pulumi.export("pipelineName", pipeline.pipeline_name)
pulumi.export("pipelineConsoleUrl", pipeline.console_url)
pulumi.export("sourceLocation", origin.location)
pulumi.export("repositoryUrl", origin.repository_url)
pulumi.export("serviceUrl", target.service_url)
pulumi.export("notificationTopicArn", notifications.topic_arn)
pulumi.export("alarmNames", pulumi.Output.from_input(list(alarms.alarm_names)))
pulumi.export("dashboardUrl", dashboard.dashboard_url)
if records is not None:
    pulumi.export("recordsBucket", records.bucket_name)
if settings.network.service_domain:
    # What serviceDomain points at (serviceUrl names serviceDomain): for a record kept outside the stack.
    pulumi.export("loadBalancerDnsName", load_balancer.dns_name)
if standby is not None:
    # Check it before the switch's second step: aws elbv2 describe-target-health --target-group-arn <this>
    pulumi.export("nextTargetGroupArn", standby.attachment.target_group_arn)
for output, value in {**origin.exports(pipeline.pipeline_name, pipeline.pipeline_arn), **target.outputs}.items():
    pulumi.export(output, value)
