"""examples/: each ready stack file is evaluated whole, and the feature it shows is in what it creates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.settings import PROJECT, Routing, parse_settings
from offline import checkov_scan, stackfile, tfplan
from offline.mocks import StackResult, evaluate
from offline.stackfile import config_strings, stack_config
from policy.rules import run_rules, subjects

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NAMES = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in EXAMPLES.glob("Pulumi.*.yaml"))
_cache: dict[str, StackResult] = {}


def example(name: str) -> StackResult:
    """examples/Pulumi.<name>.yaml as the stack <name>, evaluated through the real program; `staging` is
    Pulumi.dev.yaml copied under another name (what a user does first)."""
    if name not in _cache:
        _cache[name] = evaluate(name, stack_config("dev") if name == "staging" else stack_config(name, root=EXAMPLES))
    return _cache[name]


# The load balancer's resources: every checkov exception that depends on the stack's settings (`when`)
# names one of them, so scanning this part shows how each stack is judged at a fraction of a full scan's
# time. CI (.ci/run) plans every example in full, checkov included.
LOAD_BALANCER_TYPES = ("aws:lb/", "aws:wafv2/")


def test_the_examples_are_the_documented_set():
    assert NAMES == ["arm64", "existing-eks", "existing-vpc", "github", "https", "services"]
    readme = (EXAMPLES / "README.md").read_text()
    for name in NAMES:
        assert f"[Pulumi.{name}.yaml](Pulumi.{name}.yaml)" in readme


@pytest.mark.parametrize("name", NAMES)
def test_each_example_is_a_complete_commented_stack_file_in_us_east_1(name):
    text = (EXAMPLES / f"Pulumi.{name}.yaml").read_text()
    assert text.startswith("# "), "each example says what it shows in its first comment"
    config = stackfile.load(text)["config"]
    assert config["aws:region"] == "us-east-1"
    assert f"{PROJECT}:deployTarget" in config
    # Every ARN or id in it is in the stack's region and account format the settings accept.
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}
    parse_settings(raw, PROJECT, name)
    for value in config.values():
        if isinstance(value, str) and value.startswith("arn:aws:"):
            assert value.split(":")[3] in ("us-east-1", ""), value


def test_github_example_uses_a_connection_with_branch_and_file_path_push_filters():
    result = example("github")
    assert result.of_type("aws:codecommit/repository:Repository") == []
    connection = result.one("aws:codeconnections/connection:Connection")
    assert connection.inputs["providerType"] == "GitHub"
    pipeline = result.one("aws:codepipeline/pipeline:Pipeline").inputs
    [source] = pipeline["stages"][0]["actions"]
    assert source["provider"] == "CodeStarSourceConnection"
    assert source["configuration"]["FullRepositoryId"] == "my-org/my-monorepo"
    assert source["configuration"]["ConnectionArn"] == connection.outputs["arn"]
    [trigger] = pipeline["triggers"]
    assert trigger["providerType"] == "CodeStarSourceConnection"
    assert trigger["gitConfiguration"]["pushes"] == [{"branches": {"includes": ["main"]}, "filePaths": {"includes": ["services/api/**", "shared/**"]}}]
    buildspec = result.named("build-project").inputs["source"]["buildspec"]
    assert "APP_PATH: services/api" in buildspec


def test_existing_vpc_example_creates_no_network_and_uses_the_given_subnets():
    result = example("existing-vpc")
    counts = result.count_by_type()
    for created in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway", "aws:ec2/internetGateway:InternetGateway"):
        assert created not in counts
    assert result.one("aws:lb/loadBalancer:LoadBalancer").inputs["subnets"] == ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    network = result.one("aws:ecs/service:Service").inputs["networkConfiguration"]
    assert network["subnets"] == ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"] and network["assignPublicIp"] is False
    ingress = [r.inputs for r in result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.inputs.get("cidrIpv4")]
    assert {r["cidrIpv4"] for r in ingress} == {"203.0.113.0/24"}


def test_existing_eks_example_creates_no_cluster_and_deploys_into_the_named_one():
    result = example("existing-eks")
    counts = result.count_by_type()
    assert "aws:eks/cluster:Cluster" not in counts and "aws:ec2/vpc:Vpc" not in counts
    assert ("aws:eks/getCluster:getCluster", {"name": "platform-prod"}) in result.invokes
    entry = result.one("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["clusterName"] == "platform-prod"
    # Existing cluster: the deploy identity may edit its own namespace only.
    association = result.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert association["policyArn"].endswith("/AmazonEKSEditPolicy")
    assert association["accessScope"] == {"type": "namespace", "namespaces": ["container-cicd-existing-eks-orders"]}


def test_https_example_serves_443_with_the_certificate_on_its_domain_and_redirects_http():
    result = example("https")
    listeners = {r.inputs["port"]: r.inputs for r in result.of_type("aws:lb/listener:Listener")}
    assert sorted(listeners) == [80, 443]
    https = listeners[443]
    assert https["protocol"] == "HTTPS"
    assert https["certificateArn"] == "arn:aws:acm:us-east-1:123456789012:certificate/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
    assert [a["type"] for a in https["defaultActions"]] == ["forward"]
    assert listeners[80]["defaultActions"] == [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]
    # The URL names the domain the certificate covers; the stack points it at the load balancer.
    assert result.outputs["serviceUrl"] == "https://web.example.com"
    record = result.one("aws:route53/record:Record").inputs
    assert (record["zoneId"], record["name"], record["type"]) == ("Z0123456789ABCDEFGHIJ", "web.example.com", "A")


def test_arm64_example_builds_on_arm_and_runs_arm64_fargate_tasks():
    result = example("arm64")
    task = result.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert task["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    build = result.named("build-project").inputs["environment"]
    assert build["type"] == "ARM_CONTAINER" and "aarch64" in build["image"]
    # The image is built for the platform it runs on: every CodeBuild project of the stack is ARM.
    assert {p.inputs["environment"]["type"] for p in result.of_type("aws:codebuild/project:Project")} == {"ARM_CONTAINER"}


def test_services_example_runs_three_services_each_with_its_own_pipeline_registry_service_and_size():
    result = example("services")
    settings = parse_settings({k.split(":", 1)[1]: v for k, v in config_strings(result.config).items() if k.startswith(f"{PROJECT}:")}, PROJECT, "services")
    routes = [(s.name, s.routing, s.priority) for s in settings.service_list]
    assert routes == [
        ("orders", Routing(paths=("/orders", "/orders/*")), 10),
        ("api", Routing(paths=("/api/*",)), 20),
        ("admin", Routing(hosts=("admin.example.com",)), 30),
    ]
    prefix = "container-cicd-services"
    pipelines = {r.inputs["name"] for r in result.of_type("aws:codepipeline/pipeline:Pipeline")}
    assert pipelines == {f"{prefix}-orders-pipeline", f"{prefix}-api-pipeline", f"{prefix}-admin-pipeline"}
    assert {r.inputs["name"] for r in result.of_type("aws:ecr/repository:Repository")} == {f"{prefix}-orders", f"{prefix}-api", f"{prefix}-admin"}
    # One ECS cluster, one service per entry, each with its own replicas and task size.
    assert len(result.of_type("aws:ecs/cluster:Cluster")) == 1
    services = {r.inputs["name"]: r.inputs["desiredCount"] for r in result.of_type("aws:ecs/service:Service")}
    assert services == {f"{prefix}-orders-service": 1, f"{prefix}-api-service": 2, f"{prefix}-admin-service": 1}
    sizes = {r.inputs["family"]: (r.inputs["cpu"], r.inputs["memory"]) for r in result.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    assert sizes == {f"{prefix}-orders-task": ("256", "512"), f"{prefix}-api-task": ("256", "512"), f"{prefix}-admin-task": ("512", "1024")}
    # One network and one load balancer for the three.
    assert len(result.of_type("aws:lb/loadBalancer:LoadBalancer")) == len(result.of_type("aws:ec2/vpc:Vpc")) == 1


def test_services_example_routes_by_path_and_host_to_each_services_target_group_and_404s_the_rest():
    result = example("services")
    [listener] = result.of_type("aws:lb/listener:Listener")
    assert listener.inputs["defaultActions"] == [{"type": "fixed-response", "fixedResponse": {"messageBody": "Not found", "statusCode": "404", "contentType": "text/plain"}}]
    groups = {r.outputs["arn"]: r.inputs["name"] for r in result.of_type("aws:lb/targetGroup:TargetGroup")}
    rules = {
        int(r.inputs["priority"]): (r.inputs["conditions"], [groups[a["targetGroupArn"]] for a in r.inputs["actions"]])
        for r in result.of_type("aws:lb/listenerRule:ListenerRule")
        if r.inputs["listenerArn"] == listener.outputs["arn"]
    }
    assert rules == {
        10: ([{"pathPattern": {"values": ["/orders", "/orders/*"]}}], [result.named("deploy-lb-tg-ecs").inputs["name"]]),
        20: ([{"pathPattern": {"values": ["/api/*"]}}], ["container-cicd-services-api-tg"]),
        30: ([{"hostHeader": {"values": ["admin.example.com"]}}], ["container-cicd-services-admin-tg"]),
    }


def test_examples_hold_no_secrets_and_only_the_documentation_account():
    """The examples hold no secrets or real account ids other than the documentation account."""
    for name in NAMES:
        text = (EXAMPLES / f"Pulumi.{name}.yaml").read_text()
        assert "secure:" not in text
        for word in json.dumps(stackfile.load(text)).replace('"', " ").split():
            if word.startswith("arn:aws:"):
                assert ":123456789012:" in word


def test_every_exception_that_depends_on_settings_is_about_the_load_balancer():
    """What the next test scans covers every exception scoped by settings (widen LOAD_BALANCER_TYPES if not)."""
    assert {tfplan.tf_type("aws:lb/listener:Listener"), tfplan.tf_type("aws:wafv2/webAcl:WebAcl")} == {"aws_lb_listener", "aws_wafv2_web_acl"}
    prefixes = ("aws_lb.", "aws_lb_", "aws_wafv2_")
    scoped = [e for e in checkov_scan.load_exceptions() if e.when]
    assert scoped
    assert [f"{e.check_id} {e.resource}" for e in scoped if not e.resource.startswith(prefixes)] == []


@pytest.mark.parametrize("name", [*NAMES, "staging"])
def test_each_example_and_a_renamed_dev_plan_without_violations_or_unexcepted_failures(name):
    """`cp examples/Pulumi.<name>.yaml Pulumi.<name>.yaml && python -m offline.plan <name>` exits 0: no
    policy violation, and every checkov failure of the load balancer is excepted for what the stack is."""
    result = example(name)
    assert run_rules(subjects(result.resources)) == []
    part = StackResult(result.stack, result.config, [r for r in result.resources if r.type.startswith(LOAD_BALANCER_TYPES)], {}, [])
    scan = checkov_scan.scan(part)
    assert scan.failed, "outside production the load balancer has failures to except"
    assert [f"{f.check_id} {f.resource}" for f in scan.unexcepted] == []


def test_the_services_page_shows_the_services_example():
    """docs/services.md's stack file is examples/Pulumi.services.yaml's (its routes, paths and filters), shortened."""
    page = (ROOT / "docs" / "services.md").read_text()
    shown = stackfile.load(page.split("```yaml\n", 1)[1].split("```", 1)[0])["config"]
    example_config = stackfile.load((EXAMPLES / "Pulumi.services.yaml").read_text())["config"]
    keys = ("name", "appPath", "sourceFilePaths", "paths", "hosts")
    services = [{k: e[k] for k in keys if k in e} for e in example_config[f"{PROJECT}:services"]]
    assert shown[f"{PROJECT}:services"] == services
    assert {k: v for k, v in shown.items() if k != f"{PROJECT}:services"} == {k: example_config[k] for k in shown if k != f"{PROJECT}:services"}
