"""The EKS target as the program registers it: an Auto Mode cluster of plain AWS resources, its wiring
to the ALB, the deploy identity, the in-VPC deploy step that applies the workload, and the trigger that
applies config changes. Pulumi registers no Kubernetes object and no Kubernetes provider."""

from __future__ import annotations

import json
from collections import Counter

import kubernetes_validate
import pytest
import yaml

from components.deploy.eks import deploy_step as eks_deploy
from components.deploy.eks.cluster import CONTROL_PLANE_LOG_TYPES, created_cluster_name
from components.deploy.eks.insights import eks_saturation_metrics
from components.deploy.eks.manifests import IMAGE_PLACEHOLDER
from components.settings import CpuArchitecture
from components.supply import notation
from components.supply.signing import signing_jobs_arn
from tests.aws_models import assert_valid

EXISTING = {
    "deployTarget": "eks",
    "eksClusterName": "platform",
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "privateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}
EXISTING_CLUSTER_SG = "sg-0e0e0e0e0e0e0e0e0"  # offline/mocks.py getCluster
CREATED_CLUSTER_SG = "sg-0c0c0c0c0c0c0c0c0"  # offline/mocks.py aws:eks/cluster:Cluster
PROD_NS = "container-cicd-prod-app"
PROD_CLUSTER = created_cluster_name("container-cicd-prod-app", "created:10.0.0.0/16")
TAGS = {"project": "container-cicd", "stack": "prod", "service": "app", "managed-by": "pulumi"}


@pytest.fixture(scope="module")
def existing(evaluate):
    return evaluate("dev", **EXISTING)


def in_target(result):
    return [r for r in result.resources if "container-cicd:deploy:EksTarget" in r.urn]


def policy(result, name):
    return json.loads(result.named(name).inputs["policy"])


def buildspec(result) -> dict:
    return yaml.safe_load(result.named("deploy-deploy-project").inputs["source"]["buildspec"])


def applied_manifests(result) -> list[dict]:
    return json.loads(buildspec(result)["env"]["variables"]["MANIFESTS"])["items"]


def test_prod_runs_on_eks_and_dev_on_ecs(dev, prod):
    assert [r.type for r in prod.resources if r.type.startswith("container-cicd:deploy:")] == ["container-cicd:deploy:EksTarget"]
    assert [r.type for r in dev.resources if r.type.startswith("container-cicd:deploy:")] == ["container-cicd:deploy:EcsTarget"]
    assert prod.outputs["serviceUrl"] == "http://container-cicd-prod-app-alb-1234567890.us-east-1.elb.amazonaws.com"


@pytest.mark.parametrize("fixture", ["prod", "existing"])
def test_pulumi_never_talks_to_the_kubernetes_api(request, fixture):
    """No provider, no Kubernetes object, no pulumi-eks component: `pulumi up` needs AWS credentials only."""
    result = request.getfixturevalue(fixture)
    assert [r.type for r in result.resources if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes", "eks:"))] == []


def test_created_cluster_exact_resources(prod):
    counts = Counter(r.type for r in in_target(prod) if not r.type.startswith(("aws:ec2/", "aws:lb/", "container-cicd:network:")))
    assert counts == {
        "container-cicd:deploy:EksTarget": 1,
        "aws:kms/key:Key": 1,
        "aws:eks/cluster:Cluster": 1,
        "aws:iam/role:Role": 5,  # cluster, node, CloudWatch agent, deploy step, EventBridge
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 8,  # 5 cluster, 2 node, 1 agent
        "aws:iam/rolePolicy:RolePolicy": 2,  # deploy step, EventBridge
        "aws:eks/addon:Addon": 1,
        "aws:eks/accessEntry:AccessEntry": 1,
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 1,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 2,  # pods-from-alb, api-from-deploy
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 2,  # alb-to-pods, deploy-https-out
        "aws:cloudwatch/logGroup:LogGroup": 2,  # the control plane's, the deploy step's
        "aws:codebuild/project:Project": 1,
        "aws:cloudwatch/eventRule:EventRule": 1,
        "aws:cloudwatch/eventTarget:EventTarget": 1,
        "aws:ssm/parameter:Parameter": 1,
    }


def test_created_cluster_is_auto_mode_with_the_documented_arguments(prod):
    cluster = prod.one("aws:eks/cluster:Cluster")
    key, role, node_role = prod.named("deploy-secrets-key"), prod.named("deploy-cluster-role"), prod.named("deploy-node-role")
    assert cluster.inputs == {
        "name": PROD_CLUSTER,
        "version": "1.35",
        "roleArn": role.outputs["arn"],
        "vpcConfig": {
            "subnetIds": ["deploy-network-private-0-mock-id", "deploy-network-private-1-mock-id"],
            "endpointPrivateAccess": True,
            "endpointPublicAccess": False,
        },
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        "bootstrapSelfManagedAddons": False,
        "computeConfig": {"enabled": True, "nodePools": ["general-purpose", "system"], "nodeRoleArn": node_role.outputs["arn"]},
        "kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": True}},
        "storageConfig": {"blockStorage": {"enabled": True}},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": key.outputs["arn"]}},
        "enabledClusterLogTypes": list(CONTROL_PLANE_LOG_TYPES),
        "upgradePolicy": {"supportType": "STANDARD"},
        "tags": TAGS,
    }
    assert len(CONTROL_PLANE_LOG_TYPES) == 5
    assert key.inputs["enableKeyRotation"] is True


def test_control_plane_logs_go_to_a_group_the_stack_creates_first(prod, evaluate):
    """EKS writes to `/aws/eks/<cluster>/cluster` and creates it itself when missing (no retention, no CMK,
    never deleted): the stack creates it, with its retention and logs key, before the cluster."""
    for result, retention, kept in ((prod, 90, True), (evaluate("dev", deployTarget="eks"), 14, False)):
        cluster = result.one("aws:eks/cluster:Cluster")
        group = result.named("deploy-control-plane-logs")
        assert group.inputs == {
            "name": f"/aws/eks/{cluster.inputs['name']}/cluster",
            "retentionInDays": retention,
            "kmsKeyId": result.named("logs-key").outputs["arn"],
            "tags": group.inputs["tags"],
        }
        assert group.inputs["tags"] == cluster.inputs["tags"]
        assert group.ref in cluster.depends_on
        assert group.parent_urn == result.one("container-cicd:deploy:EksTarget").ref
        # Kept in production (audit evidence), deleted with the cluster elsewhere; never protected (a switch deletes it).
        assert (group.retain_on_delete, group.protect) == (kept, False)


def test_the_logs_key_lets_cloudwatch_logs_encrypt_the_control_plane_group(prod):
    """CloudWatch Logs encrypts the group's events with the stack's key, passing the group's ARN as encryption
    context; the key policy must allow exactly that for this group (and AssociateKmsKey's DescribeKey)."""
    from tests import iam_eval

    group = prod.named("deploy-control-plane-logs")
    policy = json.loads(prod.named("logs-key").inputs["policy"])
    logs = [{k: v for k, v in s.items() if k != "Principal"} for s in policy["Statement"] if s["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}]
    key = prod.named("logs-key").outputs["arn"]
    assert group.outputs["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/{PROD_CLUSTER}/cluster"
    for action in ("kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:DescribeKey"):
        assert iam_eval.allowed(logs, action, key, {"kms:EncryptionContext:aws:logs:arn": group.outputs["arn"]}), action
    # Another account's group is not this key's business.
    assert not iam_eval.allowed(logs, "kms:GenerateDataKey", key, {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:210987654321:log-group:/aws/eks/x/cluster"})


def test_an_existing_cluster_gets_no_control_plane_log_group(existing):
    """Its logging (and its log group) belongs to the cluster's owners."""
    assert [g.name for g in existing.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs.get("name", "").startswith("/aws/eks/")] == []
    assert "deploy-control-plane-logs" not in {r.name for r in existing.resources}


def test_cluster_and_node_roles(prod):
    cluster = prod.one("aws:eks/cluster:Cluster")
    role, node_role = prod.named("deploy-cluster-role"), prod.named("deploy-node-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
    ]
    assert json.loads(node_role.inputs["assumeRolePolicy"])["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attached = {}
    for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        attached.setdefault(a.inputs["role"], []).append(a.inputs["policyArn"].rsplit("/", 1)[1])
        if a.parent_urn in (role.ref, node_role.ref):
            # EKS must not lose the role's rights before the cluster is gone (pulumi_aws eks.Cluster role_arn docs).
            assert a.ref in cluster.depends_on
    # Registration order follows the mocks' asynchronous answers: compare as sets (and no duplicates).
    assert sorted(attached[role.outputs["name"]]) == sorted(
        {"AmazonEKSClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy"}
    )
    assert sorted(attached[node_role.outputs["name"]]) == ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodeMinimalPolicy"]
    # EKS creates the node role's access entry itself; a second one would fail (research.md Q4).
    assert [e.name for e in prod.of_type("aws:eks/accessEntry:AccessEntry")] == ["deploy-deploy-access"]


def test_everything_that_names_the_cluster_waits_for_it(prod):
    cluster = prod.one("aws:eks/cluster:Cluster")
    for type_ in ("aws:eks/addon:Addon", "aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        resource = prod.one(type_)
        assert resource.inputs["clusterName"] == PROD_CLUSTER
        assert cluster.ref in resource.depends_on, type_
    # The deploy project's buildspec and the role's FindCluster statement name it too.
    assert cluster.ref in prod.named("deploy-deploy-project").depends_on
    assert cluster.ref in prod.named("deploy-deploy-role-policy").depends_on


def test_cluster_name_never_collides_and_tags_the_target_group(prod, evaluate):
    """A replacement (another VPC) is created under another name before the original goes; the old
    pulumi-eks cluster's name (`<prefix>-eks`) is never reused; the target group carries the name."""
    other_vpc = evaluate("prod", vpcId=EXISTING["vpcId"], publicSubnetIds=EXISTING["publicSubnetIds"], privateSubnetIds=EXISTING["privateSubnetIds"], natGateways=None)
    names = {prod.one("aws:eks/cluster:Cluster").inputs["name"], other_vpc.one("aws:eks/cluster:Cluster").inputs["name"]}
    assert len(names) == 2 and "container-cicd-prod-app-eks" not in names
    assert all(len(n) <= 100 for n in names)
    for result in (prod, other_vpc):
        tags = result.one("aws:lb/targetGroup:TargetGroup").inputs["tags"]
        assert tags["eks:eks-cluster-name"] == result.one("aws:eks/cluster:Cluster").inputs["name"]


def test_public_endpoint_only_for_listed_cidrs(evaluate):
    cluster = evaluate("dev", deployTarget="eks", eksPublicAccessCidrs=["203.0.113.0/24"]).one("aws:eks/cluster:Cluster")
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster.inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert cluster.inputs["vpcConfig"]["endpointPrivateAccess"] is True


def test_created_cluster_publishes_container_insights_for_the_saturation_alarms(prod):
    addon = prod.one("aws:eks/addon:Addon")
    role = prod.named("deploy-cloudwatch-agent-role")
    assert addon.inputs["addonName"] == "amazon-cloudwatch-observability"
    assert addon.inputs["podIdentityAssociations"] == [{"roleArn": role.outputs["arn"], "serviceAccount": "cloudwatch-agent"}]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]
    [attachment] = [a for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a.parent_urn == role.ref]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    assert {m.namespace for m in eks_saturation_metrics("c", "ns", "svc")} == {"ContainerInsights"}


def test_eks_resources_never_stop_a_target_switch(prod, evaluate):
    """Nothing of the target is protected (a switch deletes it); its logs are kept in CloudWatch and
    its key's deletion can be cancelled for 30 days."""
    for result in (prod, evaluate("dev", deployTarget="eks")):
        assert [r.name for r in in_target(result) if r.protect] == []
        assert result.named("deploy-deploy-logs").retain_on_delete is True
        assert result.named("deploy-secrets-key").inputs["deletionWindowInDays"] == 30


def test_existing_cluster_creates_only_the_access_and_the_step(existing):
    types = {r.type for r in in_target(existing)}
    assert not types & {"aws:eks/cluster:Cluster", "aws:kms/key:Key", "aws:eks/addon:Addon"}
    assert ("aws:eks/getCluster:getCluster", {"name": "platform"}) in existing.invokes
    assert existing.one("aws:eks/accessEntry:AccessEntry").inputs["clusterName"] == "platform"
    association = existing.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert (association["policyArn"], association["accessScope"]) == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
        {"type": "namespace", "namespaces": ["container-cicd-dev-app"]},
    )
    # The cluster's administrators own namespaces: the step checks for it and does not apply one.
    assert [i["kind"] for i in applied_manifests(existing)] == ["Deployment", "Service", "TargetGroupBinding"]
    assert "kubectl get namespace container-cicd-dev-app" in buildspec(existing)["phases"]["build"]["commands"][0]
    assert not existing.of_type("aws:ec2/vpc:Vpc")
    assert existing.one("aws:lb/targetGroup:TargetGroup").inputs["tags"]["eks:eks-cluster-name"] == "platform"


@pytest.mark.parametrize(("load_balancing", "group"), [("aws-load-balancer-controller", "elbv2.k8s.aws"), ("auto-mode", "eks.amazonaws.com")])
def test_existing_cluster_administrators_get_the_namespace_and_the_binding_role_to_apply(evaluate, load_balancing, group):
    """No EKS access policy but ClusterAdmin names the TargetGroupBinding custom resource: the deploy identity's
    access entry carries a Kubernetes group, and the stack output clusterAdministratorManifests binds a Role for
    that kind (the verbs of server-side apply) to it, beside the namespace the administrators create anyway."""
    result = evaluate("dev", **EXISTING, eksLoadBalancing=load_balancing)
    assert result.one("aws:eks/accessEntry:AccessEntry").inputs["kubernetesGroups"] == ["container-cicd-dev-app-deployers"]
    items = yaml.safe_load(result.outputs["clusterAdministratorManifests"])["items"]
    assert [i["kind"] for i in items] == ["Namespace", "Role", "RoleBinding"]
    namespace, role, binding = items
    assert namespace["metadata"]["name"] == role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "container-cicd-dev-app"
    assert role["rules"] == [{"apiGroups": [group], "resources": ["targetgroupbindings"], "verbs": ["get", "create", "patch"]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "container-cicd-dev-app-deployers"}]
    for item in items:
        kubernetes_validate.validate(item, "1.35", strict=True)
    assert f"kubectl auth can-i create targetgroupbindings.{group} --namespace container-cicd-dev-app" in buildspec(result)["phases"]["build"]["commands"][0]


def test_a_created_cluster_needs_no_administrator_and_has_no_such_output(prod):
    assert "clusterAdministratorManifests" not in prod.outputs
    assert "kubernetesGroups" not in prod.one("aws:eks/accessEntry:AccessEntry").inputs
    assert "auth can-i" not in buildspec(prod)["phases"]["build"]["commands"][0]


def test_created_cluster_deploy_identity_is_cluster_admin_of_the_stacks_own_cluster(prod):
    role_arn = prod.named("deploy-deploy-role").outputs["arn"]
    assert prod.one("aws:eks/accessEntry:AccessEntry").inputs == {
        "clusterName": PROD_CLUSTER,
        "principalArn": role_arn,
        "type": "STANDARD",
        "tags": TAGS,
    }
    association = prod.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.inputs == {
        "clusterName": PROD_CLUSTER,
        "principalArn": role_arn,
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        "accessScope": {"type": "cluster"},
    }
    assert prod.one("aws:eks/accessEntry:AccessEntry").ref in association.depends_on


@pytest.mark.parametrize(("fixture", "node_sg"), [("prod", CREATED_CLUSTER_SG), ("existing", EXISTING_CLUSTER_SG)])
def test_alb_reaches_the_pods_on_the_container_port_only(request, fixture, node_sg):
    result = request.getfixturevalue(fixture)
    alb_sg = "deploy-lb-alb-sg-mock-id"  # offline/mocks.py ids: "<name>-mock-id"
    egress, ingress = result.named("deploy-alb-to-pods").inputs, result.named("deploy-pods-from-alb").inputs
    assert egress == {
        "securityGroupId": alb_sg,
        "referencedSecurityGroupId": node_sg,
        "ipProtocol": "tcp",
        "fromPort": 8080,
        "toPort": 8080,
        "description": "To the pods' container port",
    }
    assert ingress == {
        "securityGroupId": node_sg,
        "referencedSecurityGroupId": alb_sg,
        "ipProtocol": "tcp",
        "fromPort": 8080,
        "toPort": 8080,
        "description": "Container port from the load balancer",
    }
    api = result.named("deploy-api-from-deploy").inputs
    assert (api["securityGroupId"], api["referencedSecurityGroupId"], api["fromPort"], api["toPort"]) == (
        node_sg,
        "deploy-deploy-sg-mock-id",
        443,
        443,
    )


def test_deploy_identity_iam_exactly(prod, dev):
    signer = dev.outputs["promotion"]["signingProfileArn"]
    trust = json.loads(prod.named("deploy-deploy-role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    ]
    log_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/container-cicd-prod-app-deploy-20261127000000000000000001"
    alarm_names = prod.outputs["alarmNames"]
    artifacts = [s for s in policy(prod, "promotion-check-step-role-policy")["Statement"] if s["Sid"].startswith("Artifact")]
    ec2 = "arn:aws:ec2:us-east-1:123456789012"
    subnets = [f"{ec2}:subnet/deploy-network-private-0-mock-id", f"{ec2}:subnet/deploy-network-private-1-mock-id"]
    assert policy(prod, "deploy-deploy-role-policy")["Statement"] == [
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [log_arn, f"{log_arn}:*"]},
        {"Sid": "FindCluster", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": f"arn:aws:eks:us-east-1:123456789012:cluster/{PROD_CLUSTER}"},
        {
            "Sid": "VpcLookup",
            "Effect": "Allow",
            "Action": ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
            "Resource": "*",
        },
        {
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": [f"{ec2}:network-interface/*", *subnets, f"{ec2}:security-group/deploy-deploy-sg-mock-id"],
        },
        {"Sid": "VpcNetworkInterfaceCleanup", "Effect": "Allow", "Action": "ec2:DeleteNetworkInterface", "Resource": f"{ec2}:network-interface/*"},
        {
            "Sid": "VpcNetworkInterfacePermission",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterfacePermission",
            "Resource": f"{ec2}:network-interface/*",
            "Condition": {"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}, "ArnEquals": {"ec2:Subnet": subnets}},
        },
        {"Sid": "WatchAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{n}" for n in alarm_names]},
        {"Sid": "RecordDeployedImage", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": prod.named("image-record-parameter").outputs["arn"]},
        {
            "Sid": "TagDeployedImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"],
            # prod promotes from dev: the image it records is in dev's repository (the same account).
            "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/container-cicd-dev-app",
        },
        {"Sid": "ReadKnownGoodImage", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": prod.named("image-record-known-good").outputs["arn"]},
        {
            "Sid": "DeploymentMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "ContainerCicd/Deployments"}},
        },
        # The image's signature, before anything is applied: by the upstream's profile (prod promotes from dev).
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "ReadSignatures",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/container-cicd-dev-app",
        },
        {"Sid": "SignatureRevocation", "Effect": "Allow", "Action": "signer:GetRevocationStatus", "Resource": [signer, signing_jobs_arn(signer)]},
        *artifacts,
    ]
    assert len(artifacts) == 3 and alarm_names


def test_iam_actions_exist_in_the_iam_database(prod):
    from policy_sentry.querying.actions import get_action_data

    for name in ("deploy-deploy-role-policy", "deploy-spec-changed-role-policy"):
        for statement in policy(prod, name)["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                service, op = action.split(":")
                assert get_action_data(service, op), action


def test_pipeline_may_run_only_this_deploy_project(prod):
    project_arn = prod.named("deploy-deploy-project").outputs["arn"]
    statements = policy(prod, "pipeline-role-policy")["Statement"]
    assert [s for s in statements if s.get("Sid") == "RunDeploy"] == [
        {
            "Sid": "RunDeploy",
            "Effect": "Allow",
            "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
            "Resource": project_arn,
        }
    ]


def test_deploy_stage_passes_the_built_image(prod):
    stages = prod.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    [action] = [a for s in stages if s["name"] == "Deploy" for a in s["actions"] if a["name"] == "DeployToEks"]
    assert action == {
        "name": "DeployToEks",
        "category": "Build",
        "owner": "AWS",
        "provider": "CodeBuild",
        "version": "1",
        "runOrder": 1,
        "inputArtifacts": ["BuildOutput"],
        "configuration": {
            "ProjectName": "container-cicd-prod-app-deploy",
            "EnvironmentVariables": json.dumps(
                [
                    {"name": "IMAGE_URI", "value": "#{BuildVariables.IMAGE_URI}", "type": "PLAINTEXT"},
                    {"name": "COMMIT_ID", "value": "#{BuildVariables.COMMIT_ID}", "type": "PLAINTEXT"},
                    # The Check step's SBOM and verdict, for the deployment record.
                    {"name": "SBOM_URI", "value": "#{BuildVariables.SBOM_URI}", "type": "PLAINTEXT"},
                    {"name": "SCAN_VERDICT", "value": "#{BuildVariables.SCAN_VERDICT}", "type": "PLAINTEXT"},
                ]
            ),
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
    # Two rollout deadlines (deploy, restore) and 20 minutes for the step's other calls (tests/test_time_budgets.py).
    # Twice the rollout deadline, the step's calls, and the signature check (the verifier's install at its slowest).
    assert project["buildTimeout"] == 15 * 2 + 20 + eks_deploy.verify_minutes(CpuArchitecture.X86_64)


def test_deploy_buildspec(prod):
    spec = buildspec(prod)
    variables = spec["env"]["variables"]
    assert variables["CLUSTER_NAME"] == PROD_CLUSTER
    # The image's kubectl, checked against the cluster's version; the only download is the signature verifier's
    # install (Notation and its AWS Signer plugin, each checked before it runs: components/supply/notation.py).
    assert spec["phases"]["pre_build"]["commands"] == ['aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION"', *eks_deploy.kubectl_skew_commands()]
    assert spec["phases"]["install"]["commands"] == notation.install_commands(CpuArchitecture.X86_64)
    assert "curl" not in json.dumps({k: v for k, v in spec["phases"].items() if k != "install"})
    [script] = spec["phases"]["build"]["commands"]
    assert "kubectl rollout undo" not in script
    assert "aws ssm get-parameter --name /container-cicd/prod/app/deployed-image" in script
    names = " ".join(prod.outputs["alarmNames"])
    assert f"aws cloudwatch describe-alarms --alarm-names {names} --state-value ALARM" in script


# The longest names the settings allow: the prefix `<project>-<stack>` has at most 40 characters, serviceName 20,
# an existing cluster's name 100. Names are what varies between stacks' buildspecs (the prefix appears in the
# program, the manifests and every alarm name); everything else is the fixed program.
LONGEST = {"stack": "s" * (40 - len("container-cicd-")), "serviceName": "n" * 20, "eksClusterName": "c" * 100}


@pytest.mark.parametrize("variant", ["created", "existing"])
def test_buildspec_of_the_longest_names_fits_codebuild_inline_limit(variant):
    from offline.mocks import evaluate, upstream_outputs
    from offline.stackfile import stack_config

    if variant == "created":
        config = stack_config("prod", {"serviceName": LONGEST["serviceName"]})
        result = evaluate(LONGEST["stack"], config, stack_outputs={"organization/container-cicd/dev": upstream_outputs("dev")})
    else:
        config = stack_config("dev", {**EXISTING, "serviceName": LONGEST["serviceName"], "eksClusterName": LONGEST["eksClusterName"]})
        result = evaluate(LONGEST["stack"], config)
    assert result.named("deploy-deploy-project").inputs["name"].startswith(f"container-cicd-{LONGEST['stack']}-{LONGEST['serviceName']}")
    assert len(result.named("deploy-deploy-project").inputs["source"]["buildspec"]) < eks_deploy.MAX_BUILDSPEC_CHARS


def test_applied_manifests_validate_against_the_configured_version(prod):
    items = applied_manifests(prod)
    assert [i["kind"] for i in items] == ["Namespace", "Deployment", "Service", "TargetGroupBinding"]
    for document in items[:3]:
        kubernetes_validate.validate(document, "1.35", strict=True)  # Pulumi.prod.yaml eksKubernetesVersion
    assert items[3] == {
        "apiVersion": "eks.amazonaws.com/v1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "app", "namespace": PROD_NS, "labels": {"app.kubernetes.io/name": "app", "app.kubernetes.io/managed-by": "pulumi"}},
        "spec": {"serviceRef": {"name": "app", "port": 8080}, "targetGroupARN": prod.one("aws:lb/targetGroup:TargetGroup").outputs["arn"], "targetType": "ip"},
    }
    assert items[0]["metadata"]["labels"]["eks.amazonaws.com/pod-readiness-gate-inject"] == "enabled"
    deployment = items[1]["spec"]
    assert deployment["replicas"] == 3  # Pulumi.prod.yaml desiredCount
    assert deployment["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    [container] = deployment["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "1024Mi"}
    assert container["image"] == IMAGE_PLACEHOLDER  # the step always sets it


def test_existing_cluster_with_the_controller_uses_its_api_and_label(evaluate):
    items = applied_manifests(evaluate("dev", **EXISTING, eksLoadBalancing="aws-load-balancer-controller"))
    assert items[-1]["apiVersion"] == "elbv2.k8s.aws/v1beta1"


def test_arm64_on_an_existing_cluster_pins_arm64_nodes(evaluate):
    result = evaluate("dev", **EXISTING, cpuArchitecture="arm64")
    assert applied_manifests(result)[0]["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    # The cluster's owners provide the nodes: nothing cluster-scoped is applied there.
    assert "NodePool" not in [item["kind"] for item in applied_manifests(result)]


def test_arm64_on_a_created_auto_mode_cluster_applies_a_node_pool_its_pods_select(evaluate):
    result = evaluate("dev", deployTarget="eks", cpuArchitecture="arm64")
    items = applied_manifests(result)
    assert [item["kind"] for item in items] == ["Namespace", "NodePool", "Deployment", "Service", "TargetGroupBinding"]
    pool, deployment = items[1], items[2]
    assert pool["metadata"]["name"] == items[0]["metadata"]["name"] == "container-cicd-dev-app"
    assert pool["spec"]["template"]["spec"]["requirements"][0] == {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    # The image is built on ARM, and the deploy step runs there too.
    images = {p.inputs["name"]: p.inputs["environment"]["image"] for p in result.of_type("aws:codebuild/project:Project")}
    assert set(images.values()) == {"aws/codebuild/amazonlinux-aarch64-standard:3.0"}
    # The deploy identity may create the cluster-scoped pool: cluster admin of the cluster the stack owns.
    assert result.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs["accessScope"] == {"type": "cluster"}


# ---- config changes reach the cluster: the spec parameter, the rule, the target ----


def test_spec_parameter_holds_the_manifests_digest_and_is_written_last(prod):
    parameter = prod.named("deploy-spec")
    manifests_json = buildspec(prod)["env"]["variables"]["MANIFESTS"]
    assert parameter.inputs["name"] == "/container-cicd/prod/app/eks-workload-spec"
    assert parameter.inputs["insecureValue"] == eks_deploy.spec_digest(json.loads(manifests_json))
    for name in ("deploy-deploy-project", "deploy-spec-changed-target", "deploy-deploy-access-policy"):
        assert prod.named(name).ref in parameter.depends_on, name
    assert prod.one("aws:eks/cluster:Cluster").ref in parameter.depends_on


def _matches(pattern: dict, event: dict) -> bool:
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def _ssm_event(name: str, operation: str) -> dict:
    # The AWS example event (research.md Q8): no value, the name with its leading slash for a path.
    return {
        "version": "0",
        "id": "6a7e4feb-b491-4cf7-a9f1-bf3703497718",
        "detail-type": "Parameter Store Change",
        "source": "aws.ssm",
        "account": "123456789012",
        "time": "2026-11-27T16:43:48Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:ssm:us-east-1:123456789012:parameter{name}"],
        "detail": {"operation": operation, "name": name, "type": "String"},
    }


def test_rule_starts_the_deploy_project_on_a_spec_change_only(prod):
    rule = prod.named("deploy-spec-changed")
    pattern = json.loads(rule.inputs["eventPattern"])
    name = "/container-cicd/prod/app/eks-workload-spec"
    assert _matches(pattern, _ssm_event(name, "Create")) and _matches(pattern, _ssm_event(name, "Update"))
    assert not _matches(pattern, _ssm_event(name, "Delete"))
    # The image record changes on every deployment: it must not start an apply.
    assert not _matches(pattern, _ssm_event("/container-cicd/prod/app/deployed-image", "Update"))
    target = prod.named("deploy-spec-changed-target").inputs
    assert target["arn"] == prod.named("deploy-deploy-project").outputs["arn"]
    assert target["roleArn"] == prod.named("deploy-spec-changed-role").outputs["arn"]
    start = json.loads(target["input"])
    assert "environmentVariablesOverride" not in start  # no IMAGE_URI: the recorded image is applied
    assert_valid("codebuild", "StartBuild", {"projectName": "container-cicd-prod-app-deploy", **start})
    assert policy(prod, "deploy-spec-changed-role-policy")["Statement"] == [{"Sid": "StartDeploy", "Effect": "Allow", "Action": "codebuild:StartBuild", "Resource": target["arn"]}]
    assert json.loads(prod.named("deploy-spec-changed-role").inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}


def test_switching_target_keeps_every_urn_outside_the_deploy_target(dev, evaluate):
    """Source, registry, build, pipeline (and everything else outside the target) keep their URNs. The
    target's own contributions come and go with it: ECS's deployment-failed notification rule, and the
    target group named for the target (each target has its own)."""

    def outside(result):
        own = ("::notifications-deployment-failed", "::deploy-lb-tg-ecs", "::deploy-lb-tg-eks")
        return {r.urn for r in result.resources if "container-cicd:deploy:" not in r.urn and "::notifications-deployment-failed" not in r.urn and not r.urn.endswith(own)}

    on_eks = evaluate("dev", deployTarget="eks")
    assert outside(dev) == outside(on_eks)
    kinds = {urn.split("::")[2].split("$")[0] for urn in outside(dev)}
    assert {"container-cicd:pipeline:Source", "container-cicd:registry:Registry", "container-cicd:build:Build", "container-cicd:pipeline:Pipeline"} <= kinds


def test_offline_plan_says_what_pulumi_up_needs(prod, existing, dev):
    from offline.plan import deploy_time_section

    needs = "\n".join(deploy_time_section(prod))
    assert "no AWS CLI, no kubectl and no network route to the cluster" in needs
    assert "aws codebuild list-builds-for-project --project-name container-cicd-prod-app-deploy" in needs
    assert "administrators create the workload's namespace" in "\n".join(deploy_time_section(existing))
    assert "EKS" not in "\n".join(deploy_time_section(dev))
