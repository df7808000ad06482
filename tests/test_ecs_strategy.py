"""ECS blue/green, canary and linear deployments, wired: the load balancer's second target group, rules and
test listener; the infrastructure role; the smoke-test hook and its sizing; the service's configuration,
dependencies and what `pulumi up` leaves to ECS; and nothing of it on a rolling stack."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from components.deploy.ecs.progressive import LOAD_BALANCER_POLICY, smoke_test_attempts, smoke_test_timeout_seconds
from components.settings import SMOKE_TEST_HOOK_MAX_MINUTES
from functions.ecs_smoke_test import MAX_SMOKE_PATHS, WORST_CASE_SECONDS, load_config
from offline.mocks import ROOT, StackResult

SERVICE = "aws:ecs/service:Service"
RULE = "aws:lb/listenerRule:ListenerRule"
FUNCTION = "aws:lambda/function:Function"
SHIFTING = ("blue-green", "canary", "linear")


@pytest.fixture(scope="module", params=SHIFTING)
def shifting(request, evaluate) -> StackResult:
    return evaluate("dev", deploymentStrategy=request.param)


def names(result: StackResult, type_: str) -> list[str]:
    return sorted(r.name for r in result.of_type(type_))


def arn(result: StackResult, name: str) -> str:
    return result.named(name).outputs["arn"]


def policy(result: StackResult, name: str) -> list[dict]:
    return json.loads(result.named(name).inputs["policy"])["Statement"]


# ------------------------------------------------------------------------------------------
# The load balancer
# ------------------------------------------------------------------------------------------


def test_a_second_target_group_checks_health_like_the_first(shifting):
    primary, alternate = shifting.named("deploy-lb-tg-ecs").inputs, shifting.named("deploy-lb-tg-alt").inputs
    assert alternate["name"] == "container-cicd-dev-app-tg-alt"
    assert {k: v for k, v in alternate.items() if k != "name"} == {k: v for k, v in primary.items() if k != "name"}


def test_the_alternate_takes_the_primarys_name_variant(evaluate):
    """A move to another VPC replaces both target groups; the new names differ from the old and from each
    other. A port change keeps both (their names carry no port)."""
    moved = evaluate("dev", deploymentStrategy="canary", vpcCidr="10.1.0.0/16")
    primary, alternate = moved.named("deploy-lb-tg-ecs").inputs["name"], moved.named("deploy-lb-tg-alt").inputs["name"]
    # Both new names end in a hash (the alternate's, shortened to ALB's 32 characters, of its full variant name).
    assert (primary, alternate) == ("container-cicd-dev-app-tg-10ac84", "container-cicd-dev-app-tg-53e6af")
    assert {primary, alternate}.isdisjoint({"container-cicd-dev-app-tg", "container-cicd-dev-app-tg-alt"})
    ported = evaluate("dev", deploymentStrategy="canary", containerPort=9000)
    assert (ported.named("deploy-lb-tg-ecs").inputs["name"], ported.named("deploy-lb-tg-alt").inputs["name"]) == ("container-cicd-dev-app-tg", "container-cicd-dev-app-tg-alt")


def test_the_production_rule_forwards_everything_weighted_and_leaves_the_weights_to_ecs(shifting):
    rule = shifting.named("deploy-lb-production-rule")
    assert rule.inputs["listenerArn"] == arn(shifting, "deploy-lb-http")  # dev has no certificate: HTTP serves
    assert rule.inputs["priority"] == 1
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    assert rule.inputs["actions"] == [
        {"type": "forward", "forward": {"targetGroups": [{"arn": arn(shifting, "deploy-lb-tg-ecs"), "weight": 100}, {"arn": arn(shifting, "deploy-lb-tg-alt"), "weight": 0}]}}
    ]
    assert rule.ignore_changes == ("actions",)


def test_with_a_certificate_the_production_rule_is_on_the_https_listener(evaluate):
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    result = evaluate("dev", deploymentStrategy="canary", certificateArn=cert, serviceDomain="app.example.com")
    assert result.named("deploy-lb-production-rule").inputs["listenerArn"] == arn(result, "deploy-lb-https")
    # The test listener stays plain HTTP: the hook requests it by the ALB's DNS name, no certificate names.
    assert result.named("deploy-lb-test").inputs["protocol"] == "HTTP"


def test_the_test_listener_answers_404_except_through_its_rule(shifting):
    listener = shifting.named("deploy-lb-test").inputs
    assert (listener["port"], listener["protocol"]) == (9000, "HTTP")
    assert listener["defaultActions"] == [{"type": "fixed-response", "fixedResponse": {"contentType": "text/plain", "messageBody": "Not found", "statusCode": "404"}}]
    rule = shifting.named("deploy-lb-test-rule")
    assert rule.inputs["listenerArn"] == arn(shifting, "deploy-lb-test")
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    assert rule.inputs["actions"][0]["forward"]["targetGroups"] == [
        {"arn": arn(shifting, "deploy-lb-tg-ecs"), "weight": 0},
        {"arn": arn(shifting, "deploy-lb-tg-alt"), "weight": 100},
    ]
    assert rule.ignore_changes == ("actions",)


def test_the_test_port_opens_to_the_nat_gateways_and_the_listed_cidrs_only(evaluate):
    result = evaluate("dev", deploymentStrategy="canary", testListenerPort=8443, testListenerCidrs=["203.0.113.0/24", "2001:db8::/32"])
    ingress = {r.name: r.inputs for r in result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.inputs.get("fromPort") == 8443}
    nat = result.named("deploy-network-nat-0-eip").outputs["publicIp"]
    assert {name: (i.get("cidrIpv4"), i.get("cidrIpv6"), i["toPort"]) for name, i in ingress.items()} == {
        "deploy-lb-alb-in-test-0": ("203.0.113.0/24", None, 8443),
        "deploy-lb-alb-in-test-1": (None, "2001:db8::/32", 8443),
        "deploy-lb-alb-in-test-hook-0": (f"{nat}/32", None, 8443),
    }
    assert all(i["securityGroupId"] == result.named("deploy-lb-alb-sg").id for i in ingress.values())


def test_one_nat_gateway_per_az_means_one_hook_source_each(evaluate):
    result = evaluate("prod", deployTarget="ecs", natGateways="one-per-az", eksKubernetesVersion=None, eksPodCpuMillicores=None, eksPodMemoryMiB=None)
    hooks = sorted(r.inputs["cidrIpv4"] for r in result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if "hook" in r.name)
    assert hooks == sorted(f"{result.named(f'deploy-network-nat-{i}-eip').outputs['publicIp']}/32" for i in (0, 1))


def test_an_existing_vpc_opens_the_test_port_to_the_listed_cidrs_and_its_looked_up_nat_gateway(evaluate):
    """The offline account's VPC (offline/existing_vpc.py): one NAT gateway, at 192.0.2.10."""
    result = evaluate(
        "dev",
        deploymentStrategy="canary",
        vpcId="vpc-0a1b2c3d4e5f60718",
        publicSubnetIds=["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"],
        privateSubnetIds=["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"],
        testListenerCidrs=["198.51.100.9/32"],
    )
    # Sorted: the order rules are registered in is not the program's contract.
    assert sorted(r.inputs["cidrIpv4"] for r in result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.inputs.get("fromPort") == 9000) == [
        "192.0.2.10/32",
        "198.51.100.9/32",
    ]


# ------------------------------------------------------------------------------------------
# Roles
# ------------------------------------------------------------------------------------------


def test_the_infrastructure_role_is_ecs_s_with_the_managed_load_balancer_policy(shifting):
    trust = json.loads(shifting.named("deploy-lb-role").inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        # No condition: ECS is not documented to set aws:SourceAccount when it assumes the infrastructure role.
        {"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    attachment = shifting.named("deploy-lb-role-policy").inputs
    assert attachment == {"role": shifting.named("deploy-lb-role").outputs["name"], "policyArn": f"arn:aws:iam::aws:policy/{LOAD_BALANCER_POLICY}"}
    assert LOAD_BALANCER_POLICY == "AmazonECSInfrastructureRolePolicyForLoadBalancers"
    assert [r.name for r in shifting.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.startswith("deploy-lb-role")] == []


def test_ecs_invokes_the_hook_and_nothing_else(shifting):
    trust = json.loads(shifting.named("deploy-hook-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}
    judged = [f for f in shifting.of_type(FUNCTION) if f.name == "deploy-canary-judge-function"]
    assert policy(shifting, "deploy-hook-role-policy") == [
        {"Sid": "InvokeSmokeTest", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arn(shifting, "deploy-smoke-test-function")},
        # Canary and linear: the canary judge hook too (tests/test_canary_wiring.py).
        *({"Sid": "InvokeCanaryJudge", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": f.outputs["arn"]} for f in judged),
    ]
    assert len(judged) == (shifting.config.get("container-cicd:deploymentStrategy") != "blue-green")


def test_the_hook_s_role_writes_its_logs_and_manages_its_network_interfaces_in_its_subnets(shifting):
    statements = {s["Sid"]: s for s in policy(shifting, "deploy-smoke-test-role-policy")}
    assert set(statements) == {"Logs", "VpcNetworkInterfaces", "DescribeVpcNetwork"}
    assert statements["Logs"]["Resource"] == arn(shifting, "deploy-smoke-test-logs") + ":*"
    subnets = [f"arn:aws:ec2:us-east-1:123456789012:subnet/{shifting.named(f'deploy-network-private-{i}').id}" for i in (0, 1)]
    security_group = f"arn:aws:ec2:us-east-1:123456789012:security-group/{shifting.named('deploy-smoke-test-sg').id}"
    assert statements["VpcNetworkInterfaces"]["Resource"] == ["arn:aws:ec2:us-east-1:123456789012:network-interface/*", security_group, *subnets]
    assert statements["DescribeVpcNetwork"] == {
        "Sid": "DescribeVpcNetwork",
        "Effect": "Allow",
        "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
        "Resource": "*",
    }


# ------------------------------------------------------------------------------------------
# The smoke-test hook
# ------------------------------------------------------------------------------------------


def test_the_hook_runs_in_the_private_subnets_and_goes_out_to_the_test_port_only(shifting):
    function = shifting.named("deploy-smoke-test-function").inputs
    assert function["vpcConfig"] == {
        "subnetIds": [shifting.named("deploy-network-private-0").id, shifting.named("deploy-network-private-1").id],
        "securityGroupIds": [shifting.named("deploy-smoke-test-sg").id],
    }
    [egress] = [r.inputs for r in shifting.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") if r.name == "deploy-smoke-test-out"]
    assert (egress["ipProtocol"], egress["fromPort"], egress["toPort"], egress["cidrIpv4"]) == ("tcp", 9000, 9000, "0.0.0.0/0")
    hook_sg = shifting.named("deploy-smoke-test-sg").id
    assert not [r for r in shifting.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.inputs["securityGroupId"] == hook_sg]


def test_the_hook_s_environment_is_its_contract(evaluate):
    result = evaluate("dev", deploymentStrategy="canary", smokeTestPaths=["/api/status", "/"])
    function = result.named("deploy-smoke-test-function").inputs
    env = function["environment"]["variables"]
    assert env == {
        "TEST_BASE_URL": "http://container-cicd-dev-app-alb-1234567890.us-east-1.elb.amazonaws.com:9000",
        "HEALTH_PATH": "/ping",
        "SMOKE_PATHS": '["/api/status", "/"]',
        "REQUEST_TIMEOUT_SECONDS": "5",
        "MAX_ATTEMPTS": "7",
        "RETRY_DELAY_SECONDS": "15",
    }
    # The function's own parser accepts it as it is.
    config = load_config(env)
    # 7 invocations of 3 paths, each up to Lambda's 10 s init limit and the 20 s timeout: 7 x 30 s + 6 x 15 s = 300 s.
    assert (config.max_attempts, config.retry_delay, config.request_timeout, config.paths) == (7, 15, 5.0, ("/ping", "/api/status", "/"))
    assert (function["handler"], function["runtime"], function["timeout"]) == ("functions.ecs_smoke_test.handler", "python3.14", 20)
    assert function["loggingConfig"] == {"logFormat": "Text", "logGroup": result.named("deploy-smoke-test-logs").outputs["name"]}


@pytest.mark.parametrize("n_paths", range(1, MAX_SMOKE_PATHS + 2))
def test_the_hook_answers_failed_within_its_budget_for_any_number_of_paths(n_paths):
    """The deployment's worst case counts the hook at SMOKE_TEST_HOOK_MAX_MINUTES: its own worst case (every
    invocation for Lambda's 10 s init limit and its whole timeout, every retry delay) must fit, and one more
    attempt must not."""
    budget = SMOKE_TEST_HOOK_MAX_MINUTES * 60
    attempts, timeout = smoke_test_attempts(n_paths), smoke_test_timeout_seconds(n_paths)

    def hook_seconds(n: int) -> int:
        return n * (10 + timeout) + (n - 1) * 15

    assert 1 <= attempts <= 100
    assert hook_seconds(attempts) <= budget
    assert attempts == 100 or hook_seconds(attempts + 1) > budget
    # An invocation's timeout covers its attempt's requests, every one to its deadline.
    assert WORST_CASE_SECONDS(1, 15, 5, n_paths) < timeout
    # One invocation covers one attempt plus start-up, within Lambda's 900 s.
    assert smoke_test_timeout_seconds(n_paths) == math.ceil(5 * n_paths) + 5 <= 900


def test_the_hook_s_sizes_for_the_default_and_the_largest_path_list():
    assert (smoke_test_attempts(1), smoke_test_timeout_seconds(1)) == (9, 10)  # 9 x (10 s + 10 s) + 8 x 15 s = 300 s
    assert (smoke_test_attempts(21), smoke_test_timeout_seconds(21)) == (2, 110)  # 2 x (10 s + 110 s) + 15 s = 255 s


def test_the_code_package_is_the_functions_folder_file_by_file(shifting):
    """Named files, not the folder: no __pycache__, so the package changes only with the code."""
    names = [f"functions/{f}" for f in ("__init__.py", "canary_judge.py", "deployment_record.py", "ecs_canary_hook.py", "ecs_smoke_test.py", "ecs_verify_deployment.py")]
    expected = {"archive": {name: {"file": name, "sha256": hashlib.sha256((ROOT / name).read_bytes()).hexdigest()} for name in names}}
    for function in shifting.of_type(FUNCTION):
        assert function.inputs["code"] == expected


# ------------------------------------------------------------------------------------------
# The service
# ------------------------------------------------------------------------------------------

EXPECTED_CONFIGURATION = {
    "blue-green": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"},
    "canary": {"strategy": "CANARY", "bakeTimeInMinutes": "5", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": "5"}},
    "linear": {"strategy": "LINEAR", "bakeTimeInMinutes": "5", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": "3"}},
}


@pytest.mark.parametrize("kind", SHIFTING)
def test_the_service_deploys_with_the_strategy_and_the_hook(evaluate, kind):
    result = evaluate("dev", deploymentStrategy=kind)
    service = result.one(SERVICE).inputs
    hook = {
        "hookTargetArn": arn(result, "deploy-smoke-test-function"),
        "roleArn": arn(result, "deploy-hook-role"),
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "targetType": "AWS_LAMBDA",
    }
    hooks = [hook] if kind == "blue-green" else [hook, {**hook, "hookTargetArn": arn(result, "deploy-canary-judge-function"), "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}]
    assert service["deploymentConfiguration"] == {**EXPECTED_CONFIGURATION[kind], "lifecycleHooks": hooks}
    assert service["loadBalancers"] == [
        {
            "targetGroupArn": arn(result, "deploy-lb-tg-ecs"),
            "containerName": "app",
            "containerPort": 8080,
            "advancedConfiguration": {
                "alternateTargetGroupArn": arn(result, "deploy-lb-tg-alt"),
                "productionListenerRule": arn(result, "deploy-lb-production-rule"),
                "testListenerRule": arn(result, "deploy-lb-test-rule"),
                "roleArn": arn(result, "deploy-lb-role"),
            },
        }
    ]
    # Failure detection stays on: the circuit breaker and the alarms roll back blue/green-family deployments too.
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["alarms"]["enable"] is True and service["alarms"]["rollback"] is True
    assert (service["deploymentMinimumHealthyPercent"], service["deploymentMaximumPercent"]) == (100, 200)


# The stack's deployment worst case plus 5 minutes, when that is more than the provider's 20-minute default:
# blue-green 16, canary 23, linear 29 with their defaults, 60 at most with the longest bakes the settings allow.
SERVICE_WAITS = [
    ({}, None),
    ({"deploymentStrategy": "blue-green"}, "21m"),
    ({"deploymentStrategy": "canary"}, "28m"),
    ({"deploymentStrategy": "linear"}, "34m"),
    ({"deploymentStrategy": "canary", "deploymentTimeoutMinutes": 60, "canaryBakeMinutes": 47, "deploymentBakeMinutes": 0}, "65m"),
]


@pytest.mark.parametrize(("overrides", "wait"), SERVICE_WAITS)
def test_pulumi_up_waits_for_the_whole_deployment_as_long_as_it_can_take(evaluate, overrides, wait):
    """`pulumi up` keeps waiting for the service's deployment (the provider then reports one ECS rolled back as an
    error), for the strategy's worst case and a margin; a rolling update fits the provider's default."""
    service = evaluate("dev", **overrides).one(SERVICE)
    assert service.inputs["waitForSteadyState"] is True
    assert service.custom_timeouts == ({} if wait is None else {"create": wait, "update": wait})


def test_the_safety_guide_states_the_waits_the_stack_sets():
    """docs/safety.md's numbers for `pulumi up`'s wait are the ones the code computes."""
    from components.deploy.ecs.progressive import PROVIDER_SERVICE_WAIT_MINUTES, SERVICE_WAIT_MARGIN_MINUTES, service_wait_minutes
    from components.settings import ECS_DEPLOY_ACTION_MAX_MINUTES, parse_settings

    def wait(**raw) -> int:
        return service_wait_minutes(parse_settings(raw, "container-cicd", "dev").ecs.strategy)

    text = " ".join((ROOT / "docs" / "safety.md").read_text().split())
    canary = parse_settings({"production": True, "allowPlainHttp": True}, "container-cicd", "prod").ecs.strategy.worst_case.minutes
    assert (
        f"The provider waits {PROVIDER_SERVICE_WAIT_MINUTES} minutes unless told otherwise, less than canary's worst case with the production "
        f"defaults ({canary}) and the {ECS_DEPLOY_ACTION_MAX_MINUTES} the settings allow"
    ) in text
    assert (
        f"the strategy's worst case and {SERVICE_WAIT_MARGIN_MINUTES} minutes when that is longer: blue-green {wait(deploymentStrategy='blue-green')}, "
        f"canary {wait(deploymentStrategy='canary')} and linear {wait(deploymentStrategy='linear')} minutes with their defaults, "
        f"{ECS_DEPLOY_ACTION_MAX_MINUTES + SERVICE_WAIT_MARGIN_MINUTES} at most; a rolling update keeps the {wait()}."
    ) in text


def test_the_strategy_s_own_values_reach_the_service(evaluate):
    result = evaluate("dev", deploymentStrategy="canary", canaryPercent=2.5, canaryBakeMinutes=7, deploymentBakeMinutes=0)
    config = result.one(SERVICE).inputs["deploymentConfiguration"]
    assert (config["canaryConfiguration"], config["bakeTimeInMinutes"]) == ({"canaryPercent": 2.5, "canaryBakeTimeInMinutes": "7"}, "0")


def test_the_service_waits_for_the_rules_the_policies_and_the_hook(shifting):
    service = shifting.one(SERVICE)
    refs = {r.ref: r.name for r in shifting.resources}
    waits_for = {refs[d] for d in service.depends_on}
    # The managed-policy attachment is depended on explicitly (a role's ARN does not wait for it); the
    # hook role's ARN carries its inline policy; the rules are named in advancedConfiguration and listed too.
    assert {"deploy-lb-production-rule", "deploy-lb-test-rule", "deploy-lb-role-policy", "deploy-hook-role-policy", "deploy-smoke-test-function", "deploy-lb-http"} <= waits_for


def test_pulumi_up_leaves_ecs_owned_state_alone(shifting):
    """ECS owns the rules' weights (ignored); the service's load balancers are not ignored: the provider sends
    them only when they differ from the stack's state, and a strategy switch or a new target group must reach
    the service (docs/safety.md, "What `pulumi up` leaves to ECS")."""
    assert {r.name: r.ignore_changes for r in shifting.of_type(RULE)} == {"deploy-lb-production-rule": ("actions",), "deploy-lb-test-rule": ("actions",)}
    assert shifting.one(SERVICE).ignore_changes == ()


def test_rolling_names_its_strategy_and_adds_nothing(dev):
    """ROLLING is written out: the provider keeps an omitted (optional, computed) deploymentConfiguration, so a
    stack switched back from canary would keep deploying as a canary."""
    service = dev.one(SERVICE).inputs
    assert service["deploymentConfiguration"] == {"strategy": "ROLLING"}
    assert "advancedConfiguration" not in service["loadBalancers"][0]
    assert names(dev, RULE) == [] and names(dev, "aws:lb/targetGroup:TargetGroup") == ["deploy-lb-tg-ecs"]
    assert names(dev, FUNCTION) == ["deploy-verify-function"]
    assert [r.name for r in dev.of_type("aws:lb/listener:Listener")] == ["deploy-lb-http"]
    assert not [r for r in dev.of_type("aws:iam/role:Role") if r.name in ("deploy-lb-role", "deploy-hook-role")]


def test_production_on_ecs_deploys_as_a_canary(prod_ecs):
    config = prod_ecs.one(SERVICE).inputs["deploymentConfiguration"]
    assert config["strategy"] == "CANARY" and config["lifecycleHooks"][0]["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"]


# ------------------------------------------------------------------------------------------
# Alarms watch both target groups
# ------------------------------------------------------------------------------------------


def test_target_group_alarms_watch_both_target_groups(shifting):
    alarms = {a.name.removeprefix("alarms-"): a.inputs for a in shifting.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    groups = {shifting.named("deploy-lb-tg-ecs").outputs["arnSuffix"], shifting.named("deploy-lb-tg-alt").outputs["arnSuffix"]}
    for kind in ("unhealthy-targets", "latency-p95"):
        watched = {q["metric"]["dimensions"]["TargetGroup"] for q in alarms[kind]["metricQueries"] if "metric" in q}
        assert watched == groups, kind
    targets = next(q for q in alarms["5xx-rate"]["metricQueries"] if q["id"] == "targetErrors")
    assert "TargetGroup" not in targets["metric"]["dimensions"]


# ------------------------------------------------------------------------------------------
# The offline plan's architecture diagram
# ------------------------------------------------------------------------------------------


def test_the_diagram_shows_the_test_listener_rules_and_the_hook_only_when_present(dev, evaluate):
    from offline.plan.diagrams import architecture_mermaid

    canary = architecture_mermaid(evaluate("dev", deploymentStrategy="canary"))
    assert 'aws_lb_listenerRule_ListenerRule["Listener rules: production, test listener (ECS sets the weights) ×2"]' in canary
    assert 'aws_lambda_function_Function["Lambda function (verifier, smoke-test hook, canary judge) ×3"]' in canary
    assert 'aws_lambda_function_Function -. "smoke-tests the test listener" .-> aws_lb_listenerRule_ListenerRule' in canary
    assert 'aws_lb_listenerRule_ListenerRule -- "shifts to the new revision" --> aws_ecs_service_Service' in canary
    rolling = architecture_mermaid(dev)
    assert "aws_lb_listenerRule_ListenerRule" not in rolling and "smoke-tests" not in rolling
    assert 'aws_codepipeline_pipeline_Pipeline -. "verifies the deployment" .-> aws_lambda_function_Function' in rolling


def test_the_hook_exists_only_once_its_way_out_does(shifting):
    """The service's first deployment already runs the hook: the NAT gateways and private routes come first."""
    function = shifting.named("deploy-smoke-test-function")
    refs = {r.ref: r.name for r in shifting.resources}
    waits_for = {refs[d] for d in function.depends_on}
    assert {"deploy-network-nat-0", "deploy-network-private-0-rt", "deploy-network-private-1-rt", "deploy-network-private-1-rta"} <= waits_for
