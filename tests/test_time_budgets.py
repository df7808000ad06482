"""Time: does every wait fit its budget?

For every stack variant (the shipped stacks, each on the other target, each traffic-shifting strategy with its
bakes and steps as long as the settings allow, and the production bake at its extremes) every registered resource,
pipeline action, stage condition, Lambda function and CodeBuild project is held to a rule: its budget (a provider
timeout, an action timeout, a function timeout, a build timeout) against its computed worst case
(tests/time_budgets.py). A resource type, action provider, condition rule, function handler or step without a rule
here fails the check: a new wait cannot slip in unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from offline.mocks import StackResult
from offline.recording import Resource
from tests import runtime
from tests import time_budgets as tb
from tests.delivery import verifier_answers

COMMIT = "3f2c1e9a4b5c6d7e8f90123456789abcdef01234"
DIGEST = "sha256:" + "a" * 64
PLATFORM = "sha256:" + "b" * 64

# Resource types whose create, update or delete waits only for AWS's own state (available, active, propagated),
# which no setting of this stack lengthens: the provider's default timeout is the budget AWS's own time is held to.
AWS_STATE = "waits for AWS's own state, which no setting lengthens; the provider's default timeout is its budget"
# Resource types whose operations are API calls without a wait for a state the stack's settings shape.
NO_WAIT = "an API call; nothing this stack configures is waited for"

Check = Callable[["Context", Resource], list[str]]


class Context:
    """One variant: its evaluation, its settings, and what the steps and functions of its kind cost."""

    def __init__(self, label: str, result: StackResult, settings, steps: dict[str, tb.StepTally]):
        self.label, self.result, self.settings, self.steps = label, result, settings, steps

    @property
    def deployment_minutes(self) -> int | None:
        """The ECS deployment's worst case (components/settings/duration.py), None on EKS."""
        ecs = self.settings.ecs
        return ecs.strategy.worst_case.minutes if ecs is not None else None

    def function(self, name: str) -> Resource:
        return next(f for f in self.result.of_type("aws:lambda/function:Function") if f.inputs["name"] == name)

    def project(self, name: str) -> Resource:
        return next(p for p in self.result.of_type("aws:codebuild/project:Project") if p.inputs["name"] == name)


def budget(resource: Resource, operation: str, default: float) -> tuple[float, str]:
    if operation in resource.custom_timeouts:
        return tb.duration_minutes(resource.custom_timeouts[operation]), f"custom_timeouts.{operation} {resource.custom_timeouts[operation]}"
    return default, f"the provider's default {default:g} min"


def check_ecs_service(ctx: Context, service: Resource) -> list[str]:
    if not service.inputs.get("waitForSteadyState"):
        return []
    worst = ctx.deployment_minutes
    assert worst is not None
    text = ctx.settings.ecs.strategy.worst_case.text
    problems = []
    for operation in ("create", "update"):
        minutes, source = budget(service, operation, tb.ECS_SERVICE_DEFAULT_MINUTES)
        if minutes < worst:
            problems.append(
                f"{service.name}: {operation} waits for the deployment up to {minutes:g} min ({source}), but a {ctx.settings.ecs.strategy.kind.value} deployment can take {text}"
            )
    return problems


def check_eks_cluster(ctx: Context, cluster: Resource) -> list[str]:
    minutes, source = budget(cluster, "create", tb.EKS_CLUSTER_CREATE_DEFAULT_MINUTES)
    if minutes < tb.EKS_AUTO_MODE_CLUSTER_DOCUMENTED_MINUTES:
        return [f"{cluster.name}: create waits {minutes:g} min ({source}); AWS documents about {tb.EKS_AUTO_MODE_CLUSTER_DOCUMENTED_MINUTES} min"]
    return []


def check_eks_addon(ctx: Context, addon: Resource) -> list[str]:
    # AWS documents no duration for an add-on's creation; the provider waits through CREATING and DEGRADED
    # (its pods waiting for an Auto Mode node) until ACTIVE. A budget below the provider's default is a finding.
    minutes, source = budget(addon, "create", tb.EKS_ADDON_CREATE_DEFAULT_MINUTES)
    return [f"{addon.name}: create waits {minutes:g} min ({source}), less than the provider's default"] if minutes < tb.EKS_ADDON_CREATE_DEFAULT_MINUTES else []


def check_function(ctx: Context, function: Resource) -> list[str]:
    handler = function.inputs["handler"]
    if handler not in FUNCTIONS:
        return [f"{function.name}: handler {handler} has no time rule in tests/test_time_budgets.py"]
    return FUNCTIONS[handler](ctx, function)


def check_smoke_test(ctx: Context, function: Resource) -> list[str]:
    from components.settings import SMOKE_TEST_HOOK_MAX_MINUTES
    from functions.ecs_smoke_test import SAFETY_SECONDS

    env, timeout = function.inputs["environment"]["variables"], function.inputs["timeout"]
    attempt, total = tb.smoke_hook_seconds(env, timeout)
    problems = []
    if attempt + SAFETY_SECONDS > timeout:
        problems.append(f"{function.name}: one attempt's requests take up to {attempt:g} s, more than the {timeout:g} s timeout")
    if total > SMOKE_TEST_HOOK_MAX_MINUTES * 60:
        problems.append(
            f"{function.name}: the hook can hold the deployment {total:g} s ({env['MAX_ATTEMPTS']} invocations of up to "
            f"{tb.LAMBDA_INIT_LIMIT_SECONDS} + {timeout:g} s, {env['RETRY_DELAY_SECONDS']} s apart), more than the "
            f"{SMOKE_TEST_HOOK_MAX_MINUTES} min the deployment's worst case counts for it"
        )
    return problems


def check_invocation(ctx: Context, function: Resource) -> list[str]:
    """The function's longest path, run with its real handler: every call at its client's bound must end within
    the function's timeout."""
    run = WORST_PATHS[function.inputs["handler"]](ctx, function)
    worst = tb.invocation_worst_seconds(run)
    timeout = function.inputs["timeout"]
    if worst > timeout:
        return [
            f"{function.name}: its longest invocation makes {len(run.calls)} calls that can take {worst:g} s with its clients' "
            f"timeouts and retries, more than its {timeout:g} s timeout"
        ]
    return []


def check_project(ctx: Context, project: Resource) -> list[str]:
    name, minutes = project.inputs["name"], project.inputs["buildTimeout"]
    kind = tb.project_kind(name)
    if kind == "build":
        # The build step runs the team's Dockerfile: its budget is theirs (buildTimeoutMinutes), not computable here.
        own = ctx.settings.build.timeout_minutes
        return [] if minutes == own else [f"{name}: build timeout {minutes:g} min, not buildTimeoutMinutes ({own})"]
    if kind not in ctx.steps:
        return [f"{name}: no worst-case run for a {kind!r} step; add its longest path to the runs in tests/test_time_budgets.py"]
    worst = tb.step_worst_case(tb.buildspec_commands(project.inputs), ctx.steps[kind])
    if worst.seconds > minutes * 60:
        return [f"{name}: build timeout {minutes:g} min, but its longest run takes {worst.text}"]
    return []


def check_pipeline(ctx: Context, pipeline: Resource) -> list[str]:
    problems = []
    for stage in pipeline.inputs["stages"]:
        for action in stage["actions"]:
            key = (action["category"], action["owner"], action["provider"])
            if key not in ACTIONS:
                problems.append(f"stage {stage['name']}: action {action['name']} ({'/'.join(key)}) has no time rule in tests/test_time_budgets.py")
                continue
            problems += ACTIONS[key](ctx, stage["name"], action)
        for block in ("beforeEntry", "onSuccess", "onFailure"):
            for rule in ((stage.get(block) or {}).get("condition") or {}).get("rules", []):
                key = (block, rule["ruleTypeId"]["provider"])
                if key not in CONDITIONS:
                    problems.append(f"stage {stage['name']}: {block} rule {rule['name']} ({key[1]}) has no time rule in tests/test_time_budgets.py")
                    continue
                problems += CONDITIONS[key](ctx, stage["name"], rule)
    return problems


def no_budget(ctx: Context, stage: str, item: dict) -> list[str]:
    return []


def codebuild_action(ctx: Context, stage: str, action: dict) -> list[str]:
    project = ctx.project(action["configuration"]["ProjectName"]).inputs
    total = project["buildTimeout"] + project["queuedTimeout"]
    if total > tb.CODEBUILD_ACTION_LIMIT_MINUTES:
        return [
            f"stage {stage}: {action['name']} runs {project['name']}, which may queue {project['queuedTimeout']:g} and build "
            f"{project['buildTimeout']:g} min, more than CodePipeline's {tb.CODEBUILD_ACTION_LIMIT_MINUTES} min for a CodeBuild action"
        ]
    return []


def ecs_action(ctx: Context, stage: str, action: dict) -> list[str]:
    timeout, worst = int(action["configuration"]["DeploymentTimeout"]), ctx.deployment_minutes
    assert worst is not None
    problems = []
    if timeout < worst:
        problems.append(f"stage {stage}: {action['name']} DeploymentTimeout {timeout} min, but a deployment can take {ctx.settings.ecs.strategy.worst_case.text}")
    if timeout > tb.ECS_ACTION_LIMIT_MINUTES:
        problems.append(f"stage {stage}: {action['name']} DeploymentTimeout {timeout} min, more than the action's {tb.ECS_ACTION_LIMIT_MINUTES}")
    return problems


def lambda_action(ctx: Context, stage: str, action: dict) -> list[str]:
    function = ctx.function(action["configuration"]["FunctionName"])
    handler = function.inputs["handler"]
    if handler not in LAMBDA_ACTIONS:
        return [f"stage {stage}: {action['name']} invokes {handler}, which has no time rule as a pipeline action in tests/test_time_budgets.py"]
    problems = []
    reply = tb.LAMBDA_INIT_LIMIT_SECONDS + function.inputs["timeout"]
    if reply > tb.LAMBDA_ACTION_NO_REPLY_MINUTES * 60:
        problems.append(f"stage {stage}: {action['name']} may reply only after {reply:g} s; CodePipeline fails it after {tb.LAMBDA_ACTION_NO_REPLY_MINUTES} min without one")
    return problems + LAMBDA_ACTIONS[handler](ctx, stage, action, function)


def verifier_action(ctx: Context, stage: str, action: dict, function: Resource) -> list[str]:
    env = function.inputs["environment"]["variables"]
    worst = ctx.deployment_minutes
    assert worst is not None
    if "MAX_WAIT_MINUTES" not in env:
        return [
            f"stage {stage}: {action['name']} bounds itself by a count of checks (MAX_ATTEMPTS={env.get('MAX_ATTEMPTS')}), and CodePipeline "
            f"documents no interval between them: nothing holds it in time to the deployment's worst case of {worst} min"
        ]
    wait = int(env["MAX_WAIT_MINUTES"])
    problems = []
    if wait < worst:
        problems.append(f"stage {stage}: {action['name']} gives up {wait} min after ECS created the deployment, which can take {ctx.settings.ecs.strategy.worst_case.text}")
    if wait > tb.LAMBDA_ACTION_LIMIT_MINUTES:
        problems.append(f"stage {stage}: {action['name']} may keep checking {wait} min, more than the Lambda invoke action's {tb.LAMBDA_ACTION_LIMIT_MINUTES}")
    return problems


def bake_condition(ctx: Context, stage: str, rule: dict) -> list[str]:
    config = rule["configuration"]
    wait, detection = int(config["WaitTime"]), tb.detection_minutes(ctx.result, config["AlarmName"])
    if wait < detection:
        return [f"stage {stage}: bake {rule['name']} watches {config['AlarmName']} for {wait} min, which needs {detection:g} min of bad data to enter ALARM"]
    return []


RESOURCES: dict[str, Check | str] = {
    "aws:ecs/service:Service": check_ecs_service,
    "aws:eks/cluster:Cluster": check_eks_cluster,
    "aws:eks/addon:Addon": check_eks_addon,
    "aws:lambda/function:Function": check_function,
    "aws:codebuild/project:Project": check_project,
    "aws:codepipeline/pipeline:Pipeline": check_pipeline,
    **dict.fromkeys(
        (
            "aws:lb/loadBalancer:LoadBalancer",
            "aws:lb/listener:Listener",
            "aws:ec2/natGateway:NatGateway",
            "aws:ec2/vpc:Vpc",
            "aws:ec2/subnet:Subnet",
            "aws:ec2/internetGateway:InternetGateway",
            "aws:ec2/routeTable:RouteTable",
            "aws:ec2/routeTableAssociation:RouteTableAssociation",
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "aws:ec2/eip:Eip",
            "aws:wafv2/webAclAssociation:WebAclAssociation",
            "aws:s3/bucket:Bucket",
            "aws:iam/role:Role",
            "aws:kms/key:Key",
            "aws:ecs/cluster:Cluster",
            "aws:eks/accessEntry:AccessEntry",
            "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        ),
        AWS_STATE,
    ),
    **dict.fromkeys(
        (
            "aws:cloudtrail/trail:Trail",
            "aws:cloudwatch/compositeAlarm:CompositeAlarm",
            "aws:cloudwatch/dashboard:Dashboard",
            "aws:cloudwatch/eventRule:EventRule",
            "aws:cloudwatch/eventTarget:EventTarget",
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "aws:codebuild/reportGroup:ReportGroup",
            "aws:codecommit/approvalRuleTemplate:ApprovalRuleTemplate",
            "aws:codecommit/approvalRuleTemplateAssociation:ApprovalRuleTemplateAssociation",
            "aws:codecommit/repository:Repository",
            "aws:codestarconnections/connection:Connection",
            "aws:ec2/flowLog:FlowLog",
            "aws:ecr/lifecyclePolicy:LifecyclePolicy",
            "aws:ecr/repository:Repository",
            "aws:ecr/repositoryPolicy:RepositoryPolicy",
            "aws:ecs/taskDefinition:TaskDefinition",
            "aws:iam/rolePolicy:RolePolicy",
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "aws:lambda/permission:Permission",
            "aws:lb/listenerRule:ListenerRule",
            "aws:lb/targetGroup:TargetGroup",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "aws:s3/bucketLogging:BucketLogging",
            "aws:s3/bucketNotification:BucketNotification",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketVersioning:BucketVersioning",
            "aws:signer/signingProfile:SigningProfile",
            "aws:sns/topic:Topic",
            "aws:sns/topicPolicy:TopicPolicy",
            "aws:sns/topicSubscription:TopicSubscription",
            "aws:ssm/parameter:Parameter",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:wafv2/webAcl:WebAcl",
            "pulumi:pulumi:StackReference",
        ),
        NO_WAIT,
    ),
}

ACTIONS = {
    ("Source", "AWS", "CodeCommit"): no_budget,
    ("Source", "AWS", "CodeStarSourceConnection"): no_budget,
    ("Source", "AWS", "S3"): no_budget,
    # A person answers; the action's own limit (7 days by default) is the team's, not a computed wait.
    ("Approval", "AWS", "Manual"): no_budget,
    ("Build", "AWS", "CodeBuild"): codebuild_action,
    ("Deploy", "AWS", "ECS"): ecs_action,
    ("Invoke", "AWS", "Lambda"): lambda_action,
    # AWS's managed scan of an image: nothing the stack configures lengthens it, and CodePipeline ends it after the
    # hour every action without a configurable timeout gets (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
    ("Invoke", "AWS", "InspectorScan"): no_budget,
}

CONDITIONS = {
    ("onSuccess", "CloudWatchAlarm"): bake_condition,
    # Entry conditions look once, when the stage is entered: no wait.
    ("beforeEntry", "CloudWatchAlarm"): no_budget,
    ("beforeEntry", "DeploymentWindow"): no_budget,
}

LAMBDA_ACTIONS = {"functions.ecs_verify_deployment.handler": verifier_action}


# -- the longest paths of the functions ------------------------------------------------------------


def verifier_worst_path(ctx: Context, function: Resource) -> tb.Invocation:
    """The first invocation, with the most pages of deployments the function reads, then a SUCCESSFUL deployment:
    every call it can make in one invocation."""
    from functions.ecs_verify_deployment import MAX_PAGES

    pipeline = ctx.result.one("aws:codepipeline/pipeline:Pipeline").inputs
    [action] = [a for s in pipeline["stages"] for a in s["actions"] if (a.get("configuration") or {}).get("FunctionName") == function.inputs["name"]]
    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/repo@{DIGEST}"
    # The supply-chain gate's variables, from VerifyImage (building) or CheckVerified (promoting).
    evidence = (("SBOM_URI", f"s3://records-bucket/sbom/{DIGEST}.json"), ("SCAN_VERDICT", "PASSED"))
    gate = {f"{ns}.{name}": value for ns in ("SupplyVariables", "BuildVariables") for name, value in evidence}
    parameters = runtime.resolve(action["configuration"]["UserParameters"], {**gate, "BuildVariables.IMAGE_URI": image, "BuildVariables.COMMIT_ID": COMMIT})
    params = json.loads(parameters)
    prefix = "arn:aws:ecs:us-east-1:123456789012"
    deployment = f"{prefix}:service-deployment/{params['cluster']}/{params['service']}/d"
    revision = f"{prefix}:service-revision/{params['cluster']}/{params['service']}/1"
    respond = verifier_answers(deployment, revision, params["container"], DIGEST, pages=MAX_PAGES)

    event = {
        "CodePipeline.job": {
            "id": "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d",
            "accountId": "123456789012",
            "data": {"actionConfiguration": {"configuration": {"UserParameters": parameters}}},
        }
    }
    run = tb.invoke(function.inputs["handler"], function.inputs["environment"]["variables"], event, respond)
    assert [op for _, op in run.calls] == ["ListServiceDeployments"] * MAX_PAGES + [
        "DescribeServiceDeployments",
        "DescribeServiceRevisions",
        "BatchGetImage",
        "PutMetricData",
        "PutJobSuccessResult",
    ]
    return run


def collector_worst_path(ctx: Context, function: Resource) -> tb.Invocation:
    env = function.inputs["environment"]["variables"]
    event = {"account": env["UPSTREAM_ACCOUNT"], "detail": {"pipeline": env["UPSTREAM_PIPELINE"], "state": "SUCCEEDED", "execution-id": "e1"}}

    def respond(service: str, operation: str, request: dict) -> dict:
        if operation == "DescribeImages":
            return {"imageDetails": [{"imageDigest": DIGEST, "imageTags": [COMMIT[:7], f"verified-{COMMIT[:7]}", "execution-e1"]}]}
        return {"VersionId": "v1"}

    run = tb.invoke(function.inputs["handler"], env, event, respond)
    assert [op for _, op in run.calls] == ["DescribeImages", "PutObject"]
    return run


def canary_judge_worst_path(ctx: Context, function: Resource) -> tb.Invocation:
    """An invocation at a traffic shift that judges: the deployment, then the metrics (every call it makes)."""
    from datetime import UTC, datetime

    started = datetime(2026, 1, 1, tzinfo=UTC)
    event = {
        "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
        "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/d",
        "executionDetails": {"targetServiceRevisionArn": "r2", "productionTrafficWeights": {"r2": 100, "r1": 0}},
    }

    def respond(service: str, operation: str, request: dict) -> dict:
        if operation == "DescribeServiceDeployments":
            return {"serviceDeployments": [{"status": "IN_PROGRESS", "startedAt": started}]}
        return {"MetricDataResults": []}

    run = tb.invoke(function.inputs["handler"], function.inputs["environment"]["variables"], event, respond)
    assert [op for _, op in run.calls] == ["DescribeServiceDeployments", "GetMetricData"]
    return run


def check_canary_judge(ctx: Context, function: Resource) -> list[str]:
    """Its longest invocation fits its timeout, and the init limit and the timeout fit what the deployment's worst case
    counts for one invocation at each traffic shift."""
    from components.settings import CANARY_JUDGE_INVOCATION_MAX_SECONDS

    problems = check_invocation(ctx, function)
    held = tb.LAMBDA_INIT_LIMIT_SECONDS + function.inputs["timeout"]
    if held > CANARY_JUDGE_INVOCATION_MAX_SECONDS:
        problems.append(f"{function.name}: one invocation can hold a traffic shift {held:g} s, more than the {CANARY_JUDGE_INVOCATION_MAX_SECONDS} s the worst case counts")
    return problems


FUNCTIONS: dict[str, Check] = {
    "functions.ecs_canary_hook.handler": check_canary_judge,
    "functions.ecs_smoke_test.handler": check_smoke_test,
    "functions.ecs_verify_deployment.handler": check_invocation,
    "promotion_collector.handler": check_invocation,
}
WORST_PATHS = {
    "functions.ecs_verify_deployment.handler": verifier_worst_path,
    "promotion_collector.handler": collector_worst_path,
    "functions.ecs_canary_hook.handler": canary_judge_worst_path,
}


# -- the variants and the steps' longest runs ------------------------------------------------------


@pytest.fixture(scope="module")
def variants(ecs_config) -> dict[str, tuple[str, dict]]:
    return tb.variants(ecs_config)


@pytest.fixture(scope="module")
def step_tallies(evaluate, dev, ecs_config) -> dict[str, tb.StepTally]:
    """Every CodeBuild step kind run on its longest path against the stand-ins (the deliveries of tests/delivery.py,
    shared with tests/test_authorization.py: build, the EKS deploy step also rolling back, Release, Publish; the
    promotion's Check, the ECS record step): step kind -> the most calls a run of it made."""
    from tests.delivery import delivered

    tallies: dict[str, tb.StepTally] = {}
    for label, result, upstream in (("dev-eks", evaluate("dev", deployTarget="eks"), None), ("prod-ecs", evaluate("prod", **ecs_config("prod")), dev)):
        for project, run in delivered(label, result, upstream).runs:
            kind = tb.project_kind(project)
            tallies[kind] = tallies.get(kind, tb.StepTally()).merge(tb.tally_lines(run.commands))
    return tallies


LABELS = (
    "dev",
    "prod",
    "dev-eks",
    "prod-ecs",
    "dev-blue-green",
    "dev-blue-green-longest",
    "dev-canary",
    "dev-canary-longest",
    "dev-linear",
    "dev-linear-longest",
    "prod-ecs-longest",
    "prod-shortest-bake",
    "dev-eks-longest",
)


def context(label: str, variants, evaluate, step_tallies) -> Context:
    stack, overrides = variants[label]
    return Context(label, evaluate(stack, **overrides), tb.settings_of(stack, overrides), step_tallies)


def test_the_variants_are_the_ones_listed(variants):
    assert tuple(variants) == LABELS


def problems_of(ctx: Context, resources: list[Resource]) -> list[str]:
    problems = []
    for resource in resources:
        if not resource.custom:
            continue
        rule = RESOURCES.get(resource.type)
        if rule is None:
            problems.append(f"{resource.type} ({resource.name}) has no time rule in tests/test_time_budgets.py: classify it")
        elif callable(rule):
            problems += rule(ctx, resource)
    return problems


@pytest.mark.parametrize("label", LABELS)
def test_every_wait_fits_its_budget(label, variants, evaluate, step_tallies):
    ctx = context(label, variants, evaluate, step_tallies)
    problems = problems_of(ctx, ctx.result.resources)
    assert not problems, f"{len(problems)} wait(s) over budget in {label}:\n" + "\n".join(problems)


# -- the rule table itself ----------------------------------------------------------------------------


def test_a_wait_without_a_rule_fails_the_check(variants, evaluate, step_tallies):
    """A new resource type, action provider, condition rule, function handler or step kind is a finding until a rule
    for it is added here."""
    ctx = context("prod-ecs", variants, evaluate, step_tallies)
    unknown = Resource(type="aws:rds/cluster:Cluster", name="db", urn="urn", parent_urn=None, custom=True, inputs={})
    assert problems_of(ctx, [unknown]) == ["aws:rds/cluster:Cluster (db) has no time rule in tests/test_time_budgets.py: classify it"]
    pipeline = ctx.result.one("aws:codepipeline/pipeline:Pipeline")
    stages = [dict(s) for s in pipeline.inputs["stages"]]
    stages[-1] = {**stages[-1], "actions": [*stages[-1]["actions"], {"name": "Wait", "category": "Invoke", "owner": "AWS", "provider": "StepFunctions"}]}
    stages[-1]["onSuccess"] = {"condition": {"result": "FAIL", "rules": [{"name": "Tests", "ruleTypeId": {"provider": "LambdaInvoke"}, "configuration": {}}]}}
    changed = Resource(type=pipeline.type, name=pipeline.name, urn=pipeline.urn, parent_urn=None, custom=True, inputs={**pipeline.inputs, "stages": stages})
    last = stages[-1]["name"]
    assert [p for p in check_pipeline(ctx, changed) if "no time rule" in p] == [
        f"stage {last}: action Wait (Invoke/AWS/StepFunctions) has no time rule in tests/test_time_budgets.py",
        f"stage {last}: onSuccess rule Tests (LambdaInvoke) has no time rule in tests/test_time_budgets.py",
    ]
    function = next(f for f in ctx.result.of_type("aws:lambda/function:Function") if f.inputs["handler"] == "functions.ecs_smoke_test.handler")
    other = Resource(type=function.type, name="f", urn="urn:f", parent_urn=None, custom=True, inputs={**function.inputs, "handler": "functions.other.handler"})
    assert check_function(ctx, other) == ["f: handler functions.other.handler has no time rule in tests/test_time_budgets.py"]
    project = ctx.result.of_type("aws:codebuild/project:Project")[0]
    renamed = Resource(type=project.type, name="p", urn="urn:p", parent_urn=None, custom=True, inputs={**project.inputs, "name": "container-cicd-prod-app-migrate"})
    assert check_project(ctx, renamed) == [
        "container-cicd-prod-app-migrate: no worst-case run for a 'migrate' step; add its longest path to the runs in tests/test_time_budgets.py"
    ]
