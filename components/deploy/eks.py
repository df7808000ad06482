"""EKS deploy target: the cluster (created in EKS Auto Mode, or an existing one), its wiring to the
shared ALB, and the in-VPC CodeBuild step that applies the workload and rolls images out.

Pulumi never talks to the Kubernetes API: the cluster, its IAM, access entries and add-on are AWS
resources; the Kubernetes objects are data that the deploy step applies from inside the VPC. So
`pulumi up` works from any machine with AWS credentials, whatever the endpoint's access (docs/eks.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import kubernetes as manifests
from components.aws_context import AwsContext
from components.contracts import DeployInputs, FailureEvents, MetricRef, ServiceMetrics, StageContribution, own_settings
from components.delivery.image_record import record_statements
from components.deploy import eks_deploy
from components.deploy.report import ArchitectureEdge, PlanView, Recorded, TargetReport, get, show
from components.deploy.step import DeployStep, StepVpc, deploy_step
from components.iam import trust_policy
from components.kms import encryption_key
from components.naming import physical_name, variant_name
from components.network.vpc import Network
from components.settings import CpuArchitecture, EksLoadBalancing, Settings
from components.workload import bootstrap_environment

# All five control-plane log types. https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# EKS Auto Mode's built-in node pools: general-purpose runs the workload (amd64 only), system runs add-ons.
# https://docs.aws.amazon.com/eks/latest/userguide/set-builtin-node-pools.html
AUTO_MODE_NODE_POOLS = ("general-purpose", "system")
# The Auto Mode cluster role's managed policies (AWS guide "Create an EKS Auto Mode Cluster with the
# AWS CLI"). https://docs.aws.amazon.com/eks/latest/userguide/automode-get-started-cli.html
CLUSTER_ROLE_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
)
# The Auto Mode node role's managed policies (same guide). EKS creates the node role's access entry.
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly")
CONTAINER_INSIGHTS_NAMESPACE = "ContainerInsights"
# Component type token: part of every child's URN, so it never changes.
TYPE = "container-cicd:deploy:EksTarget"


@dataclass(frozen=True)
class EksTargetArgs:
    inputs: DeployInputs
    name_prefix: str
    """Physical-name prefix (project-stack-service)."""
    service_name: str
    """Name of the Deployment, Service and TargetGroupBinding."""
    kubernetes_version: str
    spec_parameter_name: str
    """SSM parameter holding the digest of the rendered manifests; its change starts a config-apply run."""
    network_variant: str
    """What decides the cluster's VPC (vpcId, or the created VPC's CIDR): part of a created cluster's name."""
    existing_cluster_name: str | None = None
    """When set, the workload goes into this cluster (only the deploy identity's access entry and
    the step are created). Omitted: an EKS Auto Mode cluster is created."""
    public_access_cidrs: tuple[str, ...] = ()
    """Who may reach a created cluster's public API endpoint (operators' kubectl; Pulumi does not need
    it). Omitted: private endpoint only."""
    load_balancing: EksLoadBalancing = EksLoadBalancing.AUTO_MODE
    """Who registers the pods in the target group. Omitted: EKS Auto Mode."""
    pod_cpu_millicores: int = 250
    """CPU request and limit of each pod. Omitted: a quarter of a vCPU."""
    pod_memory_mib: int = 512
    """Memory request and limit of each pod. Omitted: 512 MiB."""
    architecture: CpuArchitecture = CpuArchitecture.X86_64
    """Architecture of the image (pods are pinned to it) and of the deploy step's CodeBuild image."""


def workload_spec(args: EksTargetArgs) -> manifests.WorkloadSpec:
    workload = args.inputs.workload
    return manifests.WorkloadSpec(
        namespace=manifests.namespace_name(args.name_prefix),
        name=args.service_name,
        workload=workload,
        environment=tuple((e["name"], e["value"]) for e in bootstrap_environment(workload)),
        cpu_millicores=args.pod_cpu_millicores,
        memory_mib=args.pod_memory_mib,
        architecture=args.architecture,
        load_balancing=args.load_balancing,
    )


def eks_saturation_metrics(cluster_name: pulumi.Input[str], namespace: str, service_name: str) -> list[MetricRef]:
    """Pod CPU and memory utilisation (percent of the limits) per Kubernetes service, from Container
    Insights (the amazon-cloudwatch-observability add-on must be installed to publish them)."""
    dimensions = {"ClusterName": cluster_name, "Namespace": namespace, "Service": service_name}
    return [
        MetricRef(CONTAINER_INSIGHTS_NAMESPACE, "pod_cpu_utilization_over_pod_limit", dimensions, "cpu"),
        MetricRef(CONTAINER_INSIGHTS_NAMESPACE, "pod_memory_utilization_over_pod_limit", dimensions, "memory"),
    ]


class EksTarget(pulumi.ComponentResource):
    """Runs the service on EKS behind the same internet-facing ALB as the ECS target.

    Outputs: `service_url`, `cluster_name`, `namespace`, `deploy_project_name`, `stages`, `metrics`.
    """

    def __init__(self, name: str, args: EksTargetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        inputs, workload = args.inputs, args.inputs.workload
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        spec = workload_spec(args)
        network, lb = inputs.network, inputs.load_balancer
        context = AwsContext(self)

        cluster_resources: list[pulumi.Resource] = []
        if args.existing_cluster_name:
            existing = aws.eks.get_cluster_output(name=args.existing_cluster_name, opts=invoke)
            cluster_name: pulumi.Output[str] = existing.name
            cluster_arn: pulumi.Output[str] = existing.arn
            node_security_group_id = existing.vpc_config.cluster_security_group_id
        else:
            cluster = self._create_cluster(name, args, network, context)
            cluster_resources = [cluster]
            # Everything that names the cluster takes its name from the resource, so it waits for it.
            cluster_name, cluster_arn = cluster.name, cluster.arn
            # Auto Mode nodes (and so the pods, which share the node's ENIs) carry the EKS-created
            # cluster security group.
            node_security_group_id = cluster.vpc_config.cluster_security_group_id
            self._container_insights(name, args, cluster, context)

        # The ALB reaches the pods' IPs on the container port (pods share the nodes' security group).
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-to-pods",
            security_group_id=lb.alb_security_group_id,
            description="To the pods' container port",
            ip_protocol="tcp",
            from_port=workload.container_port,
            to_port=workload.container_port,
            referenced_security_group_id=node_security_group_id,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-pods-from-alb",
            security_group_id=node_security_group_id,
            description="Container port from the load balancer",
            ip_protocol="tcp",
            from_port=workload.container_port,
            to_port=workload.container_port,
            referenced_security_group_id=lb.alb_security_group_id,
            opts=child,
        )

        step, access = self._deploy_step(
            name, args, spec, cluster_name, cluster_arn, context, network, node_security_group_id
        )
        self._config_apply_trigger(name, args, spec, step, [access, *cluster_resources])

        self.stages: Sequence[StageContribution] = [
            StageContribution(
                stage=aws.codepipeline.PipelineStageArgs(
                    name="Deploy",
                    actions=[step.action("DeployToEks", run_order=1, variables=[("IMAGE_URI", eks_deploy.IMAGE_URI_VARIABLE)])],
                ),
                pipeline_statements=[step.pipeline_statement("RunDeploy")],
            )
        ]
        self.service_url = lb.url
        self.cluster_name = cluster_name
        self.namespace = spec.namespace
        self.deploy_project_name = step.project.name
        self.metrics = ServiceMetrics(
            load_balancer=lb.load_balancer_arn_suffix,
            target_group=lb.target_group_arn_suffix,
            saturation=eks_saturation_metrics(cluster_name, spec.namespace, spec.name),
        )
        # The deploy step is the pipeline's action and fails when the rollout does (after restoring the
        # known-good image): the pipeline's failed-action events say it all.
        self.failure_events: Sequence[FailureEvents] = []
        self.register_outputs(
            {"service_url": self.service_url, "cluster_name": self.cluster_name, "deploy_project_name": step.project.name}
        )

    def _create_cluster(self, name: str, args: EksTargetArgs, network: Network, context: AwsContext) -> aws.eks.Cluster:
        """An EKS Auto Mode cluster with plain pulumi-aws (no pulumi-eks: it needs the AWS CLI on the
        operator's machine and talks to the API endpoint). research.md Q4; pulumi_aws eks.Cluster
        "EKS Cluster with EKS Auto Mode"."""
        tags = args.inputs.tags
        # Not protected: the key goes with the cluster it serves (a switch of deployTarget), and its
        # deletion waits 30 days, during which `aws kms cancel-key-deletion` brings it back.
        key = encryption_key(
            f"{name}-secrets-key",
            description=f"Envelope encryption of Kubernetes secrets in {args.name_prefix}",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            description=f"EKS Auto Mode cluster role of {args.name_prefix}",
            # sts:TagSession: the managed policies condition on ${aws:PrincipalTag/eks:eks-cluster-name}.
            assume_role_policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
                               "Action": ["sts:AssumeRole", "sts:TagSession"]}],
            }),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-cluster-role-{policy}", role=cluster_role.name, policy_arn=context.managed_policy(policy),
                opts=pulumi.ResourceOptions(parent=cluster_role),
            )
            for policy in CLUSTER_ROLE_POLICIES
        ]
        node_role = aws.iam.Role(
            f"{name}-node-role",
            description=f"EKS Auto Mode node role of {args.name_prefix}",
            assume_role_policy=trust_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachments += [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-role-{policy}", role=node_role.name, policy_arn=context.managed_policy(policy),
                opts=pulumi.ResourceOptions(parent=node_role),
            )
            for policy in NODE_ROLE_POLICIES
        ]
        public = bool(args.public_access_cidrs)
        return aws.eks.Cluster(
            f"{name}-cluster",
            # name, role_arn and bootstrap_* are replace-only, and a cluster cannot move to another VPC:
            # the name carries the network, so a replacement is created under a new name first.
            name=created_cluster_name(args.name_prefix, args.network_variant),
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                # Control-plane ENIs and Auto Mode nodes both go into the private subnets only.
                "subnet_ids": network.private_subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": public,
                "public_access_cidrs": list(args.public_access_cidrs) if public else None,
            },
            access_config={
                # Access entries only: no aws-auth ConfigMap.
                "authentication_mode": "API",
                # No standing cluster-admin for whoever runs `pulumi up` (nor a route to use it): the
                # deploy step's role is the only workload identity; operators get an access entry.
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            # EKS Auto Mode: compute, load balancing and block storage all on; no self-managed add-ons.
            bootstrap_self_managed_addons=False,
            compute_config={"enabled": True, "node_pools": list(AUTO_MODE_NODE_POOLS), "node_role_arn": node_role.arn},
            kubernetes_network_config={"elastic_load_balancing": {"enabled": True}},
            storage_config={"block_storage": {"enabled": True}},
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # Only standard-support versions are accepted: no extended-support billing at end of life.
            upgrade_policy={"support_type": "STANDARD"},
            tags=tags,
            # Not protected: a switch of deployTarget deletes it, and everything it runs is re-created
            # from the stack (the workload) and the registry (the image). The role's policies must
            # outlive the cluster, or EKS cannot clean up what it created (pulumi_aws docs, role_arn).
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )

    def _container_insights(self, name: str, args: EksTargetArgs, cluster: aws.eks.Cluster, context: AwsContext) -> None:
        """The CloudWatch Observability add-on publishes the Container Insights pod metrics that the
        CPU and memory alarms watch; its agent gets CloudWatch rights through EKS Pod Identity
        (built into Auto Mode). An existing cluster must run the add-on already (docs/eks.md).
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html
        """
        tags = args.inputs.tags
        role = aws.iam.Role(
            f"{name}-cloudwatch-agent-role",
            description="CloudWatch agent of the amazon-cloudwatch-observability add-on (EKS Pod Identity)",
            assume_role_policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "pods.eks.amazonaws.com"},
                            # Pod Identity needs TagSession as well as AssumeRole.
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                        }
                    ],
                }
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-agent-policy",
            role=role.name,
            # The AWS-managed policy the add-on's documentation prescribes for its agent.
            policy_arn=context.managed_policy("CloudWatchAgentServerPolicy"),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.eks.Addon(
            f"{name}-container-insights",
            cluster_name=cluster.name,
            addon_name="amazon-cloudwatch-observability",
            pod_identity_associations=[{"role_arn": role.arn, "service_account": "cloudwatch-agent"}],
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            # The agent starts with the add-on: its role's policy must be attached by then.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )

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
            # The cluster endpoint's ENIs, AWS APIs and dl.k8s.io (kubectl), through the NAT gateway.
            description="HTTPS to the cluster API, AWS APIs and the kubectl download",
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
        alarm_arns = [
            context.arn("cloudwatch", f"alarm:{alarm}")
            for alarm in inputs.alarm_names
        ]
        subnet_arns = pulumi.Output.from_input(network.private_subnet_ids).apply(
            lambda ids: pulumi.Output.all(*[context.arn("ec2", f"subnet/{s}") for s in ids])
        )
        create_namespace = not args.existing_cluster_name
        buildspec = pulumi.Output.all(cluster_name, inputs.load_balancer.target_group_arn, inputs.repository_name).apply(
            lambda v: eks_deploy.render(deploy_buildspec(args, spec, v[0], v[1], v[2], create_namespace=create_namespace))
        )
        step = deploy_step(
            f"{name}-deploy",
            parent=self,
            project_name=project_name,
            description="Applies the EKS workload with the pipeline's (or the recorded) image; restores the known-good image on failure",
            inputs=inputs,
            buildspec=buildspec,
            statements=[
                *eks_deploy.deploy_statements(
                    cluster_arn=cluster_arn,
                    alarm_arns=alarm_arns,
                    network_interface_arn_pattern=context.arn("ec2", "network-interface/*"),
                    subnet_arns=subnet_arns,
                    security_group_arn=context.arn("ec2", pulumi.Output.concat("security-group/", deploy_sg.id)),
                ),
                *record_statements(inputs.image_record.parameter_arn, inputs.repository_arn),
            ],
            architecture=args.architecture,
            # The rollout may take the full deadline twice (deploy, then restore), plus set-up.
            timeout_minutes=workload.deployment_timeout_minutes * 2 + 10,
            source_account=context.account_id,
            vpc=StepVpc(vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids, security_group_ids=[deploy_sg.id]),
        )
        access_entry = aws.eks.AccessEntry(
            f"{name}-deploy-access",
            cluster_name=cluster_name,
            principal_arn=step.role.arn,
            type="STANDARD",
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

    def _config_apply_trigger(
        self, name: str, args: EksTargetArgs, spec: manifests.WorkloadSpec, step: DeployStep, ready: Sequence[pulumi.Resource]
    ) -> None:
        """`pulumi up` changes the manifests' digest in an SSM parameter; EventBridge sees the change and
        starts the deploy project without IMAGE_URI, which applies the new spec with the recorded image.
        The parameter's creation (first `up`) brings the bootstrap workload up the same way."""
        tags = args.inputs.tags
        rule = aws.cloudwatch.EventRule(
            f"{name}-spec-changed",
            description=f"The EKS workload spec of {args.name_prefix} changed: apply it",
            event_pattern=pulumi.Output.json_dumps(eks_deploy.spec_change_pattern(args.spec_parameter_name)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        events_role = aws.iam.Role(
            f"{name}-spec-changed-role",
            description=f"EventBridge: start the EKS deploy project of {args.name_prefix} when the workload spec changes",
            assume_role_policy=trust_policy("events.amazonaws.com"),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=rule),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-spec-changed-role-policy",
            role=events_role.id,
            policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "StartDeploy", "Effect": "Allow", "Action": "codebuild:StartBuild", "Resource": step.project.arn}],
            }),
            opts=pulumi.ResourceOptions(parent=events_role),
        )
        target = aws.cloudwatch.EventTarget(
            f"{name}-spec-changed-target",
            rule=rule.name,
            arn=step.project.arn,
            role_arn=events_role.arn,
            # For a CodeBuild target, the input is the StartBuild request.
            input=pulumi.Output.json_dumps(eks_deploy.start_build_input()),
            opts=pulumi.ResourceOptions(parent=rule, depends_on=[policy]),
        )
        digest = pulumi.Output.all(args.inputs.load_balancer.target_group_arn).apply(
            lambda v: eks_deploy.spec_digest(manifests.workload(spec, v[0], include_namespace=not args.existing_cluster_name))
        )
        aws.ssm.Parameter(
            f"{name}-spec",
            name=args.spec_parameter_name,
            description="Digest of the EKS workload manifests in the deploy project; a change starts a config-apply run",
            type="String",
            insecure_value=digest,
            tags=tags,
            # Written after everything the run needs: the project with the new manifests, its access
            # to the cluster, and the rule and target that react to the write.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[step.project, target, *ready]),
        )


def deploy_access(args: EksTargetArgs, spec: manifests.WorkloadSpec, context: AwsContext) -> dict:
    """The deploy identity's access policy: cluster admin of a cluster the stack owns (it creates the
    namespace); only the workload's namespace of an existing cluster."""
    if args.existing_cluster_name:
        return {
            "policy_arn": eks_deploy.access_policy_arn(context, eks_deploy.EXISTING_CLUSTER_ACCESS_POLICY),
            "access_scope": {"type": "namespace", "namespaces": [spec.namespace]},
        }
    return {"policy_arn": eks_deploy.access_policy_arn(context, eks_deploy.CREATED_CLUSTER_ACCESS_POLICY), "access_scope": {"type": "cluster"}}


def deploy_buildspec(
    args: EksTargetArgs,
    spec: manifests.WorkloadSpec,
    cluster_name: str,
    target_group_arn: str,
    repository_name: str,
    *,
    create_namespace: bool,
) -> dict:
    inputs = args.inputs
    return eks_deploy.deploy_buildspec(
        cluster_name=cluster_name,
        kubernetes_version=args.kubernetes_version,
        kubectl_arch=manifests.NODE_ARCHITECTURE[args.architecture],
        manifests=manifests.workload(spec, target_group_arn, include_namespace=create_namespace),
        script=eks_deploy.deploy_script(
            namespace=spec.namespace,
            deployment=spec.name,
            container_name=inputs.workload.container_name,
            timeout_minutes=inputs.workload.deployment_timeout_minutes,
            alarm_names=inputs.alarm_names,
            record_parameter=inputs.image_record.name,
            repository_name=repository_name,
            create_namespace=create_namespace,
        ),
    )


def network_variant(settings: Settings) -> str:
    """What decides the stack's VPC (the same value names the load balancer's variants)."""
    return settings.network.vpc_id or f"created:{settings.network.vpc_cidr}"


def created_cluster_name(prefix: str, network: str) -> str:
    """`<prefix>-eks-<hash of the network and compute mode>`: never the name of the pulumi-eks
    cluster of earlier versions (`<prefix>-eks`), nor of the cluster in another VPC, so a
    replacement can be created before the original is deleted."""
    return variant_name(prefix, "eks", 100, {"network": network, "compute": "auto-mode"}, {})


def spec_parameter_name(settings: Settings) -> str:
    return f"/{settings.project}/{settings.stack}/{settings.service_name}/eks-workload-spec"


def target_group_tags(settings: Settings) -> dict[str, str]:
    """EKS Auto Mode's cluster role (AmazonEKSLoadBalancingPolicy) modifies, and in some policy
    versions registers targets in, only target groups tagged with the cluster's name (research.md Q1)."""
    cfg = own_settings(settings.eks, settings)
    return {"eks:eks-cluster-name": cfg.cluster_name or created_cluster_name(settings.prefix, network_variant(settings))}


def from_settings(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions) -> EksTarget:
    cfg = own_settings(settings.eks, settings)
    return EksTarget(
        name,
        EksTargetArgs(
            inputs=inputs,
            name_prefix=settings.prefix,
            service_name=settings.service_name,
            kubernetes_version=cfg.kubernetes_version,
            spec_parameter_name=spec_parameter_name(settings),
            network_variant=network_variant(settings),
            existing_cluster_name=cfg.cluster_name,
            public_access_cidrs=cfg.public_access_cidrs,
            load_balancing=cfg.load_balancing,
            pod_cpu_millicores=cfg.pod_cpu_millicores,
            pod_memory_mib=cfg.pod_memory_mib,
            architecture=settings.build.architecture,
        ),
        opts,
    )


# ----------------------------------------------------------------------------------------------
# The offline plan's view of this target

_CLUSTER = "aws:eks/cluster:Cluster"


def _workload_projects(view: PlanView) -> list[Recorded]:
    """The deploy step's project: the one whose buildspec carries the manifests."""
    return [r for r in view.of_type("aws:codebuild/project:Project") if "MANIFESTS" in (get(view.buildspec(r), "env.variables") or {})]


def _probe(probe: dict | None) -> str:
    if not probe:
        return "none"
    http = probe.get("httpGet") or {}
    parts = [f"GET `{http.get('path')}` on port `{http.get('port')}`", f"every {probe.get('periodSeconds', 10)} s"]
    if probe.get("initialDelaySeconds"):
        parts.append(f"after {probe['initialDelaySeconds']} s")
    parts.append(f"timeout {probe.get('timeoutSeconds', 1)} s, {probe.get('failureThreshold', 3)} failures")
    return ", ".join(parts)


def _workload_rows(view: PlanView) -> list[str]:
    """The Deployment the deploy step applies: image, replicas, resources, probes, placement."""
    lines = []
    record = view.image_record()
    for project in _workload_projects(view):
        items = json.loads(get(view.buildspec(project), "env.variables.MANIFESTS")).get("items") or []
        kinds = ", ".join(f"{i.get('kind')} `{get(i, 'metadata.name')}`" for i in items)
        lines.append(f"- Workload applied by the deploy project **{project.name}** (`kubectl apply --server-side`, in the VPC): {kinds}")
        for item in items:
            if item.get("kind") != "Deployment":
                continue
            spec = item.get("spec") or {}
            pod = get(spec, "template.spec") or {}
            lines.append(f"- Deployment `{get(item, 'metadata.name')}` in namespace `{get(item, 'metadata.namespace')}`: "
                         f"replicas `{spec.get('replicas')}`, strategy {show(spec.get('strategy'))}, "
                         f"progress deadline `{spec.get('progressDeadlineSeconds')}` s")
            lines.append(f"  - node selector {show(pod.get('nodeSelector') or {})}")
            for c in pod.get("containers") or []:
                if record is not None:
                    image = (f"the image record `{record.inputs.get('name')}` holds `{record.inputs.get('insecureValue')}` "
                             "(the bootstrap image until the pipeline's first deployment, then the image the deploy step recorded); "
                             "the deploy step puts it in place of the manifest's placeholder")
                else:
                    image = f"`{c.get('image')}`"
                lines.append(f"  - container `{c.get('name')}`: image: {image}")
                resources = c.get("resources") or {}
                lines.append(f"  - requests {show(resources.get('requests') or {})}, limits {show(resources.get('limits') or {})}")
                lines.append(f"  - readiness probe: {_probe(c.get('readinessProbe'))}")
                lines.append(f"  - liveness probe: {_probe(c.get('livenessProbe'))}")
    return lines


def _deploy_time_rows(view: PlanView) -> list[str]:
    projects = _workload_projects(view)
    project = projects[0].inputs.get("name") if projects else "the deploy project"
    lines = [
        "- EKS: no AWS CLI, no kubectl and no network route to the cluster on this machine: Pulumi does not call the "
        "Kubernetes API. The workload is applied by the in-VPC deploy project after `pulumi up` returns; watch it with "
        f"`aws codebuild list-builds-for-project --project-name {project}` (or the CodeBuild console)",
    ]
    if not view.of_type(_CLUSTER):
        lines.append("- EKS, existing cluster: its administrators create the workload's namespace first (docs/eks.md)")
    return lines


def _human_rows(view: PlanView) -> list[str]:
    return [
        f"- EKS cluster `{cluster.inputs.get('name')}` has a private API endpoint only: the stack still comes up (the deploy "
        "step runs inside the VPC), but kubectl from a laptop will not reach it. Use a host in the VPC, or list your "
        "operators' CIDRs in `eksPublicAccessCidrs`."
        for cluster in view.of_type(_CLUSTER)
        if not get(cluster.inputs, "vpcConfig.endpointPublicAccess")
    ]


REPORT = TargetReport(
    empty_key_notes={
        "eksClusterName": "→ the stack creates an EKS Auto Mode cluster",
        "eksPublicAccessCidrs": "→ private API endpoint only",
    },
    key_settings={
        _CLUSTER: (
            "name", "version", "vpcConfig.endpointPrivateAccess", "vpcConfig.endpointPublicAccess", "vpcConfig.publicAccessCidrs",
            "enabledClusterLogTypes", "computeConfig.enabled", "computeConfig.nodePools", "accessConfig.authenticationMode",
        ),
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("policyArn", "accessScope"),
    },
    deploy_rows=_workload_rows,
    deploy_time_rows=_deploy_time_rows,
    human_rows=_human_rows,
    architecture_nodes=((_CLUSTER, "EKS cluster"),),
    architecture_edges=(
        ArchitectureEdge("aws:lb/loadBalancer:LoadBalancer", _CLUSTER, "routes to pods"),
        ArchitectureEdge("aws:ecr/repository:Repository", _CLUSTER, "pulls"),
        # The deploy action is a CodeBuild project running kubectl, not an ECS-style deploy action.
        ArchitectureEdge("aws:codebuild/project:Project", _CLUSTER, "kubectl apply", dashed=True),
    ),
)
