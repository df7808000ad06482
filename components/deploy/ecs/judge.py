"""The canary judge's lifecycle hook (functions/ecs_canary_hook.py) for ECS canary and linear deployments: the
function, its role, and its environment (the load balancer, the two target groups, the rules).

Why a hook and not metric-math alarms (docs/safety.md, "Canary analysis"): an alarm cannot know which of the two
target groups holds the new revision (ECS alternates their roles from one deployment to the next) and runs outside
any deployment; the hook runs only at a deployment's traffic shifts and tells the groups apart.

The function runs outside the VPC: it calls AWS APIs only (ECS and CloudWatch), never the service.
"""

from __future__ import annotations

import pulumi

from components.aws_context import AwsContext
from components.contracts import DeployInputs, Statement
from components.deploy.ecs.functions import functions_archive
from components.lambdas import INIT_LIMIT_SECONDS, StackFunction, stack_function
from components.naming import physical_name
from components.network.attach import Attachment
from components.network.traffic_shift import TrafficShift
from components.settings import CANARY_JUDGE_INVOCATION_MAX_SECONDS, CanaryJudgeSettings
from functions.ecs_canary_hook import STAGE

# The function's timeout: what the deployment's worst case counts for one invocation, less Lambda's init limit.
TIMEOUT_SECONDS = CANARY_JUDGE_INVOCATION_MAX_SECONDS - INIT_LIMIT_SECONDS
# The lifecycle stage the hook is registered for (ECS invokes it at every production traffic shift).
JUDGE_STAGE = STAGE


def judge_statements(context: AwsContext, cluster_name: str, service_name: str) -> list[Statement]:
    """DescribeServiceDeployments is authorized against the deployment and the service it belongs to, both required
    (Service Authorization Reference, Amazon ECS); cloudwatch:GetMetricData supports no resource-level permission
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html), so `*`."""
    service = context.arn("ecs", f"service/{cluster_name}/{service_name}")
    return [
        {
            "Sid": "DescribeDeployment",
            "Effect": "Allow",
            "Action": "ecs:DescribeServiceDeployments",
            "Resource": [context.arn("ecs", f"service-deployment/{cluster_name}/{service_name}/*"), service],
        },
        {"Sid": "ReadTargetGroupMetrics", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"},
    ]


def judge_environment(load_balancer: pulumi.Input[str], target_groups: tuple[pulumi.Input[str], pulumi.Input[str]], rules: CanaryJudgeSettings) -> dict[str, pulumi.Input[str]]:
    """The hook's environment (its contract: functions/ecs_canary_hook.py)."""
    return {
        "LOAD_BALANCER": load_balancer,
        "TARGET_GROUPS": pulumi.Output.json_dumps(list(target_groups)),
        "RULES": pulumi.Output.json_dumps(rules.rules_json()),
    }


def canary_judge(
    name: str,
    *,
    parent: pulumi.Resource,
    inputs: DeployInputs,
    rules: CanaryJudgeSettings,
    name_prefix: str,
    attachment: Attachment,
    shift: TrafficShift,
    cluster_name: str,
    service_name: str,
    context: AwsContext,
) -> StackFunction:
    return stack_function(
        f"{name}-canary-judge",
        parent=parent,
        environment=inputs,
        function_name=physical_name(name_prefix, "canary-judge", 64),
        description="ECS lifecycle hook: judges the new revision against the old one on the same minutes at every production traffic shift",
        handler="functions.ecs_canary_hook.handler",
        timeout_seconds=TIMEOUT_SECONDS,
        code=functions_archive(),
        variables=judge_environment(attachment.load_balancer_arn_suffix, (attachment.target_group_arn_suffix, shift.alternate_target_group.arn_suffix), rules),
        context=context,
        statements=judge_statements(context, cluster_name, service_name),
    )
