"""The EKS target as the program registers it: cluster, workload, ALB wiring, deploy identity, stage."""

from __future__ import annotations

import json
from collections import Counter

import kubernetes_validate
import pytest
import yaml

from components import kubernetes as manifests
from components.deploy import eks_deploy
from components.deploy.eks import CONTROL_PLANE_LOG_TYPES, IMAGE_PATH, eks_saturation_metrics

EXISTING = {
    "deployTarget": "eks",
    "eksClusterName": "platform",
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "privateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}
EXISTING_CLUSTER_SG = "sg-0e0e0e0e0e0e0e0e0"  # offline/mocks.py getCluster
CREATED_CLUSTER_SG = "sg-0c0c0c0c0c0c0c0c0"  # offline/mocks.py pulumi-eks Cluster outputs
PROD_NS = "container-cicd-prod-app"


@pytest.fixture(scope="module")
def existing(evaluate):
    return evaluate("dev", **EXISTING)


def in_target(result):
    return [r for r in result.resources if "container-cicd:deploy:EksTarget" in r.urn]


def policy(result, name):
    return json.loads(result.named(name).inputs["policy"])


def test_prod_runs_on_eks_and_dev_on_ecs(dev, prod):
    assert [r.type for r in prod.resources if r.type.startswith("container-cicd:deploy:")] == ["container-cicd:deploy:EksTarget"]
    assert [r.type for r in dev.resources if r.type.startswith("container-cicd:deploy:")] == ["container-cicd:deploy:EcsTarget"]
    assert prod.outputs["serviceUrl"] == "http://container-cicd-prod-app-alb-1234567890.us-east-1.elb.amazonaws.com"


def test_created_cluster_exact_resources(prod):
    counts = Counter(r.type for r in in_target(prod) if not r.type.startswith(("aws:ec2/", "aws:lb/", "container-cicd:network:")))
    assert counts == {
        "container-cicd:deploy:EksTarget": 1,
        "aws:kms/key:Key": 1,
        "eks:index:Cluster": 1,
        "pulumi:providers:kubernetes": 1,
        "kubernetes:core/v1:Namespace": 1,
        "kubernetes:apps/v1:Deployment": 1,
        "kubernetes:core/v1:Service": 1,
        "kubernetes:eks.amazonaws.com/v1:TargetGroupBinding": 1,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 2,  # pods-from-alb, api-from-deploy
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 2,  # alb-to-pods, deploy-https-out
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:iam/role:Role": 2,  # the deploy step's, the CloudWatch agent's
        "aws:iam/rolePolicy:RolePolicy": 1,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,
        "aws:eks/addon:Addon": 1,
        "aws:eks/accessEntry:AccessEntry": 1,
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 1,
        "aws:codebuild/project:Project": 1,
    }


def test_created_cluster_publishes_container_insights_for_the_saturation_alarms(prod):
    addon = prod.one("aws:eks/addon:Addon")
    role = prod.named("deploy-cloudwatch-agent-role")
    assert addon.inputs["addonName"] == "amazon-cloudwatch-observability"
    assert addon.inputs["clusterName"] == "container-cicd-prod-app-eks"
    assert addon.inputs["podIdentityAssociations"] == [{"roleArn": role.outputs["arn"], "serviceAccount": "cloudwatch-agent"}]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]
    [attachment] = prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    # The saturation alarms read the namespace the add-on publishes to.
    assert {m.namespace for m in eks_saturation_metrics("c", "ns", "svc")} == {"ContainerInsights"}


def test_existing_cluster_installs_no_addon(existing):
    assert existing.of_type("aws:eks/addon:Addon") == []


def test_created_cluster_inputs(prod):
    cluster = prod.one("eks:index:Cluster")
    key = prod.named("deploy-secrets-key")
    assert cluster.inputs == {
        "name": "container-cicd-prod-app-eks",
        "version": "1.35",
        "vpcId": "deploy-network-vpc-mock-id",
        "subnetIds": ["deploy-network-private-0-mock-id", "deploy-network-private-1-mock-id"],
        "nodeAssociatePublicIpAddress": False,
        "authenticationMode": "API",
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        "encryptionConfigKeyArn": key.outputs["arn"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
        "autoMode": {"enabled": True, "createNodeRole": True, "computeConfig": {"nodePools": ["general-purpose", "system"]}},
        "skipDefaultNodeGroup": True,
        "skipDefaultSecurityGroups": True,
        "createOidcProvider": False,
        "tags": {"project": "container-cicd", "stack": "prod", "service": "app", "managed-by": "pulumi"},
    }
    assert len(CONTROL_PLANE_LOG_TYPES) == 5
    assert key.inputs["enableKeyRotation"] is True


def test_public_endpoint_only_for_listed_cidrs(evaluate):
    cluster = evaluate("dev", deployTarget="eks", eksPublicAccessCidrs=["203.0.113.0/24"]).one("eks:index:Cluster")
    assert cluster.inputs["endpointPublicAccess"] is True
    assert cluster.inputs["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert cluster.inputs["endpointPrivateAccess"] is True


def test_eks_resources_never_stop_a_target_switch(prod, evaluate):
    """Nothing of the target is protected (a switch deletes it); its logs are kept in CloudWatch and
    its key's deletion can be cancelled for 30 days."""
    dev_eks = evaluate("dev", deployTarget="eks")
    for result in (prod, dev_eks):
        assert [r.name for r in in_target(result) if r.protect] == []
        assert result.named("deploy-deploy-logs").retain_on_delete is True
        assert result.named("deploy-secrets-key").inputs["deletionWindowInDays"] == 30


def test_existing_cluster_creates_only_access_namespace_and_workload(existing):
    types = {r.type for r in in_target(existing)}
    assert "eks:index:Cluster" not in types
    assert "aws:kms/key:Key" not in types
    assert {"aws:eks/accessEntry:AccessEntry", "kubernetes:core/v1:Namespace", "kubernetes:apps/v1:Deployment",
            "kubernetes:core/v1:Service", "kubernetes:eks.amazonaws.com/v1:TargetGroupBinding"} <= types
    assert ("aws:eks/getCluster:getCluster", {"name": "platform"}) in existing.invokes
    assert existing.one("aws:eks/accessEntry:AccessEntry").inputs["clusterName"] == "platform"
    kubeconfig = json.loads(existing.one("pulumi:providers:kubernetes").inputs["kubeconfig"])
    assert kubeconfig == manifests.kubeconfig(
        "platform", "https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com", "LS0tLS1CRUdJTi1NT0NL", "us-east-1"
    )
    # The existing VPC is used as it is: nothing of the network is created.
    assert not existing.of_type("aws:ec2/vpc:Vpc")


def test_kubernetes_resources_use_the_cluster_provider(prod):
    provider = prod.one("pulumi:providers:kubernetes")
    assert json.loads(provider.inputs["kubeconfig"])["current-context"] == "container-cicd-prod-app-eks"
    assert provider.inputs["enableServerSideApply"] == "true"
    assert provider.parent_urn == prod.one("container-cicd:deploy:EksTarget").ref


@pytest.mark.parametrize("kind", ["kubernetes:core/v1:Namespace", "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service"])
def test_registered_objects_validate_against_the_configured_version(prod, kind):
    resource = prod.one(kind)
    document = {k: v for k, v in resource.inputs.items() if k in ("apiVersion", "kind", "metadata", "spec")}
    document.setdefault("apiVersion", "apps/v1" if kind.endswith("Deployment") else "v1")
    document = json.loads(json.dumps(document), parse_float=lambda f: int(float(f)) if float(f).is_integer() else float(f))
    kubernetes_validate.validate(document, "1.35", strict=True)  # Pulumi.prod.yaml eksKubernetesVersion


def test_deployment_is_the_manifest_function_output(prod):
    deployment = prod.one("kubernetes:apps/v1:Deployment")
    assert deployment.inputs["metadata"] == {
        "name": "app", "namespace": PROD_NS, "labels": {"app.kubernetes.io/name": "app", "app.kubernetes.io/managed-by": "pulumi"},
    }
    spec = deployment.inputs["spec"]
    assert spec["replicas"] == 3  # Pulumi.prod.yaml desiredCount
    [container] = spec["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "1024Mi"}  # Pulumi.prod.yaml
    assert container["name"] == "app" and container["ports"][0]["containerPort"] == 8080
    assert container["readinessProbe"]["httpGet"]["path"] == "/ping"


def test_pulumi_up_does_not_revert_the_pipeline_image(prod):
    deployment = prod.one("kubernetes:apps/v1:Deployment")
    assert deployment.ignore_changes == ("spec.template.spec.containers[0].image",)
    # The ignored path is the image-bearing field of the registered object.
    value = deployment.inputs
    for part in IMAGE_PATH.replace("[0]", ".0").split("."):
        value = value[int(part)] if part.isdigit() else value[part]
    assert value == "public.ecr.aws/docker/library/traefik:v3.7"


def test_target_group_binding_points_at_the_alb_target_group(prod):
    binding = prod.one("kubernetes:eks.amazonaws.com/v1:TargetGroupBinding")
    assert binding.inputs["spec"] == {
        "serviceRef": {"name": "app", "port": 8080},
        "targetGroupARN": prod.one("aws:lb/targetGroup:TargetGroup").outputs["arn"],
        "targetType": "ip",
    }
    assert prod.one("aws:lb/targetGroup:TargetGroup").inputs["targetType"] == "ip"


def test_existing_cluster_with_the_controller_uses_its_api(evaluate):
    result = evaluate("dev", **EXISTING, eksLoadBalancing="aws-load-balancer-controller")
    assert result.one("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding").inputs["apiVersion"] == "elbv2.k8s.aws/v1beta1"


@pytest.mark.parametrize(("fixture", "node_sg"), [("prod", CREATED_CLUSTER_SG), ("existing", EXISTING_CLUSTER_SG)])
def test_alb_reaches_the_pods_on_the_container_port_only(request, fixture, node_sg):
    result = request.getfixturevalue(fixture)
    alb_sg = "deploy-lb-alb-sg-mock-id"  # offline/mocks.py ids: "<name>-mock-id"
    egress, ingress = result.named("deploy-alb-to-pods").inputs, result.named("deploy-pods-from-alb").inputs
    assert egress == {
        "securityGroupId": alb_sg, "referencedSecurityGroupId": node_sg, "ipProtocol": "tcp",
        "fromPort": 8080, "toPort": 8080, "description": "To the pods' container port",
    }
    assert ingress == {
        "securityGroupId": node_sg, "referencedSecurityGroupId": alb_sg, "ipProtocol": "tcp",
        "fromPort": 8080, "toPort": 8080, "description": "Container port from the load balancer",
    }
    api = result.named("deploy-api-from-deploy").inputs
    assert (api["securityGroupId"], api["referencedSecurityGroupId"], api["fromPort"], api["toPort"]) == (
        node_sg, "deploy-deploy-sg-mock-id", 443, 443,
    )


def test_deploy_identity_access_entry_is_namespace_scoped(prod):
    role_arn = prod.named("deploy-deploy-role").outputs["arn"]
    assert prod.one("aws:eks/accessEntry:AccessEntry").inputs == {
        "clusterName": "container-cicd-prod-app-eks",
        "principalArn": role_arn,
        "type": "STANDARD",
        "tags": {"project": "container-cicd", "stack": "prod", "service": "app", "managed-by": "pulumi"},
    }
    association = prod.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.inputs == {
        "clusterName": "container-cicd-prod-app-eks",
        "principalArn": role_arn,
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
        "accessScope": {"type": "namespace", "namespaces": [PROD_NS]},
    }
    assert prod.one("aws:eks/accessEntry:AccessEntry").ref in association.depends_on


def test_deploy_identity_iam_exactly(prod):
    trust = json.loads(prod.named("deploy-deploy-role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
    }]
    log_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/container-cicd-prod-app-deploy-20261127000000000000000001"
    alarm_names = prod.outputs["alarmNames"]
    artifacts = [s for s in policy(prod, "build-role-policy")["Statement"] if s["Sid"].startswith("Artifact")]
    ec2 = "arn:aws:ec2:us-east-1:123456789012"
    subnets = [f"{ec2}:subnet/deploy-network-private-0-mock-id", f"{ec2}:subnet/deploy-network-private-1-mock-id"]
    assert policy(prod, "deploy-deploy-role-policy")["Statement"] == [
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [log_arn, f"{log_arn}:*"]},
        {"Sid": "FindCluster", "Effect": "Allow", "Action": "eks:DescribeCluster",
         "Resource": "arn:aws:eks:us-east-1:123456789012:cluster/container-cicd-prod-app-eks"},
        {"Sid": "VpcLookup", "Effect": "Allow", "Action": [
            "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
            "ec2:DescribeVpcs"], "Resource": "*"},
        {"Sid": "VpcNetworkInterfaces", "Effect": "Allow", "Action": "ec2:CreateNetworkInterface", "Resource": [
            f"{ec2}:network-interface/*", *subnets, f"{ec2}:security-group/deploy-deploy-sg-mock-id"]},
        {"Sid": "VpcNetworkInterfaceCleanup", "Effect": "Allow", "Action": "ec2:DeleteNetworkInterface",
         "Resource": f"{ec2}:network-interface/*"},
        {"Sid": "VpcNetworkInterfacePermission", "Effect": "Allow", "Action": "ec2:CreateNetworkInterfacePermission",
         "Resource": "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
         "Condition": {"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}, "ArnEquals": {"ec2:Subnet": subnets}}},
        {"Sid": "WatchAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
         "Resource": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{n}" for n in alarm_names]},
        *artifacts,
    ]
    assert len(artifacts) == 3 and alarm_names


def test_iam_actions_exist_in_the_iam_database(prod):
    from policy_sentry.querying.actions import get_action_data

    for statement in policy(prod, "deploy-deploy-role-policy")["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            service, name = action.split(":")
            assert get_action_data(service, name), action


def test_pipeline_may_run_only_this_deploy_project(prod):
    project_arn = prod.named("deploy-deploy-project").outputs["arn"]
    statements = policy(prod, "pipeline-role-policy")["Statement"]
    assert [s for s in statements if s.get("Sid") == "RunDeploy"] == [{
        "Sid": "RunDeploy", "Effect": "Allow", "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"], "Resource": project_arn,
    }]


def test_deploy_stage_passes_the_built_image(prod):
    stages = prod.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    [action] = [a for s in stages if s["name"] == "Deploy" for a in s["actions"] if a["name"] == "DeployToEks"]
    assert action == {
        "name": "DeployToEks", "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1",
        "inputArtifacts": ["BuildOutput"],
        "configuration": {
            "ProjectName": "container-cicd-prod-app-deploy",
            "EnvironmentVariables": json.dumps([{"name": "IMAGE_URI", "value": "#{BuildVariables.IMAGE_URI}", "type": "PLAINTEXT"}]),
        },
    }


def test_deploy_project_runs_in_the_vpc_with_its_own_role_and_logs(prod):
    project = prod.named("deploy-deploy-project").inputs
    assert project["serviceRole"] == prod.named("deploy-deploy-role").outputs["arn"]
    assert project["vpcConfig"] == {
        "vpcId": "deploy-network-vpc-mock-id",
        "subnets": ["deploy-network-private-0-mock-id", "deploy-network-private-1-mock-id"],
        "securityGroupIds": ["deploy-deploy-sg-mock-id"],
    }
    assert project["logsConfig"]["cloudwatchLogs"] == {"status": "ENABLED", "groupName": "/aws/codebuild/container-cicd-prod-app-deploy-20261127000000000000000001"}
    assert prod.named("deploy-deploy-logs").inputs["retentionInDays"] == 90
    assert project["environment"]["privilegedMode"] is False
    assert project["encryptionKey"] == prod.named("artifacts-key").outputs["arn"]
    assert project["buildTimeout"] == 15 * 2 + 10


def test_deploy_buildspec_commands(prod):
    spec = yaml.safe_load(prod.named("deploy-deploy-project").inputs["source"]["buildspec"])
    assert spec["env"]["variables"] == {"CLUSTER_NAME": "container-cicd-prod-app-eks", "KUBERNETES_VERSION": "1.35"}
    assert spec["phases"]["pre_build"]["commands"] == ['aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION"']
    assert any("sha256sum --check" in c for c in spec["phases"]["install"]["commands"])
    [script] = spec["phases"]["build"]["commands"]
    target = f"deployment/app --namespace {PROD_NS}"
    lines = script.splitlines()
    assert f'kubectl set image {target} app="$IMAGE_URI" || exit 1' in lines
    assert f"kubectl rollout status {target} --timeout=15m &" in lines
    assert f"  kubectl rollout undo {target}" in lines
    names = " ".join(prod.outputs["alarmNames"])
    assert any(line.startswith(f"  FIRING=$(aws cloudwatch describe-alarms --alarm-names {names} --state-value ALARM") for line in lines)


def test_deploy_buildspec_without_alarms_has_no_alarm_watch():
    spec = eks_deploy.deploy_buildspec(
        cluster_name="c", namespace="ns", deployment="app", container_name="app", kubernetes_version="1.35",
        kubectl_arch="arm64", timeout_minutes=7, alarm_names=(),
    )
    [script] = spec["phases"]["build"]["commands"]
    assert "describe-alarms" not in script
    assert "--timeout=7m" in script
    assert "/bin/linux/arm64/kubectl" in spec["phases"]["install"]["commands"][1]


def test_switching_target_keeps_every_urn_outside_the_deploy_target(dev, evaluate):
    """Source, registry, build, pipeline (and everything else outside the target) keep their URNs."""

    def outside(result):
        return {r.urn for r in result.resources if "container-cicd:deploy:" not in r.urn}

    on_eks = evaluate("dev", deployTarget="eks")
    assert outside(dev) == outside(on_eks)
    kinds = {urn.split("::")[2].split("$")[0] for urn in outside(dev)}
    assert {"container-cicd:pipeline:Source", "container-cicd:registry:Registry", "container-cicd:build:Build",
            "container-cicd:pipeline:Pipeline"} <= kinds
