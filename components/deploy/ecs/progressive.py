"""ECS blue/green, canary and linear deployments (the service's deploymentConfiguration.strategy): what the
service needs besides the load balancer's second target group, rules and test listener
(components/network/traffic_shift.py):

- the infrastructure role ECS re-weights the listener rules and registers tasks with;
- the smoke-test hook (functions/ecs_smoke_test.py) at POST_TEST_TRAFFIC_SHIFT, in the private subnets, and
  the role ECS invokes it with;
- canary and linear: the canary judge hook (judge.py, functions/ecs_canary_hook.py) at PRODUCTION_TRAFFIC_SHIFT,
  invoked with the same role;
- the service's deploymentConfiguration and its load balancer's advancedConfiguration.

A rolling update needs none of it: `deployment_configuration` then names ROLLING and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import DeployInputs
from components.deploy.ecs.functions import ROUTED_SMOKE_TEST, functions_archive
from components.deploy.ecs.judge import JUDGE_STAGE, canary_judge
from components.iam import service_role
from components.lambdas import INIT_LIMIT_SECONDS, FunctionVpc, StackFunction, stack_function
from components.naming import physical_name
from components.network.attach import Attachment
from components.network.traffic_shift import TrafficShift
from components.settings import SMOKE_TEST_HOOK_MAX_MINUTES, DeploymentStrategyKind, DeploymentStrategySettings
from functions.ecs_smoke_test import STAGE, WORST_CASE_SECONDS

# ECS manages the load balancer for blue/green, canary and linear deployments with this AWS managed policy
# (v6: describe listeners, rules, target groups and health; register and deregister targets; modify ALB and
# NLB listeners and ALB listener rules). It has no condition on resource tags, so the stack's target
# groups, rules and listeners need no tags for it.
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
LOAD_BALANCER_POLICY = "AmazonECSInfrastructureRolePolicyForLoadBalancers"

# The smoke test's pace: one request may take 5 s, and a failed attempt is retried 15 s later. The number of
# attempts then follows from the hook's budget (smoke_test_attempts).
SMOKE_TEST_REQUEST_TIMEOUT_SECONDS = 5
SMOKE_TEST_RETRY_DELAY_SECONDS = 15
# Room for the function's start-up in one invocation, on top of its requests.
LAMBDA_START_SECONDS = 5

# `pulumi up` waits for the service's deployment (wait_for_steady_state): the provider's create and update wait
# until the newest service deployment is SUCCESSFUL, through a blue-green, canary or linear deployment's hook and
# bakes, and fail on ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED or STOPPED, for 20 minutes unless custom_timeouts say
# otherwise (terraform-provider-aws internal/service/ecs/service.go: waitServiceStable; the wait on the deployment's
# status came with https://github.com/hashicorp/terraform-provider-aws/pull/43434).
PROVIDER_SERVICE_WAIT_MINUTES = 20
# Past the deployment's worst case: ECS starting the deployment after the call, and the provider's last poll.
SERVICE_WAIT_MARGIN_MINUTES = 5


def smoke_test_attempts(n_paths: int) -> int:
    """The most attempts that still answer FAILED within SMOKE_TEST_HOOK_MAX_MINUTES, the time the deployment's
    worst case counts for the hook: each attempt one invocation, which may run Lambda's init limit and the
    function's whole timeout, with the retry delay between two. `n_paths` counts the health path. At least 1 (one
    invocation of 21 paths takes 120 s)."""
    budget = SMOKE_TEST_HOOK_MAX_MINUTES * 60
    invocation = INIT_LIMIT_SECONDS + smoke_test_timeout_seconds(n_paths)
    attempts = 1
    while attempts < 100 and (attempts + 1) * invocation + attempts * SMOKE_TEST_RETRY_DELAY_SECONDS <= budget:
        attempts += 1
    return attempts


def smoke_test_timeout_seconds(n_paths: int) -> int:
    """The Lambda timeout: one attempt (every request to its deadline) plus start-up."""
    return math.ceil(WORST_CASE_SECONDS(1, 0, SMOKE_TEST_REQUEST_TIMEOUT_SECONDS, n_paths)) + LAMBDA_START_SECONDS


def smoke_test_environment(
    test_url: pulumi.Input[str], health_path: str, smoke_paths: Sequence[str], host_header: str | None = None, path_prefix: str = ""
) -> dict[str, pulumi.Input[str]]:
    """The hook's environment (its contract: functions/ecs_smoke_test.py, and functions/routed_smoke_test.py with
    `host_header`). What a routed service's test rule matches: `host_header` its host (sent as the Host header),
    `path_prefix` its path prefix (every path requested starts with it). Omitted: the load balancer's name, no prefix."""
    n_paths = 1 + len(smoke_paths)
    environment: dict[str, pulumi.Input[str]] = {
        "TEST_BASE_URL": test_url,
        "HEALTH_PATH": path_prefix + health_path,
        "SMOKE_PATHS": pulumi.Output.json_dumps([path_prefix + path for path in smoke_paths]),
        "REQUEST_TIMEOUT_SECONDS": str(SMOKE_TEST_REQUEST_TIMEOUT_SECONDS),
        "MAX_ATTEMPTS": str(smoke_test_attempts(n_paths)),
        "RETRY_DELAY_SECONDS": str(SMOKE_TEST_RETRY_DELAY_SECONDS),
    }
    if host_header is not None:
        environment["TEST_HOST_HEADER"] = host_header
    return environment


def service_wait_minutes(strategy: DeploymentStrategySettings) -> int:
    """How long `pulumi up` waits for the service's create or update: the strategy's worst case and a margin,
    never less than the provider's default."""
    return max(PROVIDER_SERVICE_WAIT_MINUTES, strategy.worst_case.minutes + SERVICE_WAIT_MARGIN_MINUTES)


def service_timeouts(strategy: DeploymentStrategySettings) -> pulumi.CustomTimeouts | None:
    """The service's custom_timeouts for `service_wait_minutes`; None when the provider's default is that long
    (a rolling update)."""
    minutes = service_wait_minutes(strategy)
    if minutes == PROVIDER_SERVICE_WAIT_MINUTES:
        return None
    return pulumi.CustomTimeouts(create=f"{minutes}m", update=f"{minutes}m")


def deployment_configuration(
    strategy: DeploymentStrategySettings, hook: tuple[pulumi.Input[str], pulumi.Input[str]] | None = None, judge_arn: pulumi.Input[str] | None = None
) -> aws.ecs.ServiceDeploymentConfigurationArgsDict:
    """The service's deploymentConfiguration block; `hook`: (function ARN, invoke role ARN) of the smoke test;
    `judge_arn`: the canary judge's function, invoked with the same role.

    ROLLING is named too, not left out: the provider keeps a block the program leaves out (it is optional and
    computed), so a stack switched back from canary would keep deploying as a canary."""
    kind = strategy.kind
    if not kind.shifts_traffic:
        return {"strategy": kind.ecs_strategy}
    config: aws.ecs.ServiceDeploymentConfigurationArgsDict = {"strategy": kind.ecs_strategy, "bake_time_in_minutes": str(strategy.bake_minutes)}
    if kind is DeploymentStrategyKind.CANARY:
        config["canary_configuration"] = {"canary_percent": strategy.canary_percent, "canary_bake_time_in_minutes": str(strategy.canary_bake_minutes)}
    elif kind is DeploymentStrategyKind.LINEAR:
        config["linear_configuration"] = {"step_percent": strategy.linear_step_percent, "step_bake_time_in_minutes": str(strategy.linear_step_bake_minutes)}
    if hook is not None:
        # No timeout_configuration: pulumi-aws documents it for PAUSE hooks only. The hook answers FAILED
        # within its own budget (smoke_test_attempts) instead.
        config["lifecycle_hooks"] = [{"hook_target_arn": hook[0], "role_arn": hook[1], "lifecycle_stages": [STAGE], "target_type": "AWS_LAMBDA"}]
        if judge_arn is not None:
            config["lifecycle_hooks"].append({"hook_target_arn": judge_arn, "role_arn": hook[1], "lifecycle_stages": [JUDGE_STAGE], "target_type": "AWS_LAMBDA"})
    return config


@dataclass(frozen=True)
class Progressive:
    """What the service takes from a traffic-shifting strategy."""

    advanced_configuration: aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgsDict
    """loadBalancers[0].advancedConfiguration: the alternate target group, the two rules, the infrastructure role."""
    deployment_configuration: aws.ecs.ServiceDeploymentConfigurationArgsDict
    """The service's deploymentConfiguration block."""
    depends_on: Sequence[pulumi.Resource]
    """What must exist before the service besides its attachment's rules: the managed-policy attachment (a role's
    ARN does not wait for a managed policy)."""
    smoke_test: StackFunction
    canary_judge: StackFunction | None
    """Canary and linear: the judge hook at every production traffic shift. None: blue-green (no judge)."""
    hook_role_arn: pulumi.Output[str]
    infrastructure_role: aws.iam.Role


def progressive(
    name: str,
    *,
    parent: pulumi.Resource,
    inputs: DeployInputs,
    strategy: DeploymentStrategySettings,
    name_prefix: str,
    attachment: Attachment,
    shift: TrafficShift,
    context: AwsContext,
    cluster_name: str,
    service_name: str,
) -> Progressive:
    """The roles, the smoke-test hook, the canary judge hook (canary, linear) and the service's configuration for a
    blue-green, canary or linear strategy."""
    tags = inputs.tags
    infrastructure = service_role(
        f"{name}-lb-role",
        "ecs.amazonaws.com",
        [],
        parent=parent,
        tags=tags,
        description="ECS infrastructure role: shifts the load balancer's traffic between the target groups",
    )
    policy = aws.iam.RolePolicyAttachment(
        f"{name}-lb-role-policy",
        role=infrastructure.role.name,
        policy_arn=context.managed_policy(LOAD_BALANCER_POLICY),
        opts=pulumi.ResourceOptions(parent=infrastructure.role),
    )
    smoke_test = _smoke_test(name, parent=parent, inputs=inputs, strategy=strategy, name_prefix=name_prefix, shift=shift, context=context)
    judge = None
    if strategy.judge is not None:
        judge = canary_judge(
            name,
            parent=parent,
            inputs=inputs,
            rules=strategy.judge,
            name_prefix=name_prefix,
            attachment=attachment,
            shift=shift,
            cluster_name=cluster_name,
            service_name=service_name,
            context=context,
        )
    invoke: list = [{"Sid": "InvokeSmokeTest", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": smoke_test.function.arn}]
    if judge is not None:
        invoke.append({"Sid": "InvokeCanaryJudge", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": judge.function.arn})
    hook_role = service_role(
        f"{name}-hook-role",
        "ecs.amazonaws.com",
        # ECS invokes the hooks with this role; no resource policy on the functions is needed.
        # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-permissions.html
        invoke,
        parent=parent,
        tags=tags,
        description="ECS invokes the smoke-test lifecycle hook with this role",
    )
    return Progressive(
        advanced_configuration={
            "alternate_target_group_arn": shift.alternate_target_group.arn,
            "production_listener_rule": shift.production_rule.arn,
            "test_listener_rule": shift.test_rule.arn,
            "role_arn": infrastructure.arn,
        },
        deployment_configuration=deployment_configuration(strategy, (smoke_test.function.arn, hook_role.arn), judge.function.arn if judge else None),
        depends_on=[policy],
        smoke_test=smoke_test,
        canary_judge=judge,
        hook_role_arn=hook_role.arn,
        infrastructure_role=infrastructure.role,
    )


def _smoke_test(
    name: str, *, parent: pulumi.Resource, inputs: DeployInputs, strategy: DeploymentStrategySettings, name_prefix: str, shift: TrafficShift, context: AwsContext
) -> StackFunction:
    """The hook runs in the private subnets: its requests leave through the NAT gateways, whose addresses
    the test listener admits. Its security group lets it out to the test port only."""
    network = inputs.network
    hook_sg = aws.ec2.SecurityGroup(
        f"{name}-smoke-test-sg",
        description="Smoke-test hook: out to the load balancer's test port only",
        vpc_id=network.vpc_id,
        tags=inputs.tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-smoke-test-out",
        security_group_id=hook_sg.id,
        # The internet-facing load balancer's addresses are public and change; the listener itself admits
        # only the NAT gateways and testListenerCidrs.
        description=f"To the load balancer's test listener (port {strategy.test_listener_port})",
        ip_protocol="tcp",
        from_port=strategy.test_listener_port,
        to_port=strategy.test_listener_port,
        cidr_ipv4="0.0.0.0/0",
        opts=pulumi.ResourceOptions(parent=hook_sg),
    )
    n_paths = 1 + len(strategy.smoke_test_paths)
    return stack_function(
        f"{name}-smoke-test",
        parent=parent,
        environment=inputs,
        function_name=physical_name(name_prefix, "smoke-test", 64),
        description="ECS lifecycle hook: smoke-tests the new revision through the test listener before production traffic moves",
        # A host-routed service's hook names its host in every request (its test rule matches on it).
        handler="functions.routed_smoke_test.handler" if shift.test_host else "functions.ecs_smoke_test.handler",
        timeout_seconds=smoke_test_timeout_seconds(n_paths),
        code=functions_archive(ROUTED_SMOKE_TEST) if shift.test_host else functions_archive(),
        variables=smoke_test_environment(shift.test_url, inputs.workload.health_check_path, strategy.smoke_test_paths, shift.test_host, shift.test_path_prefix),
        context=context,
        vpc=FunctionVpc(subnet_ids=network.private_subnet_ids, security_group_id=hook_sg.id),
        # The service's first deployment already runs the hook, which must get out of the private subnets by then.
        depends_on=network.private_egress,
    )
