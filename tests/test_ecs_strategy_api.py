"""What AWS is asked, checked against botocore 1.44.8's models: the ECS CreateService/UpdateService request
the provider builds from the recorded service (every strategy), and the pipeline's CreatePipeline request with
the VerifyDeployment action; the verifier's role, parameters and records; the policy rule; the dashboard."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from functions import ecs_verify_deployment as verifier
from functions.deployment_record import METRIC_NAMESPACE
from offline.mocks import StackResult
from policy import rules
from tests.aws_models import assert_valid, validate
from tests.test_source import check_action_configuration, validate_pipeline

STRATEGIES = ("rolling", "blue-green", "canary", "linear")
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module", params=STRATEGIES)
def stack(request, evaluate) -> StackResult:
    return evaluate("dev", deploymentStrategy=request.param)


# ------------------------------------------------------------------------------------------
# The service as ECS receives it
# ------------------------------------------------------------------------------------------


def _int(value: Any) -> int:
    """The provider's integer-valued strings (bake times) and the wire format's doubles, as ECS's integers."""
    return int(float(value))


def deployment_configuration(service: dict) -> dict:
    """What the provider's expand sends as deploymentConfiguration: the top-level percentages, circuit
    breaker and alarms, and the deployment_configuration block (hashicorp/terraform-provider-aws
    internal/service/ecs/service.go, resourceServiceCreate/Update)."""
    block = service.get("deploymentConfiguration") or {}
    config: dict[str, Any] = {
        "maximumPercent": _int(service["deploymentMaximumPercent"]),
        "minimumHealthyPercent": _int(service["deploymentMinimumHealthyPercent"]),
        "deploymentCircuitBreaker": service["deploymentCircuitBreaker"],
        "alarms": service["alarms"],
        "strategy": block["strategy"],
    }
    if "bakeTimeInMinutes" in block:
        config["bakeTimeInMinutes"] = _int(block["bakeTimeInMinutes"])
    if "canaryConfiguration" in block:
        c = block["canaryConfiguration"]
        config["canaryConfiguration"] = {"canaryPercent": c["canaryPercent"], "canaryBakeTimeInMinutes": _int(c["canaryBakeTimeInMinutes"])}
    if "linearConfiguration" in block:
        c = block["linearConfiguration"]
        config["linearConfiguration"] = {"stepPercent": c["stepPercent"], "stepBakeTimeInMinutes": _int(c["stepBakeTimeInMinutes"])}
    if block.get("lifecycleHooks"):
        config["lifecycleHooks"] = block["lifecycleHooks"]
    return config


def load_balancers(service: dict) -> list[dict]:
    return [{**lb, "containerPort": _int(lb["containerPort"])} for lb in service["loadBalancers"]]


def create_service_request(service: dict) -> dict:
    network = service["networkConfiguration"]
    return {
        "cluster": service["cluster"],
        "serviceName": service["name"],
        "taskDefinition": service["taskDefinition"],
        "desiredCount": _int(service["desiredCount"]),
        "launchType": service["launchType"],
        "platformVersion": service["platformVersion"],
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": network["securityGroups"],
                "assignPublicIp": "ENABLED" if network["assignPublicIp"] else "DISABLED",
            }
        },
        "loadBalancers": load_balancers(service),
        "deploymentConfiguration": deployment_configuration(service),
        "healthCheckGracePeriodSeconds": _int(service["healthCheckGracePeriodSeconds"]),
        "enableECSManagedTags": service["enableEcsManagedTags"],
        "propagateTags": service["propagateTags"],
        "tags": [{"key": k, "value": v} for k, v in service["tags"].items()],
    }


def test_the_service_is_a_valid_create_and_update_service_request(stack):
    service = stack.one("aws:ecs/service:Service").inputs
    request = create_service_request(service)
    assert_valid("ecs", "CreateService", request)
    update = {"cluster": request["cluster"], "service": request["serviceName"]}
    update |= {"loadBalancers": request["loadBalancers"], "deploymentConfiguration": request["deploymentConfiguration"]}
    assert_valid("ecs", "UpdateService", update)


def test_the_validation_sees_a_wrong_strategy_stage_or_hook_type(evaluate):
    """Not vacuous: the model's enums reach into the strategy, the hook's stages and its target type."""
    request = create_service_request(evaluate("dev", deploymentStrategy="canary").one("aws:ecs/service:Service").inputs)
    broken = copy.deepcopy(request)
    broken["deploymentConfiguration"]["strategy"] = "CANARIES"
    broken["deploymentConfiguration"]["lifecycleHooks"][0]["lifecycleStages"] = ["POST_TEST_TRAFFIC"]
    broken["deploymentConfiguration"]["lifecycleHooks"][0]["targetType"] = "LAMBDA"
    assert sorted(validate("ecs", "CreateService", broken)) == [
        "Invalid value for parameter deploymentConfiguration.lifecycleHooks[0].lifecycleStages[0], value: 'POST_TEST_TRAFFIC', valid values: "
        "RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, "
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "Invalid value for parameter deploymentConfiguration.lifecycleHooks[0].targetType, value: 'LAMBDA', valid values: AWS_LAMBDA, PAUSE",
        "Invalid value for parameter deploymentConfiguration.strategy, value: 'CANARIES', valid values: ROLLING, BLUE_GREEN, LINEAR, CANARY",
    ]


# ------------------------------------------------------------------------------------------
# The pipeline and the verifier
# ------------------------------------------------------------------------------------------


def deploy_stage(result: StackResult) -> dict:
    [stage] = [s for s in validate_pipeline(result)["stages"] if s["name"] == "Deploy"]
    return stage


def test_the_pipeline_verifies_before_it_records_on_every_strategy(stack):
    pipeline = validate_pipeline(stack)
    check_action_configuration(pipeline)
    stage = deploy_stage(stack)
    assert [(a["name"], a["actionTypeId"]["category"], a["actionTypeId"]["provider"], a.get("runOrder", 1)) for a in stage["actions"]] == [
        ("DeployToEcs", "Deploy", "ECS", 1),
        ("VerifyDeployment", "Invoke", "Lambda", 2),
        ("RecordImage", "Build", "CodeBuild", 3),
    ]


def test_the_verifier_is_told_the_build_s_digest_and_commit(stack):
    [verify] = [a for a in deploy_stage(stack)["actions"] if a["name"] == "VerifyDeployment"]
    assert verify["configuration"]["FunctionName"] == "container-cicd-dev-app-verify"
    parameters = json.loads(verify["configuration"]["UserParameters"])
    strategy = stack.config["container-cicd:deploymentStrategy"]
    assert parameters == {
        "cluster": "container-cicd-dev-app-cluster",
        "service": "container-cicd-dev-app-service",
        "expectedImage": "#{BuildVariables.IMAGE_URI}",
        "commit": "#{BuildVariables.COMMIT_ID}",
        "strategy": strategy,
        "container": "app",
        # The supply-chain gate's evidence for the deployment record, from its VerifyImage action (tests/test_supply_record.py).
        "sbom": "#{SupplyVariables.SBOM_URI}",
        "scan": "#{SupplyVariables.SCAN_VERDICT}",
    }
    # As CodePipeline resolves the variables, the function accepts them.
    resolved = verify["configuration"]["UserParameters"].replace("#{BuildVariables.IMAGE_URI}", f"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{DIGEST}")
    resolved = resolved.replace("#{BuildVariables.COMMIT_ID}", "0123456789abcdef0123456789abcdef01234567")
    resolved = resolved.replace("#{SupplyVariables.SBOM_URI}", f"s3://records-bucket-1a2b3c4/sbom/{DIGEST}.json").replace("#{SupplyVariables.SCAN_VERDICT}", "PASSED")
    parsed = verifier.parse_parameters(resolved)
    assert (parsed.digest, parsed.strategy, parsed.container, parsed.scan) == (DIGEST, strategy, "app", "PASSED")


def test_the_pipeline_may_invoke_the_verifier_only(dev):
    statements = json.loads(dev.named("pipeline-role-policy").inputs["policy"])["Statement"]
    lambda_grants = [s for s in statements if any(str(a).startswith("lambda:") for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]
    assert lambda_grants == [{"Sid": "InvokeVerifier", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": dev.named("deploy-verify-function").outputs["arn"]}]


def test_the_verifier_s_role_grants_exactly_what_the_function_calls(dev):
    statements = json.loads(dev.named("deploy-verify-role-policy").inputs["policy"])["Statement"]
    ecs = "arn:aws:ecs:us-east-1:123456789012"
    service = "container-cicd-dev-app-cluster/container-cicd-dev-app-service"
    granted = {
        (a, r)
        for s in statements
        if s["Sid"] != "Logs"
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    assert granted == {
        ("ecs:ListServiceDeployments", f"{ecs}:service/{service}"),
        ("ecs:DescribeServiceDeployments", f"{ecs}:service-deployment/{service}/*"),
        ("ecs:DescribeServiceDeployments", f"{ecs}:service/{service}"),
        ("ecs:DescribeServiceRevisions", f"{ecs}:service-revision/{service}/*"),
        ("ecs:DescribeServiceRevisions", f"{ecs}:service/{service}"),
        ("ecr:BatchGetImage", dev.named("registry-repo").outputs["arn"]),
        ("codepipeline:PutJobSuccessResult", "*"),
        ("codepipeline:PutJobFailureResult", "*"),
        ("cloudwatch:PutMetricData", "*"),
    }
    assert {action for action, _ in granted} == set(verifier.IAM_ACTIONS)
    [metrics] = [s for s in statements if s["Sid"] == "DeploymentMetrics"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}
    [logs] = [s for s in statements if s["Sid"] == "Logs"]
    assert logs["Resource"] == dev.named("deploy-verify-logs").outputs["arn"] + ":*"


def test_the_verifier_function(dev):
    function = dev.named("deploy-verify-function").inputs
    # It checks the deployment for as long as the deploy action waits for it (deploymentTimeoutMinutes, 15 in dev);
    # its timeout covers its longest invocation: 25 calls of at most 34 s, and 10 s for the handler.
    assert function["environment"] == {"variables": {"SERVICE_ID": "container-cicd-dev-app", "MAX_WAIT_MINUTES": "15"}}
    assert (function["handler"], function["timeout"], function.get("vpcConfig")) == ("functions.ecs_verify_deployment.handler", 860, None)
    logs = dev.named("deploy-verify-logs")
    assert function["loggingConfig"] == {"logFormat": "Text", "logGroup": logs.outputs["name"]}
    assert logs.retain_on_delete and logs.inputs["kmsKeyId"] == dev.named("logs-key").outputs["arn"]
    assert logs.inputs["namePrefix"] == "/aws/lambda/container-cicd-dev-app-verify-"


# ------------------------------------------------------------------------------------------
# The dashboard's deployment panels
# ------------------------------------------------------------------------------------------


def widgets(result: StackResult) -> dict[str, dict]:
    body = json.loads(result.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    return {w["properties"].get("title", ""): w for w in body["widgets"]}


def test_the_dashboard_shows_deployment_duration_outcomes_and_records(dev):
    found = widgets(dev)
    duration = found["Deployment duration (s, per day)"]["properties"]
    assert [m[:4] for m in duration["metrics"]] == [[METRIC_NAMESPACE, "DeploymentDurationSeconds", "Service", "container-cicd-dev-app"]] * 2
    outcomes = found["Deployment outcomes (verified, per day)"]["properties"]
    assert [m[1] for m in outcomes["metrics"]] == ["DeploymentSucceeded", "DeploymentFailed"]
    records = found["Deployment records (last 50)"]
    group = dev.named("deploy-verify-logs").outputs["name"]
    assert records["type"] == "log" and records["properties"]["view"] == "table"
    assert records["properties"]["query"] == (
        f"SOURCE '{group}' | filter recordType = 'deployment' | fields finishedAt, outcome, strategy, commit, digest, durationSeconds, reason | sort finishedAt desc | limit 50"
    )


def test_on_eks_the_records_come_from_the_deploy_step_s_logs(evaluate):
    result = evaluate("dev", deployTarget="eks")
    query = widgets(result)["Deployment records (last 50)"]["properties"]["query"]
    assert query.startswith(f"SOURCE '{result.named('deploy-deploy-logs').outputs['name']}' | filter recordType = 'deployment'")


# ------------------------------------------------------------------------------------------
# The policy rule
# ------------------------------------------------------------------------------------------

RULE = "ecs-traffic-shift-safety"


def check(props: dict) -> list[str]:
    [found] = [r for r in rules.RULES if r.name == RULE]
    assert found.check is not None
    return found.check(rules.ECS_SERVICE, props)


def test_the_rule_passes_every_strategy_as_wired(stack):
    assert check(stack.one("aws:ecs/service:Service").inputs) == []
    assert [v for v in rules.run_rules(rules.subjects(stack.resources)) if v.rule == RULE] == []


TRAFFIC_SHIFTING = {"blue-green": "BLUE_GREEN", "canary": "CANARY", "linear": "LINEAR"}


def refusals(strategy: str) -> tuple[str, str]:
    """The rule's two findings for a service of `strategy` (ECS's spelling): no rollback alarms, no Lambda hook."""
    return (
        f"ECS service deploys with strategy {strategy} but no deployment alarm rolls it back: set alarms {{alarmNames: [...], enable: true, rollback: true}}",
        f"ECS service deploys with strategy {strategy} but runs no Lambda lifecycle hook: add deploymentConfiguration.lifecycleHooks "
        "[{hookTargetArn: <function ARN>, roleArn: <role ECS invokes it with>, lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]}] that tests the new revision",
    )


@pytest.mark.parametrize("setting", TRAFFIC_SHIFTING, ids=TRAFFIC_SHIFTING.values())
def test_the_rule_fires_without_rollback_alarms_or_a_lambda_hook(setting, evaluate):
    """Every traffic-shifting strategy is held to the rule: none of them is exempt."""
    service = copy.deepcopy(evaluate("dev", deploymentStrategy=setting).one("aws:ecs/service:Service").inputs)
    assert service["deploymentConfiguration"]["strategy"] == TRAFFIC_SHIFTING[setting]
    no_alarm, no_hook = refusals(TRAFFIC_SHIFTING[setting])
    service["alarms"]["rollback"] = False
    assert check(service) == [no_alarm]
    service["alarms"] = None
    assert check(service) == [no_alarm]
    service["deploymentConfiguration"]["lifecycleHooks"] = [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]
    assert check(service) == [no_alarm, no_hook]
    del service["deploymentConfiguration"]["lifecycleHooks"]
    assert check(service) == [no_alarm, no_hook]
    # A hook without a target type is a Lambda hook (the API's default).
    service["deploymentConfiguration"]["lifecycleHooks"] = [{"hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "lifecycleStages": ["POST_SCALE_UP"]}]
    service["alarms"] = {"alarmNames": ["a"], "enable": True, "rollback": True}
    assert check(service) == []


@pytest.mark.parametrize("setting", TRAFFIC_SHIFTING, ids=TRAFFIC_SHIFTING.values())
def test_the_rule_refuses_a_bare_traffic_shifting_service_in_the_policy_pack(setting, evaluate):
    """Through the pack as the engine runs it: a service of each strategy stripped of its alarms and hook is refused."""
    result = evaluate("dev", deploymentStrategy=setting)
    subjects = rules.subjects(result.resources)
    bare = []
    for subject in subjects:
        if subject.type == rules.ECS_SERVICE:
            props = copy.deepcopy(dict(subject.props))
            props["alarms"] = None
            del props["deploymentConfiguration"]["lifecycleHooks"]
            subject = dataclasses.replace(subject, props=props)
        bare.append(subject)
    [service] = [s for s in subjects if s.type == rules.ECS_SERVICE]
    found = [(v.urn, v.message) for v in rules.run_rules(bare) if v.rule == RULE]
    assert found == [(service.urn, message) for message in refusals(TRAFFIC_SHIFTING[setting])]


def test_the_rule_leaves_rolling_services_alone(evaluate):
    """ROLLING needs neither: the circuit breaker rolls it back (ecs-circuit-breaker)."""
    service = copy.deepcopy(evaluate("dev", deploymentStrategy="rolling").one("aws:ecs/service:Service").inputs)
    assert service["deploymentConfiguration"]["strategy"] == "ROLLING"
    assert "lifecycleHooks" not in service["deploymentConfiguration"]
    service["alarms"] = None
    assert check(service) == []
    del service["deploymentConfiguration"]
    assert check(service) == []
