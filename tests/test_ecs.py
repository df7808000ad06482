"""ECS Fargate target: network, load balancer, cluster, task definition, service (dev or prod forced to ecs)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from components.settings import DEFAULT_BOOTSTRAP_IMAGE
from tests.aws_models import assert_valid, validate

ROOT = Path(__file__).resolve().parent.parent
NETWORK = "container-cicd:network:Network"
LB = "container-cicd:network:LoadBalancer"
EXISTING_VPC = {
    "vpcId": "vpc-0123456789abcdef0",
    "publicSubnetIds": ["subnet-00000000000000001", "subnet-00000000000000002"],
    "privateSubnetIds": ["subnet-00000000000000003", "subnet-00000000000000004"],
}
# A custom image that answers its own health path, on another port and task size.
BOOTSTRAP = {"bootstrapImage": "public.ecr.aws/my/hello:1.0", "healthCheckPath": "/healthz", "containerPort": 9000, "ecsCpu": 1024, "ecsMemory": 4096}


@pytest.fixture(scope="module")
def existing_vpc(evaluate):
    return evaluate("dev", **EXISTING_VPC)


def within(result, component: str) -> list:
    return [r for r in result.resources if r.custom and f"{component}$" in r.urn]


def task_definition(result) -> dict:
    return result.one("aws:ecs/taskDefinition:TaskDefinition").inputs


def containers(result) -> list[dict]:
    return json.loads(task_definition(result)["containerDefinitions"])


# ------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "nat_count"), [("dev", 1), ("prod", 2)])
def test_new_vpc_two_public_two_private_subnets_in_two_azs(dev, prod_ecs, stack, nat_count):
    result = {"dev": dev, "prod": prod_ecs}[stack]
    resources = within(result, NETWORK)
    counts: dict[str, int] = {}
    for r in resources:
        counts[r.type] = counts.get(r.type, 0) + 1
    assert counts == {
        "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
        "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/subnet:Subnet": 4,
        "aws:ec2/routeTable:RouteTable": 3,
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 4,
        "aws:ec2/eip:Eip": nat_count,
        "aws:ec2/natGateway:NatGateway": nat_count,
        "aws:ec2/flowLog:FlowLog": 1,
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:iam/role:Role": 1,
        "aws:iam/rolePolicy:RolePolicy": 1,
    }
    vpc = result.named("deploy-network-vpc").inputs
    assert vpc["cidrBlock"] == "10.0.0.0/16" and vpc["enableDnsHostnames"] is True
    subnets = [r for r in resources if r.type == "aws:ec2/subnet:Subnet"]
    public = [s.inputs for s in subnets if "public" in s.name]
    private = [s.inputs for s in subnets if "private" in s.name]
    assert len(public) == len(private) == 2
    for group in (public, private):
        assert len({s["availabilityZone"] for s in group}) == 2
    assert all(s["mapPublicIpOnLaunch"] is False for s in public + private)
    networks = [ipaddress.ip_network(s["cidrBlock"]) for s in public + private]
    assert all(n.subnet_of(ipaddress.ip_network("10.0.0.0/16")) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    # Private subnets route to the internet through NAT, public ones through the internet gateway.
    for i in range(2):
        [route] = result.named(f"deploy-network-private-{i}-rt").inputs["routes"]
        assert route["cidrBlock"] == "0.0.0.0/0" and "natGatewayId" in route and "gatewayId" not in route
    [route] = result.named("deploy-network-public-rt").inputs["routes"]
    assert "gatewayId" in route
    nat_subnets = {r.inputs["subnetId"] for r in resources if r.type == "aws:ec2/natGateway:NatGateway"}
    assert all("public" in s for s in nat_subnets)
    assert result.named("deploy-network-default-sg").inputs.get("ingress") in (None, [])


def test_existing_vpc_creates_no_network(existing_vpc):
    assert within(existing_vpc, NETWORK) == []
    service = existing_vpc.one("aws:ecs/service:Service").inputs
    assert service["networkConfiguration"]["subnets"] == EXISTING_VPC["privateSubnetIds"]
    alb = existing_vpc.named("deploy-lb-alb").inputs
    assert alb["subnets"] == EXISTING_VPC["publicSubnetIds"]
    assert existing_vpc.named("deploy-lb-tg-ecs").inputs["vpcId"] == EXISTING_VPC["vpcId"]


# ------------------------------------------------------------------------------------------
# Load balancer
# ------------------------------------------------------------------------------------------


def test_internet_facing_alb(dev, prod_ecs):
    alb = dev.named("deploy-lb-alb").inputs
    assert alb["internal"] is False and alb["loadBalancerType"] == "application"
    assert alb["dropInvalidHeaderFields"] is True
    assert all("public" in s for s in alb["subnets"]) and len(alb["subnets"]) == 2
    assert len(alb["name"]) <= 32
    assert alb["enableDeletionProtection"] is False
    assert prod_ecs.named("deploy-lb-alb").inputs["enableDeletionProtection"] is True


def test_target_group_tuned_for_fast_deploys(dev):
    tg = dev.named("deploy-lb-tg-ecs").inputs
    assert tg["deregistrationDelay"] <= 30
    hc = tg["healthCheck"]
    assert hc["interval"] * hc["healthyThreshold"] <= 30  # healthy within 30 s of passing checks
    assert hc["path"] == "/ping" and hc["matcher"] == "200" and hc["protocol"] == "HTTP"
    assert hc["timeout"] < hc["interval"]  # ELB requires timeout < interval
    assert (tg["targetType"], tg["port"], tg["protocol"]) == ("ip", 8080, "HTTP")
    assert len(tg["name"]) <= 32


def sg_rules(result) -> dict[str, dict]:
    return {r.name: r.inputs for r in result.resources if r.type.startswith("aws:vpc/securityGroup") and r.type.endswith("Rule")}


def test_security_groups(dev):
    rules = sg_rules(dev)
    alb_sg = dev.named("deploy-lb-alb-sg").id
    service_sg = dev.named("deploy-service-sg").id
    assert rules == {
        "deploy-lb-alb-in-80-0": {"securityGroupId": alb_sg, "description": "Port 80 from 0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv4": "0.0.0.0/0"},
        # The ALB reaches the tasks' container port only; nothing else reaches the tasks.
        "deploy-alb-to-service": {
            "securityGroupId": alb_sg,
            "description": "To the service's container port",
            "ipProtocol": "tcp",
            "fromPort": 8080,
            "toPort": 8080,
            "referencedSecurityGroupId": service_sg,
        },
        "deploy-service-from-alb": {
            "securityGroupId": service_sg,
            "description": "Container port from the load balancer",
            "ipProtocol": "tcp",
            "fromPort": 8080,
            "toPort": 8080,
            "referencedSecurityGroupId": alb_sg,
        },
        "deploy-service-https-out": {
            "securityGroupId": service_sg,
            "description": "HTTPS to AWS APIs and the registry",
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrIpv4": "0.0.0.0/0",
        },
    }
    assert dev.one("aws:ecs/service:Service").inputs["networkConfiguration"]["securityGroups"] == [service_sg]


def test_load_balancer_ingress_is_exactly_the_configured_cidrs(evaluate):
    """ingressCidrs, IPv4 and IPv6, on every listener port: no rule wider than asked for."""
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    r = evaluate("dev", ingressCidrs=["203.0.113.0/24", "2001:db8::/32"], certificateArn=certificate, serviceDomain="app.example.com")
    ingress = {(i["fromPort"], i.get("cidrIpv4"), i.get("cidrIpv6")) for n, i in sg_rules(r).items() if n.startswith("deploy-lb-alb-in-")}
    assert ingress == {
        (80, "203.0.113.0/24", None),
        (80, None, "2001:db8::/32"),
        (443, "203.0.113.0/24", None),
        (443, None, "2001:db8::/32"),
    }
    assert len([n for n in sg_rules(r) if n.startswith("deploy-lb-alb-in-")]) == 4


def test_listener_forwards_to_the_target_group(dev):
    [listener] = [r for r in within(dev, LB) if r.type == "aws:lb/listener:Listener"]
    assert listener.inputs["port"] == 80 and listener.inputs["defaultActions"][0]["type"] == "forward"
    assert dev.outputs["serviceUrl"].startswith("http://") and dev.outputs["serviceUrl"].endswith(".elb.amazonaws.com")


# ------------------------------------------------------------------------------------------
# Cluster, task definition, service
# ------------------------------------------------------------------------------------------


def test_cluster_has_container_insights(dev):
    cluster = dev.one("aws:ecs/cluster:Cluster").inputs
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]


def test_task_definition(dev, evaluate):
    td = task_definition(dev)
    assert (td["cpu"], td["memory"]) == ("256", "512")
    custom = task_definition(evaluate("dev", **BOOTSTRAP))
    assert (custom["cpu"], custom["memory"]) == ("1024", "4096")
    assert td["networkMode"] == "awsvpc" and td["requiresCompatibilities"] == ["FARGATE"]
    assert td["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}
    assert td["executionRoleArn"] == dev.named("deploy-execution-role").outputs["arn"]
    assert td["taskRoleArn"] == dev.named("deploy-task-role").outputs["arn"]
    assert td["executionRoleArn"] != td["taskRoleArn"]
    assert td["family"] == "container-cicd-dev-app-task"


def test_container_logs_to_the_stack_log_group(dev, prod_ecs):
    [container] = containers(dev)
    log_group = dev.named("deploy-logs")
    assert log_group.inputs == {
        "namePrefix": "/ecs/container-cicd-dev-app-",
        "retentionInDays": 14,
        "kmsKeyId": dev.named("logs-key").outputs["arn"],
        "tags": log_group.inputs["tags"],
    }
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {"awslogs-group": log_group.outputs["name"], "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app"},
    }
    # Kept in CloudWatch when the target goes (a switch of deployTarget), never protected (that would stop the switch).
    for result in (dev, prod_ecs):
        group = result.named("deploy-logs")
        assert (group.retain_on_delete, group.protect) == (True, False)


def test_container_definitions_match_the_ecs_api(dev):
    td = task_definition(dev)
    request = {
        "family": td["family"],
        "containerDefinitions": containers(dev),
        "cpu": td["cpu"],
        "memory": td["memory"],
        "networkMode": td["networkMode"],
        "requiresCompatibilities": td["requiresCompatibilities"],
        "runtimePlatform": td["runtimePlatform"],
        "executionRoleArn": td["executionRoleArn"],
        "taskRoleArn": td["taskRoleArn"],
    }
    assert_valid("ecs", "RegisterTaskDefinition", request)
    bad = {**request, "containerDefinitions": [{**containers(dev)[0], "portMapping": []}]}
    assert validate("ecs", "RegisterTaskDefinition", bad)


def test_bootstrap_container(dev, evaluate):
    [container] = containers(dev)
    assert container["name"] == "app" and container["essential"] is True
    assert container["image"] == DEFAULT_BOOTSTRAP_IMAGE
    assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]
    # Traefik answers /ping on the container port from these variables alone.
    assert container["environment"] == [
        {"name": "PORT", "value": "8080"},
        {"name": "TRAEFIK_ENTRYPOINTS_TRAEFIK_ADDRESS", "value": ":8080"},
        {"name": "TRAEFIK_PING", "value": "true"},
    ]
    assert "command" not in container and "entryPoint" not in container
    custom = evaluate("dev", **BOOTSTRAP)
    [container] = containers(custom)
    assert container["image"] == "public.ecr.aws/my/hello:1.0"
    assert container["environment"] == [{"name": "PORT", "value": "9000"}]
    assert custom.named("deploy-lb-tg-ecs").inputs["healthCheck"]["path"] == "/healthz"
    # The target group keeps its port; the tasks register with theirs, and the port rules open it.
    assert custom.named("deploy-lb-tg-ecs").inputs["port"] == 8080
    assert custom.one("aws:ecs/service:Service").inputs["loadBalancers"][0]["containerPort"] == 9000
    assert {(r.name, r.inputs["fromPort"], r.inputs["toPort"]) for r in custom.resources if r.name in ("deploy-alb-to-service", "deploy-service-from-alb")} == {
        ("deploy-alb-to-service", 9000, 9000),
        ("deploy-service-from-alb", 9000, 9000),
    }


def test_service(dev):
    service = dev.one("aws:ecs/service:Service")
    s = service.inputs
    assert s["launchType"] == "FARGATE" and s["desiredCount"] == 1  # Pulumi.dev.yaml
    assert s["networkConfiguration"]["assignPublicIp"] is False
    assert len(s["networkConfiguration"]["subnets"]) == 2
    assert all("private" in subnet for subnet in s["networkConfiguration"]["subnets"])
    assert s["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert s["cluster"] == dev.one("aws:ecs/cluster:Cluster").outputs["arn"]
    assert s["loadBalancers"] == [
        {
            "targetGroupArn": dev.named("deploy-lb-tg-ecs").outputs["arn"],
            "containerName": "app",
            "containerPort": 8080,
        }
    ]
    assert s["deploymentMinimumHealthyPercent"] == 100
    assert s["waitForSteadyState"] is True


def test_deploy_stage_comes_from_the_target(dev):
    stages = dev.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    [deploy] = [a for s in stages if s["name"] == "Deploy" for a in s["actions"] if a["category"] == "Deploy"]
    assert deploy["provider"] == "ECS"
    assert deploy["configuration"]["ClusterName"] == dev.one("aws:ecs/cluster:Cluster").inputs["name"]
    assert deploy["configuration"]["ServiceName"] == dev.one("aws:ecs/service:Service").inputs["name"]


def test_service_waits_for_the_listener(dev, prod_ecs, evaluate):
    """ECS rejects a service whose target group no load balancer uses yet ("The target group ... does not have an
    associated load balancer"); the forwarding listener is what associates them, so the service must come after it."""
    https = evaluate("dev", certificateArn="arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789", serviceDomain="app.example.com")
    for result in (dev, prod_ecs, https):
        service = result.one("aws:ecs/service:Service")
        [target_group] = [lb["targetGroupArn"] for lb in service.inputs["loadBalancers"]]
        [forwarding] = [
            listener for listener in result.of_type("aws:lb/listener:Listener") if any(a.get("targetGroupArn") == target_group for a in listener.inputs["defaultActions"])
        ]
        assert forwarding.ref in service.depends_on, (result.config, forwarding.name)


def test_service_waits_for_the_rules_that_open_its_port(dev, evaluate):
    """The service's create or update step ends when its tasks are healthy, which the load balancer sees
    only through the rules on the container port: after a containerPort change, the new port's rules."""
    for result in (dev, evaluate("dev", containerPort=9000)):
        service = result.one("aws:ecs/service:Service")
        port = service.inputs["loadBalancers"][0]["containerPort"]
        rules = [r for r in result.resources if r.name in ("deploy-alb-to-service", "deploy-service-from-alb")]
        assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {(port, port)}
        assert {r.ref for r in rules} <= set(service.depends_on)


def test_https_listener_serves_443_and_http_redirects_to_it(evaluate):
    """With certificateArn the service URL is https://<serviceDomain>: the forwarding listener must be on 443 (the port the
    security group opens and the URL implies), and port 80 only redirects there."""
    r = evaluate("dev", certificateArn="arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789", serviceDomain="app.example.com")
    listeners = {x.inputs["port"]: x.inputs for x in within(r, LB) if x.type == "aws:lb/listener:Listener"}
    assert set(listeners) == {80, 443}
    https, http = listeners[443], listeners[80]
    assert https["protocol"] == "HTTPS" and https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificateArn"].endswith("certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789")
    assert https["defaultActions"] == [{"type": "forward", "targetGroupArn": r.named("deploy-lb-tg-ecs").outputs["arn"]}]
    assert http["protocol"] == "HTTP"
    assert http["defaultActions"] == [{"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}}]
    assert r.outputs["serviceUrl"] == "https://app.example.com"
