"""EKS deploy target: the cluster (created with EKS Auto Mode, or an existing one), the workload behind
the shared ALB, and a CodeBuild kubectl step as the pipeline's Deploy stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components import kubernetes as manifests
from components.build import start_build_statement
from components.contracts import (
    BUILD_ARTIFACT,
    DeployInputs,
    MetricRef,
    ServiceMetrics,
    StageContribution,
)
from components.deploy import eks_deploy
from components.deploy.ecs import bootstrap_environment
from components.iam import service_role
from components.logs import target_log_group
from components.naming import physical_name
from components.network import Network
from components.settings import CpuArchitecture, EksLoadBalancing, Settings

# All five control-plane log types. https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# EKS Auto Mode's built-in node pools: general-purpose runs the workload, system runs add-ons.
AUTO_MODE_NODE_POOLS = ("general-purpose", "system")
# The pipeline owns the running image after the first deployment (see docs/eks.md).
IMAGE_PATH = "spec.template.spec.containers[0].image"
DEPLOY_COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"
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
    existing_cluster_name: str | None = None
    """When set, the workload goes into this cluster (only an access entry, the namespace and the
    workload are created). Omitted: an EKS Auto Mode cluster is created."""
    public_access_cidrs: tuple[str, ...] = ()
    """Who may reach a created cluster's public API endpoint. Omitted: private endpoint only."""
    load_balancing: EksLoadBalancing = EksLoadBalancing.AUTO_MODE
    pod_cpu_millicores: int = 250
    pod_memory_mib: int = 512
    architecture: CpuArchitecture = CpuArchitecture.X86_64
    """Architecture of the deploy step's CodeBuild image (and kubectl binary)."""


def workload_spec(args: EksTargetArgs) -> manifests.WorkloadSpec:
    workload = args.inputs.workload
    return manifests.WorkloadSpec(
        namespace=manifests.namespace_name(args.name_prefix),
        name=args.service_name,
        workload=workload,
        environment=tuple((e["name"], e["value"]) for e in bootstrap_environment(workload)),
        cpu_millicores=args.pod_cpu_millicores,
        memory_mib=args.pod_memory_mib,
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
        workload = args.inputs.workload
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        spec = workload_spec(args)
        network, lb = args.inputs.network, args.inputs.load_balancer
        region = aws.get_region_output(opts=invoke).region
        identity = aws.get_caller_identity_output(opts=invoke)

        if args.existing_cluster_name:
            cluster_name: pulumi.Output[str] = pulumi.Output.from_input(args.existing_cluster_name)
            existing = aws.eks.get_cluster_output(name=args.existing_cluster_name, opts=invoke)
            node_security_group_id = existing.vpc_config.cluster_security_group_id
            kubeconfig = pulumi.Output.all(existing.endpoint, existing.certificate_authorities[0].data, region).apply(
                lambda v: pulumi.Output.json_dumps(manifests.kubeconfig(args.existing_cluster_name, v[0], v[1], v[2]))
            )
            cluster_dependency: list[pulumi.Resource] = []
        else:
            cluster = self._create_cluster(name, args, network)
            cluster_name = pulumi.Output.from_input(created_cluster_name(args.name_prefix))
            # EKS Auto Mode nodes (and so the pods, which share the node's ENIs) carry the EKS-created
            # cluster security group; with skip_default_security_groups this output is that group.
            node_security_group_id = cluster.cluster_security_group_id
            kubeconfig = cluster.kubeconfig_json
            cluster_dependency = [cluster]
            self._container_insights(name, args, cluster, cluster_name)
        cluster_arn = pulumi.Output.concat("arn:aws:eks:", region, ":", identity.account_id, ":cluster/", cluster_name)

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

        # The one provider of the stack, built from this target's cluster and owned by this component
        # (pulumi-eks practice): it cannot be passed in, because the cluster it talks to is created here.
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=cluster_dependency),
        )
        in_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        ns_doc = manifests.namespace(spec)
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=ns_doc["metadata"], opts=in_cluster)
        in_namespace = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[namespace])
        deployment_doc = manifests.deployment(spec)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=deployment_doc["metadata"],
            spec=deployment_doc["spec"],
            opts=pulumi.ResourceOptions.merge(
                in_namespace,
                # After the first deployment the pipeline owns the image (`kubectl set image` takes over
                # the field); `pulumi up` must not roll the Deployment back to the bootstrap image.
                pulumi.ResourceOptions(ignore_changes=[IMAGE_PATH]),
            ),
        )
        service_doc = manifests.service(spec)
        service = k8s.core.v1.Service(
            f"{name}-service", metadata=service_doc["metadata"], spec=service_doc["spec"], opts=in_namespace
        )
        binding_doc = lb.target_group_arn.apply(
            lambda arn: manifests.target_group_binding(spec, arn, args.load_balancing.target_group_binding_api_version)
        )
        k8s.apiextensions.CustomResource(
            f"{name}-binding",
            api_version=args.load_balancing.target_group_binding_api_version,
            kind="TargetGroupBinding",
            metadata=manifests.target_group_binding(spec, "", args.load_balancing.target_group_binding_api_version)["metadata"],
            spec=binding_doc.apply(lambda d: d["spec"]),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[service, lb.listener]),
        )

        project = self._deploy_step(name, args, spec, cluster_name, cluster_arn, region, identity, network,
                                    node_security_group_id, deployment)

        self.stages: Sequence[StageContribution] = [
            StageContribution(
                stage=aws.codepipeline.PipelineStageArgs(
                    name="Deploy",
                    actions=[
                        aws.codepipeline.PipelineStageActionArgs(
                            name="DeployToEks",
                            category="Build",
                            owner="AWS",
                            provider="CodeBuild",
                            version="1",
                            # CodeBuild actions need an input artifact; the step reads only variables.
                            input_artifacts=[BUILD_ARTIFACT],
                            configuration={
                                "ProjectName": project.name,
                                "EnvironmentVariables": pulumi.Output.json_dumps(
                                    [{"name": "IMAGE_URI", "value": eks_deploy.IMAGE_URI_VARIABLE, "type": "PLAINTEXT"}]
                                ),
                            },
                        )
                    ],
                ),
                pipeline_statements=[start_build_statement("RunDeploy", project.arn)],
            )
        ]
        self.service_url = lb.url
        self.cluster_name = cluster_name
        self.namespace = spec.namespace
        self.deploy_project_name = project.name
        self.metrics = ServiceMetrics(
            load_balancer=lb.load_balancer_arn_suffix,
            target_group=lb.target_group_arn_suffix,
            saturation=eks_saturation_metrics(cluster_name, spec.namespace, spec.name),
        )
        self.register_outputs(
            {"service_url": self.service_url, "cluster_name": self.cluster_name, "deploy_project_name": project.name}
        )

    def _create_cluster(self, name: str, args: EksTargetArgs, network: Network) -> eks.Cluster:
        key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"Envelope encryption of Kubernetes secrets in {args.name_prefix}",
            enable_key_rotation=True,
            # Not protected: the key goes with the cluster it serves (a switch of deployTarget), and its
            # deletion waits 30 days, during which `aws kms cancel-key-deletion` brings it back.
            deletion_window_in_days=30,
            tags=args.inputs.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        public = bool(args.public_access_cidrs)
        return eks.Cluster(
            f"{name}-cluster",
            name=created_cluster_name(args.name_prefix),
            version=args.kubernetes_version,
            vpc_id=network.vpc_id,
            # Control-plane ENIs and Auto Mode nodes both go into the private subnets only.
            subnet_ids=network.private_subnet_ids,
            node_associate_public_ip_address=False,
            # Access entries only: no aws-auth ConfigMap.
            authentication_mode=eks.AuthenticationMode.API,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config_key_arn=key.arn,
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(args.public_access_cidrs) if public else None,
            auto_mode=eks.AutoModeOptionsArgs(
                enabled=True,
                compute_config=eks.ClusterComputeConfigArgs(node_pools=list(AUTO_MODE_NODE_POOLS)),
            ),
            skip_default_node_group=True,
            skip_default_security_groups=True,
            create_oidc_provider=False,
            tags=args.inputs.tags,
            # Not protected: a switch of deployTarget deletes it, and everything it runs is re-created
            # from the stack (the workload) and the registry (the image).
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _container_insights(self, name: str, args: EksTargetArgs, cluster: eks.Cluster, cluster_name: pulumi.Input[str]) -> None:
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
        aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-agent-policy",
            role=role.name,
            # The AWS-managed policy the add-on's documentation prescribes for its agent.
            policy_arn="arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.eks.Addon(
            f"{name}-container-insights",
            cluster_name=cluster_name,
            addon_name="amazon-cloudwatch-observability",
            pod_identity_associations=[{"role_arn": role.arn, "service_account": "cloudwatch-agent"}],
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )

    def _deploy_step(
        self,
        name: str,
        args: EksTargetArgs,
        spec: manifests.WorkloadSpec,
        cluster_name: pulumi.Output[str],
        cluster_arn: pulumi.Output[str],
        region: pulumi.Output[str],
        identity: pulumi.Output,
        network: Network,
        node_security_group_id: pulumi.Output[str],
        deployment: k8s.apps.v1.Deployment,
    ) -> aws.codebuild.Project:
        inputs, workload = args.inputs, args.inputs.workload
        tags = inputs.tags
        child = pulumi.ResourceOptions(parent=self)
        project_name = physical_name(args.name_prefix, "deploy", 150)
        log_group = target_log_group(f"{name}-deploy-logs", f"/aws/codebuild/{project_name}-", inputs, parent=self)
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
            pulumi.Output.concat("arn:aws:cloudwatch:", region, ":", identity.account_id, ":alarm:", alarm)
            for alarm in inputs.alarm_names
        ]
        subnet_arns = pulumi.Output.all(network.private_subnet_ids, region, identity.account_id).apply(
            lambda v: [f"arn:aws:ec2:{v[1]}:{v[2]}:subnet/{s}" for s in v[0]]
        )
        role = service_role(
            f"{name}-deploy-role",
            "codebuild.amazonaws.com",
            eks_deploy.deploy_statements(
                cluster_arn=cluster_arn,
                log_group_arn=log_group.arn,
                alarm_arns=alarm_arns,
                network_interface_arn_pattern=pulumi.Output.concat(
                    "arn:aws:ec2:", region, ":", identity.account_id, ":network-interface/*"
                ),
                subnet_arns=subnet_arns,
                security_group_arn=pulumi.Output.concat(
                    "arn:aws:ec2:", region, ":", identity.account_id, ":security-group/", deploy_sg.id
                ),
                artifact_statements=inputs.artifact_statements,
            ),
            parent=self,
            tags=tags,
            description=f"CodeBuild role of {project_name}: rolls the image out to EKS",
            conditions={"StringEquals": {"aws:SourceAccount": identity.account_id}},
        )
        access_entry = aws.eks.AccessEntry(
            f"{name}-deploy-access",
            cluster_name=cluster_name,
            principal_arn=role.arn,
            type="STANDARD",
            tags=tags,
            opts=child,
        )
        access = aws.eks.AccessPolicyAssociation(
            f"{name}-deploy-access-policy",
            cluster_name=cluster_name,
            principal_arn=role.arn,
            policy_arn=eks_deploy.DEPLOY_ACCESS_POLICY_ARN,
            access_scope={"type": "namespace", "namespaces": [spec.namespace]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access_entry]),
        )
        kubectl_arch = "amd64" if args.architecture is CpuArchitecture.X86_64 else "arm64"
        buildspec = cluster_name.apply(
            lambda cluster: eks_deploy.render(
                eks_deploy.deploy_buildspec(
                    cluster_name=cluster,
                    namespace=spec.namespace,
                    deployment=spec.name,
                    container_name=workload.container_name,
                    kubernetes_version=args.kubernetes_version,
                    kubectl_arch=kubectl_arch,
                    timeout_minutes=workload.deployment_timeout_minutes,
                    alarm_names=inputs.alarm_names,
                )
            )
        )
        return aws.codebuild.Project(
            f"{name}-deploy-project",
            name=project_name,
            description="Rolls the pipeline's image out to the EKS Deployment; rolls back on failure",
            service_role=role.arn,
            source={"type": "CODEPIPELINE", "buildspec": buildspec},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "type": args.architecture.codebuild_environment_type,
                "image": args.architecture.codebuild_image,
                "compute_type": DEPLOY_COMPUTE_TYPE,
                "privileged_mode": False,
                "image_pull_credentials_type": "CODEBUILD",
            },
            vpc_config={
                "vpc_id": network.vpc_id,
                "subnets": network.private_subnet_ids,
                "security_group_ids": [deploy_sg.id],
            },
            logs_config={
                "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
                "s3_logs": {"status": "DISABLED"},
            },
            # The rollout may take the full deadline twice (deploy, then undo), plus set-up.
            build_timeout=workload.deployment_timeout_minutes * 2 + 10,
            queued_timeout=60,
            # The pipeline's key, not the AWS managed aws/s3 key, for anything the project stores.
            encryption_key=inputs.artifact_key_arn,
            tags=tags,
            # The role's policy and the access policy must exist before the first deployment runs;
            # the Deployment must exist before kubectl can set its image.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access, deployment]),
        )


def created_cluster_name(prefix: str) -> str:
    return physical_name(prefix, "eks", 100)


def target_group_tags(settings: Settings) -> dict[str, str]:
    """EKS Auto Mode's cluster role (AmazonEKSLoadBalancingPolicy) registers targets only in target
    groups tagged with the cluster's name."""
    cfg = settings.eks
    assert cfg is not None, "settings.eks is set whenever deployTarget is eks"
    return {"eks:eks-cluster-name": cfg.cluster_name or created_cluster_name(settings.prefix)}


def from_settings(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions) -> EksTarget:
    cfg = settings.eks
    assert cfg is not None, "settings.eks is set whenever deployTarget is eks"
    return EksTarget(
        name,
        EksTargetArgs(
            inputs=inputs,
            name_prefix=settings.prefix,
            service_name=settings.service_name,
            kubernetes_version=cfg.kubernetes_version,
            existing_cluster_name=cfg.cluster_name,
            public_access_cidrs=cfg.public_access_cidrs,
            load_balancing=cfg.load_balancing,
            pod_cpu_millicores=cfg.pod_cpu_millicores,
            pod_memory_mib=cfg.pod_memory_mib,
            architecture=settings.build.architecture,
        ),
        opts,
    )
