"""EKS deploy target: the cluster (created in EKS Auto Mode, or an existing one), its wiring to the
shared ALB, and the in-VPC CodeBuild step that applies the workload and rolls images out.

Pulumi never talks to the Kubernetes API: the cluster, its IAM, access entries and add-on are AWS
resources; the Kubernetes objects are data that the deploy step applies from inside the VPC. So
`pulumi up` works from any machine with AWS credentials, whatever the endpoint's access (docs/eks.md).

This module is the component; its parts are siblings: cluster.py (the created cluster and its roles),
insights.py (the Container Insights add-on and its metrics), manifests.py (the workload), deploy_step.py
(the step's buildspec, script and permissions) and report.py (the offline plan's view).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import COMMIT_ID_VARIABLE, IMAGE_URI_VARIABLE, DeployInputs, FailureEvents, ServiceMetrics, StageContribution
from components.delivery.image_record import record_statements
from components.deploy.eks import deploy_step as deploy_step_data
from components.deploy.eks import manifests, verdict
from components.deploy.eks.cluster import ControlPlaneLogs, auto_mode_cluster, created_cluster_name
from components.deploy.eks.config_apply import config_apply_trigger
from components.deploy.eks.insights import container_insights, eks_saturation_metrics
from components.deploy.step import DeployStep, StepVpc, deploy_step
from components.naming import physical_name
from components.network.attach import AttachArgs
from components.network.vpc import Network
from components.settings import CpuArchitecture, EksLoadBalancing, standard_support_notice
from components.supply import notation
from components.supply.signing import signature_reader_statements
from components.workload import bootstrap_environment

# Component type token: part of every child's URN, so it never changes.
TYPE = "container-cicd:deploy:EksTarget"
# The deploy target's kind: names its target group on the load balancer.
KIND = "eks"


@dataclass(frozen=True)
class EksTargetArgs:
    inputs: DeployInputs
    """What the target receives from the rest of the stack (network, load balancer, image, workload)."""
    name_prefix: str
    """Physical-name prefix (project-stack-service); also the Service dimension of the deployment metrics."""
    service_name: str
    """Name of the Deployment, Service and TargetGroupBinding."""
    kubernetes_version: str
    """Kubernetes version of a created cluster (the deploy step checks its kubectl against the version the
    cluster reports)."""
    spec_parameter_name: str
    """SSM parameter holding the digest of the rendered manifests; its change starts a config-apply run."""
    network_variant: str
    """What decides the cluster's VPC (vpcId, or the created VPC's CIDR): part of a created cluster's name."""
    existing_cluster_name: str | None
    """When set, the workload goes into this cluster (only the deploy identity's access entry and
    the step are created). None: an EKS Auto Mode cluster is created (eksClusterName)."""
    public_access_cidrs: tuple[str, ...]
    """Who may reach a created cluster's public API endpoint (operators' kubectl; Pulumi does not need
    it). Empty: private endpoint only (eksPublicAccessCidrs)."""
    load_balancing: EksLoadBalancing
    """Who registers the pods in the target group (eksLoadBalancing)."""
    pod_cpu_millicores: int
    """CPU request and limit of each pod (eksPodCpuMillicores)."""
    pod_memory_mib: int
    """Memory request and limit of each pod (eksPodMemoryMiB)."""
    architecture: CpuArchitecture
    """Architecture of the image (pods are pinned to it) and of the deploy step's CodeBuild image
    (cpuArchitecture)."""


def workload_spec(args: EksTargetArgs) -> manifests.WorkloadSpec:
    workload = args.inputs.workload
    namespace = manifests.namespace_name(args.name_prefix)
    return manifests.WorkloadSpec(
        namespace=namespace,
        name=args.service_name,
        workload=workload,
        environment=tuple((e["name"], e["value"]) for e in bootstrap_environment(workload)),
        cpu_millicores=args.pod_cpu_millicores,
        memory_mib=args.pod_memory_mib,
        architecture=args.architecture,
        load_balancing=args.load_balancing,
        node_pool=manifests.node_pool_name(namespace, args.architecture, created_cluster=not args.existing_cluster_name),
    )


class EksTarget(pulumi.ComponentResource):
    """Runs the service on EKS behind the same internet-facing ALB as the ECS target.

    Outputs: `service_url`, `cluster_name`, `namespace`, `deploy_project_name`, `stages`, `metrics`.
    """

    def __init__(self, name: str, args: EksTargetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        inputs, workload = args.inputs, args.inputs.workload
        invoke = pulumi.InvokeOutputOptions(parent=self)
        spec = workload_spec(args)
        network, lb = inputs.network, inputs.load_balancer
        context = AwsContext(self)
        attachment = lb.attach(
            AttachArgs(
                name=inputs.attachment_name or lb.pulumi_resource_name,
                target_kind=KIND,
                health_check_path=workload.health_check_path,
                target_group_tags={**inputs.tags, **target_group_tags(args)},
                route=inputs.route,
                standby=inputs.standby,
                name_prefix=args.name_prefix,
            )
        )

        cluster_resources: list[pulumi.Resource] = []
        if (shared := shared_cluster(inputs)) is not None:  # the stack's, for all its services (each in its namespace)
            cluster_resources, cluster_name, cluster_arn = [shared], shared.name, shared.arn
            node_security_group_id = shared.vpc_config.cluster_security_group_id
        elif args.existing_cluster_name:
            existing = aws.eks.get_cluster_output(name=args.existing_cluster_name, opts=invoke)
            cluster_name: pulumi.Output[str] = existing.name
            cluster_arn: pulumi.Output[str] = existing.arn
            node_security_group_id = existing.vpc_config.cluster_security_group_id
        else:
            cluster = auto_mode_cluster(
                name,
                name_prefix=args.name_prefix,
                kubernetes_version=args.kubernetes_version,
                network_variant=args.network_variant,
                public_access_cidrs=args.public_access_cidrs,
                subnet_ids=network.private_subnet_ids,
                logs=ControlPlaneLogs(retention_days=inputs.log_retention_days, key_arn=inputs.log_key_arn, production=inputs.production),
                tags=inputs.tags,
                context=context,
                parent=self,
            )
            cluster_resources = [cluster]
            # Everything that names the cluster takes its name from the resource, so it waits for it.
            cluster_name, cluster_arn = cluster.name, cluster.arn
            # Auto Mode nodes (and so the pods, which share the node's ENIs) carry the EKS-created
            # cluster security group.
            node_security_group_id = cluster.vpc_config.cluster_security_group_id
            container_insights(name, cluster, tags=inputs.tags, context=context, parent=self)

        # The ALB reaches the pods' IPs on the container port (pods share the nodes' security group; with several
        # services the stack opens each port once: inputs.workload_connected).
        if not inputs.workload_connected:
            attachment.connect(name, node_security_group_id, workload.container_port, parent=self, workload="pods")

        step, access = self._deploy_step(name, args, spec, cluster_name, cluster_arn, context, network, node_security_group_id, attachment.target_group_arn)
        manifests_digest = pulumi.Output.all(attachment.target_group_arn).apply(
            lambda v: deploy_step_data.spec_digest(manifests.workload(spec, v[0], include_namespace=not args.existing_cluster_name))
        )
        config_apply_trigger(
            name,
            parent=self,
            name_prefix=args.name_prefix,
            spec_parameter_name=args.spec_parameter_name,
            manifests_digest=manifests_digest,
            project=step.project,
            tags=inputs.tags,
            ready=[access, *cluster_resources],
        )

        gate = deploy_step_data.gate_variables(inputs.gate_variables)
        self.stages: Sequence[StageContribution] = [
            StageContribution(
                stage=aws.codepipeline.PipelineStageArgs(
                    name="Deploy",
                    actions=[step.action("DeployToEks", run_order=1, variables=[("IMAGE_URI", IMAGE_URI_VARIABLE), ("COMMIT_ID", COMMIT_ID_VARIABLE), *gate])],
                ),
                pipeline_statements=[step.pipeline_statement("RunDeploy")],
            )
        ]
        self.attachment = attachment
        self.service_url = attachment.url
        self.cluster_name = cluster_name
        self.namespace = spec.namespace
        self.deploy_project_name = step.project.name
        self.deployment_record_log_groups: Sequence[pulumi.Output[str]] = [step.log_group.name]
        self.metrics = ServiceMetrics(
            load_balancer=attachment.load_balancer_arn_suffix,
            target_group=attachment.target_group_arn_suffix,
            saturation=eks_saturation_metrics(cluster_name, spec.namespace, spec.name),
        )
        # The deploy step is the pipeline's action and fails when the rollout does (after restoring the
        # known-good image): the pipeline's failed-action events say it all.
        self.failure_events: Sequence[FailureEvents] = []
        # An existing cluster's administrators apply these once before the first run (docs/eks.md).
        self.outputs: Mapping[str, pulumi.Input[str]] = (
            {"clusterAdministratorManifests": deploy_step_data.render(manifests.administrator_manifests(spec, manifests.deploy_group(args.name_prefix)))}
            if args.existing_cluster_name
            else {}
        )
        # Shown by `pulumi preview` and `pulumi up` as the version's end of standard support nears, and after.
        notice = standard_support_notice(args.kubernetes_version, today(), args.existing_cluster_name)
        if notice:
            pulumi.log.warn(notice, resource=self)
        self.register_outputs({"service_url": self.service_url, "cluster_name": self.cluster_name, "deploy_project_name": self.deploy_project_name})

    def _deploy_step(
        self,
        name: str,
        args: EksTargetArgs,
        spec: manifests.WorkloadSpec,
        cluster_name: pulumi.Output[str],
        cluster_arn: pulumi.Output[str],
        context: AwsContext,
        network: Network,
        node_security_group_id: pulumi.Output[str],
        target_group_arn: pulumi.Output[str],
    ) -> tuple[DeployStep, aws.eks.AccessPolicyAssociation]:
        inputs, workload = args.inputs, args.inputs.workload
        tags = inputs.tags
        child = pulumi.ResourceOptions(parent=self)
        project_name = physical_name(args.name_prefix, "deploy", 150)
        deploy_sg = aws.ec2.SecurityGroup(
            f"{name}-deploy-sg",
            description="Deploy step: the cluster API and AWS APIs over HTTPS",
            vpc_id=network.vpc_id,
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-deploy-https-out",
            security_group_id=deploy_sg.id,
            # The cluster endpoint's ENIs, and AWS APIs through the NAT gateway.
            description="HTTPS to the cluster API and AWS APIs",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            opts=pulumi.ResourceOptions(parent=deploy_sg),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-api-from-deploy",
            security_group_id=node_security_group_id,
            description="Kubernetes API from the deploy step",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            referenced_security_group_id=deploy_sg.id,
            opts=child,
        )
        alarm_arns = [context.arn("cloudwatch", f"alarm:{alarm}") for alarm in inputs.alarm_names]
        subnet_arns = pulumi.Output.from_input(network.private_subnet_ids).apply(lambda ids: pulumi.Output.all(*[context.arn("ec2", f"subnet/{s}") for s in ids]))
        create_namespace = not args.existing_cluster_name
        signer = inputs.trusted_signer if inputs.trusted_signer is not None else ""
        buildspec = pulumi.Output.all(cluster_name, target_group_arn, inputs.repository_url, inputs.repository_name, signer).apply(
            lambda v: deploy_step_data.render(deploy_buildspec(args, spec, v[0], v[1], v[2], v[3], create_namespace=create_namespace, signer=v[4]))
        )
        step = deploy_step(
            f"{name}-deploy",
            parent=self,
            project_name=project_name,
            description="Applies the EKS workload with the pipeline's (or the recorded) image; restores the known-good image on failure",
            inputs=inputs,
            buildspec=buildspec,
            statements=[
                *deploy_step_data.deploy_statements(
                    cluster_arn=cluster_arn,
                    alarm_arns=alarm_arns,
                    network_interface_arn_pattern=context.arn("ec2", "network-interface/*"),
                    subnet_arns=subnet_arns,
                    security_group_arn=context.arn("ec2", pulumi.Output.concat("security-group/", deploy_sg.id)),
                ),
                *record_statements(inputs.image_record.parameter_arn, inputs.repository_arn, tag_deployed=inputs.tag_deployed_images),
                # What a failed rollout restores: the image that last passed its bake.
                {"Sid": "ReadKnownGoodImage", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": inputs.image_record.known_good_arn},
                verdict.metrics_statement(),
                *(signature_reader_statements(inputs.repository_arn, inputs.trusted_signer) if inputs.trusted_signer is not None else []),
            ],
            architecture=args.architecture,
            # The rollout may take the full deadline twice (deploy, then restore), plus the step's other commands:
            # about 15 AWS and kubectl calls at a minute each (the AWS CLI's read timeout; 5 more to verify a signature,
            # after the verifier's install) and the alarm poll's last round: tests/test_time_budgets.py counts them.
            timeout_minutes=workload.deployment_timeout_minutes * 2 + 20 + (deploy_step_data.verify_minutes(args.architecture) if inputs.trusted_signer is not None else 0),
            source_account=context.account_id,
            vpc=StepVpc(vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, security_group_ids=[deploy_sg.id]),
        )
        access_entry = aws.eks.AccessEntry(
            f"{name}-deploy-access",
            cluster_name=cluster_name,
            principal_arn=step.role.arn,
            type="STANDARD",
            # An existing cluster's administrators bind the TargetGroupBinding's Role to this group.
            kubernetes_groups=[manifests.deploy_group(args.name_prefix)] if args.existing_cluster_name else None,
            tags=tags,
            opts=child,
        )
        access = aws.eks.AccessPolicyAssociation(
            f"{name}-deploy-access-policy",
            cluster_name=cluster_name,
            principal_arn=step.role.arn,
            **deploy_access(args, spec, context),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access_entry]),
        )
        return step, access


def deploy_access(args: EksTargetArgs, spec: manifests.WorkloadSpec, context: AwsContext) -> dict:
    """The deploy identity's access policy: cluster admin of a cluster the stack owns (it creates the
    namespace); only the workload's namespace of an existing cluster."""
    if args.existing_cluster_name:
        return {
            "policy_arn": deploy_step_data.access_policy_arn(context, deploy_step_data.EXISTING_CLUSTER_ACCESS_POLICY),
            "access_scope": {"type": "namespace", "namespaces": [spec.namespace]},
        }
    return {"policy_arn": deploy_step_data.access_policy_arn(context, deploy_step_data.CREATED_CLUSTER_ACCESS_POLICY), "access_scope": {"type": "cluster"}}


def deploy_buildspec(
    args: EksTargetArgs,
    spec: manifests.WorkloadSpec,
    cluster_name: str,
    target_group_arn: str,
    repository_url: str,
    repository_name: str,
    *,
    create_namespace: bool,
    signer: str = "",
) -> dict:
    """`signer`: the signing profile a pipeline run's image must be signed by; empty: no verification."""
    inputs = args.inputs
    return deploy_step_data.deploy_buildspec(
        cluster_name=cluster_name,
        manifests=manifests.workload(spec, target_group_arn, include_namespace=create_namespace),
        install=notation.install_commands(args.architecture) if signer else (),
        script=deploy_step_data.deploy_script(
            namespace=spec.namespace,
            deployment=spec.name,
            container_name=inputs.workload.container_name,
            timeout_minutes=inputs.workload.deployment_timeout_minutes,
            alarm_names=inputs.alarm_names,
            record_parameter=inputs.image_record.name,
            known_good_parameter=inputs.image_record.known_good_name,
            repository_url=repository_url,
            repository_name=repository_name,
            create_namespace=create_namespace,
            service_id=args.name_prefix,
            tag_deployed=inputs.tag_deployed_images,
            binding_resource=f"targetgroupbindings.{spec.load_balancing.target_group_binding_api_version.partition('/')[0]}",
            verify=notation.verify_commands("IMAGE_URI", [signer]) if signer else (),
        ),
    )


def target_group_tags(args: EksTargetArgs) -> dict[str, str]:
    """EKS Auto Mode's cluster role (AmazonEKSLoadBalancingPolicy) modifies, and in some policy
    versions registers targets in, only target groups tagged with the cluster's name (research.md Q1)."""
    shared = args.inputs.shared_cluster
    return {"eks:eks-cluster-name": args.existing_cluster_name or (shared.name if shared else created_cluster_name(args.name_prefix, args.network_variant))}


def shared_cluster(inputs: DeployInputs) -> aws.eks.Cluster | None:
    """The stack's EKS cluster for all its services (`DeployInputs.shared_cluster`); None without one."""
    if (shared := inputs.shared_cluster) is None:
        return None
    if not isinstance(shared.resource, aws.eks.Cluster):
        raise ValueError(f"DeployInputs.shared_cluster: {shared.name!r} is not an EKS cluster; give the EKS target the stack's EKS cluster")
    return shared.resource


def today() -> date:
    """The date the program runs on: what the EKS release calendar is read against."""
    return date.today()
