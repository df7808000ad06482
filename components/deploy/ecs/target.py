"""ECS on Fargate deploy target: cluster, task definition, service and the ECS deploy action.

The IAM statements, the record step's buildspec and the failure-event pattern are data in
documents.py; the offline plan's view of the target is report.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import (
    BUILD_ARTIFACT,
    IMAGE_DEFINITIONS_FILE,
    DeployInputs,
    FailureEvents,
    ServiceMetrics,
    StageContribution,
)
from components.delivery.image_record import record_statements
from components.deploy.ecs.cluster import ecs_cluster
from components.deploy.ecs.documents import (
    deploy_statements,
    deployment_failed_pattern,
    ecs_saturation_metrics,
    execution_statements,
    record_buildspec,
    render_buildspec,
)
from components.deploy.ecs.progressive import Progressive, deployment_configuration, progressive, service_timeouts
from components.deploy.ecs.verify import verifier
from components.deploy.step import DeployStep, deploy_step
from components.iam import service_role
from components.logs import target_log_group
from components.naming import physical_name
from components.network.attach import AttachArgs, Attachment
from components.network.traffic_shift import TrafficShiftArgs
from components.settings import CpuArchitecture, DeploymentStrategySettings, WorkloadSettings
from components.workload import bootstrap_environment

# Component type token: part of every child's URN, so it never changes.
TYPE = "container-cicd:deploy:EcsTarget"
# The deploy target's kind: names its target group on the load balancer.
KIND = "ecs"


@dataclass(frozen=True)
class EcsTargetArgs:
    inputs: DeployInputs
    """What the target receives from the rest of the stack (network, load balancer, image, workload)."""
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    cpu_units: int
    """Task CPU in CPU units (1024 = one vCPU); must pair with `memory_mib` as Fargate allows (ecsCpu)."""
    memory_mib: int
    """Task memory in MiB (ecsMemory)."""
    architecture: CpuArchitecture
    """CPU architecture of the task and of the record step's CodeBuild image; must match the built image
    (cpuArchitecture)."""
    strategy: DeploymentStrategySettings
    """How ECS moves the service to a new revision (deploymentStrategy). Blue-green, canary and linear attach with
    a second target group, a production rule and a test rule on the load balancer's test listener."""


def container_definitions(workload: WorkloadSettings, image: str, log_group: str, region: str) -> list[dict]:
    """The task's containerDefinitions, shaped as ECS RegisterTaskDefinition expects them.

    `image`: the image that runs now (the image record), so `pulumi up` keeps what the pipeline deployed."""
    return [
        {
            "name": workload.container_name,
            "image": image,
            "essential": True,
            "portMappings": [{"containerPort": workload.container_port, "protocol": "tcp"}],
            "environment": bootstrap_environment(workload),
            "readonlyRootFilesystem": True,
            "privileged": False,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": workload.container_name,
                },
            },
        }
    ]


class EcsTarget(pulumi.ComponentResource):
    """Runs the service on ECS Fargate behind an internet-facing ALB.

    Outputs: `service_url`, `cluster_name`, `service_name`, `stages` (the Deploy stage).
    """

    def __init__(self, name: str, args: EcsTargetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        inputs, workload = args.inputs, args.inputs.workload
        tags = inputs.tags
        child = pulumi.ResourceOptions(parent=self)
        network, lb = inputs.network, inputs.load_balancer
        context = AwsContext(self)
        region = context.region
        attachment = lb.attach(
            AttachArgs(
                name=inputs.attachment_name or lb.pulumi_resource_name,
                target_kind=KIND,
                health_check_path=workload.health_check_path,
                # The service's tags (its `service` tag: cost allocation per service); a stack of one service's are the stack's.
                target_group_tags=dict(tags),
                route=inputs.route,
                traffic_shift=traffic_shift_args(args.strategy, inputs.hook_source_ips),
                standby=inputs.standby,
                name_prefix=args.name_prefix,
            )
        )
        service_sg, port_rules = self._service_security_group(name, workload.container_port, network.vpc_id, attachment, tags)
        service_name, shared = physical_name(args.name_prefix, "service", 255), inputs.shared_cluster
        if shared is None:
            cluster_name = physical_name(args.name_prefix, "cluster", 255)
            cluster = ecs_cluster(f"{name}-cluster", cluster_name, tags, child)
        elif isinstance(shared.resource, aws.ecs.Cluster):
            cluster_name, cluster = shared.name, shared.resource
        else:
            raise ValueError(f"DeployInputs.shared_cluster: {shared.name!r} is not an ECS cluster; give the ECS target the stack's ECS cluster")
        log_group = target_log_group(f"{name}-logs", f"/ecs/{args.name_prefix}-", inputs, parent=self)
        execution_role = service_role(
            f"{name}-execution-role",
            "ecs-tasks.amazonaws.com",
            execution_statements(inputs.repository_arn, log_group.arn),
            parent=self,
            tags=tags,
            description="ECS task execution role: pulls the image, writes logs",
        )
        # The app's own AWS permissions start empty: grant them on this role when the app needs them.
        task_role = service_role(
            f"{name}-task-role",
            "ecs-tasks.amazonaws.com",
            [],
            parent=self,
            tags=tags,
            description="ECS task role: the app's own AWS permissions",
            # ECS documents aws:SourceAccount (and aws:SourceArn) for the task role's trust policy only.
            conditions={"StringEquals": {"aws:SourceAccount": context.account_id}},
        )
        family = physical_name(args.name_prefix, "task", 255)
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=family,
            cpu=str(args.cpu_units),
            memory=str(args.memory_mib),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": args.architecture.ecs_cpu_architecture},
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=pulumi.Output.all(inputs.image_record.image, log_group.name, region).apply(
                lambda values: pulumi.Output.json_dumps(container_definitions(workload, values[0], values[1], values[2]))
            ),
            tags=tags,
            opts=child,
        )
        shifting = self._progressive(name, args, attachment, context, cluster_name, service_name)
        load_balancer: aws.ecs.ServiceLoadBalancerArgsDict = {
            "target_group_arn": attachment.target_group_arn,
            "container_name": workload.container_name,
            "container_port": workload.container_port,
        }
        if shifting is not None:
            load_balancer["advanced_configuration"] = shifting.advanced_configuration
        service = aws.ecs.Service(
            f"{name}-service",
            name=service_name,
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            desired_count=workload.desired_count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration={
                "subnets": network.private_subnet_ids,
                "security_groups": [service_sg.id],
                "assign_public_ip": False,
            },
            # No ignore_changes: the provider sends the load balancers only when they differ from the stack's
            # state, and a strategy switch or a new target group must reach the service (docs/safety.md).
            load_balancers=[load_balancer],
            deployment_configuration=shifting.deployment_configuration if shifting else deployment_configuration(args.strategy),
            # Rolling: never below the desired count; blue-green, canary, linear start a full new revision
            # beside the old one, which 200 % also allows.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            # A failed deployment rolls back by itself. The breaker is documented for the ECS deployment controller
            # (API_DeploymentCircuitBreaker), which every strategy uses, and for rolling and blue/green updates
            # (deployment-failure-detection.html); canary and linear name the alarms. No source has ECS refuse it,
            # so it stays on for all four (docs/safety.md).
            deployment_circuit_breaker={"enable": True, "rollback": True},
            # The service alarms (created after this target, names known up front) also roll a deployment
            # back when one fires while it is in progress (in a canary, during the bakes); the deploy action
            # then fails within minutes. Naming alarms that are created after the service is the documented
            # pattern (CDK aws_ecs.DeploymentAlarmConfig: "Defining a deployment alarm after the service has
            # been created").
            alarms=({"alarm_names": list(inputs.alarm_names), "enable": True, "rollback": True} if inputs.alarm_names else None),
            health_check_grace_period_seconds=30,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # `pulumi up` returns only once the deployment it started is SUCCESSFUL (bakes included) and fails when
            # ECS rolls it back; service_timeouts gives the wait the strategy's worst case (docs/safety.md).
            wait_for_steady_state=True,
            tags=tags,
            # No ignore_changes on task_definition: the task definition carries the recorded image, so
            # `pulumi up` applies size and environment changes and keeps the image the pipeline deployed.
            # The listener or rules that put its target groups on the load balancer must exist first (ECS refuses a
            # target group no listener uses), and for blue-green, canary and linear the infrastructure role's
            # managed policy (the role ARN waits for inline policies only). The port rules too: the step waits for
            # tasks the load balancer reaches only through them (a new containerPort's rules are created before the
            # service moves to it).
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*attachment.ready, *port_rules, *(shifting.depends_on if shifting else ())], custom_timeouts=service_timeouts(args.strategy)
            ),
        )
        deploy_action = aws.codepipeline.PipelineStageActionArgs(
            name="DeployToEcs",
            category="Deploy",
            owner="AWS",
            provider="ECS",
            version="1",
            input_artifacts=[BUILD_ARTIFACT],
            configuration={
                "ClusterName": cluster.name,
                "ServiceName": service.name,
                "FileName": IMAGE_DEFINITIONS_FILE,
                # Fail the pipeline well before the 60-minute default when ECS cannot stabilise.
                "DeploymentTimeout": str(workload.deployment_timeout_minutes),
            },
        )
        # No false green: the image is recorded only after the verifier saw ECS finish the deployment.
        verify = verifier(
            name,
            parent=self,
            inputs=inputs,
            context=context,
            name_prefix=args.name_prefix,
            cluster_name=cluster_name,
            service_name=service_name,
            strategy=args.strategy.kind,
            # ECS gets as long to finish the deployment as the deploy action gave it (at least its worst case).
            max_wait_minutes=workload.deployment_timeout_minutes,
            run_order=2,
        )
        record = self._record_step(name, args, context.account_id)
        task_family_pattern = context.arn("ecs", f"task-definition/{family}:*")
        self.stages: Sequence[StageContribution] = [
            StageContribution(
                stage=aws.codepipeline.PipelineStageArgs(name="Deploy", actions=[deploy_action, verify.action, record.action("RecordImage", run_order=3)]),
                pipeline_statements=[
                    verify.pipeline_statement(),
                    *deploy_statements(
                        cluster_arn=cluster.arn,
                        service_arn=service.arn,
                        task_family_arn_pattern=task_family_pattern,
                        role_arns=[execution_role.arn, task_role.arn],
                    ),
                    record.pipeline_statement("RunRecordImage"),
                ],
            )
        ]
        self.attachment = attachment
        self.service_url = attachment.url
        self.cluster_name = cluster.name
        self.service_name = service.name
        self.metrics = ServiceMetrics(
            load_balancer=attachment.load_balancer_arn_suffix,
            target_group=attachment.target_group_arn_suffix,
            saturation=ecs_saturation_metrics(cluster.name, service.name),
            alternate_target_group=attachment.traffic_shift.alternate_target_group.arn_suffix if attachment.traffic_shift else None,
        )
        # The verifier writes the deployment record (functions/deployment_record.py) to its log group.
        self.deployment_record_log_groups: Sequence[pulumi.Output[str]] = [verify.function.log_group.name]
        # ECS rolls a failed deployment back by itself; the deploy action then fails too, but this event
        # also covers deployments nobody started from the pipeline (a `pulumi up` that changes the task).
        # Its own cluster holds only this service; in a shared cluster, the events of this service alone (its ARN).
        failed = deployment_failed_pattern(context.arn("ecs", f"service/{args.name_prefix}-"))
        self.failure_events: Sequence[FailureEvents] = [
            FailureEvents(
                "deployment-failed",
                "ECS gave up on a deployment of this stack's service",
                failed if shared is None else failed | {"resources": [service.arn]},
            )
        ]
        self.outputs: Mapping[str, pulumi.Input[str]] = {}
        self.register_outputs({"service_url": self.service_url, "cluster_name": self.cluster_name, "service_name": self.service_name})

    def _progressive(self, name: str, args: EcsTargetArgs, attachment: Attachment, context: AwsContext, cluster_name: str, service_name: str) -> Progressive | None:
        """Blue-green, canary, linear: what the service needs besides its attachment's traffic shift. None: rolling."""
        if attachment.traffic_shift is None:
            return None
        return progressive(
            name,
            parent=self,
            inputs=args.inputs,
            strategy=args.strategy,
            name_prefix=args.name_prefix,
            attachment=attachment,
            shift=attachment.traffic_shift,
            context=context,
            cluster_name=cluster_name,
            service_name=service_name,
        )

    def _record_step(self, name: str, args: EcsTargetArgs, account_id: pulumi.Input[str]) -> DeployStep:
        """After the ECS deploy action succeeded: record the image it deployed (read from the same
        imagedefinitions.json, so a stage rollback records the image it restored)."""
        inputs = args.inputs
        buildspec = pulumi.Output.all(inputs.repository_url, inputs.repository_name).apply(
            lambda repository: render_buildspec(record_buildspec(inputs.image_record.name, repository[0], repository[1], tag_deployed=inputs.tag_deployed_images))
        )
        return deploy_step(
            f"{name}-record",
            parent=self,
            project_name=physical_name(args.name_prefix, "record", 150),
            description="Records the image the ECS deploy action deployed (pulumi up keeps it)",
            inputs=inputs,
            buildspec=buildspec,
            statements=record_statements(inputs.image_record.parameter_arn, inputs.repository_arn, tag_deployed=inputs.tag_deployed_images),
            architecture=args.architecture,
            timeout_minutes=10,
            source_account=account_id,
        )

    def _service_security_group(
        self, name: str, port: int, vpc_id: pulumi.Input[str], attachment: Attachment, tags: dict[str, str]
    ) -> tuple[aws.ec2.SecurityGroup, list[pulumi.Resource]]:
        """The tasks' security group: the container port from the load balancer, HTTPS out; and the two rules
        that open the container port, which the service waits for (its tasks are healthy only through them)."""
        service_sg = aws.ec2.SecurityGroup(
            f"{name}-service-sg",
            description="Service: the container port from the load balancer only",
            vpc_id=vpc_id,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        port_rules = attachment.connect(name, service_sg.id, port, parent=service_sg, workload="service")
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-service-https-out",
            security_group_id=service_sg.id,
            # ECR, CloudWatch Logs and the app's own AWS calls, through the NAT gateway.
            description="HTTPS to AWS APIs and the registry",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            opts=pulumi.ResourceOptions(parent=service_sg),
        )
        return service_sg, port_rules


def traffic_shift_args(strategy: DeploymentStrategySettings, hook_source_ips: Sequence[pulumi.Input[str]]) -> TrafficShiftArgs | None:
    """What the service attaches with for a blue-green, canary or linear strategy; None for a rolling update.
    `hook_source_ips`: where the smoke-test hook's requests come from (the NAT gateway addresses of the VPC)."""
    if not strategy.kind.shifts_traffic:
        return None
    return TrafficShiftArgs(test_listener_port=strategy.test_listener_port, test_listener_cidrs=strategy.test_listener_cidrs, hook_source_ips=tuple(hook_source_ips))
