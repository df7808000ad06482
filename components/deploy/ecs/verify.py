"""The Deploy stage's VerifyDeployment action: after the ECS deploy action, a Lambda invoke action
(functions/ecs_verify_deployment.py) that succeeds only when ECS reports the newest deployment of the
service SUCCESSFUL and its revision runs the build's digest, and writes the deployment record.

Whether the ECS deploy action returns when the service is steady or only after a blue/green, canary or
linear deployment's final bake, the verifier covers the rest: it checks again (CodePipeline continuation
tokens) until the deployment is final, so the image is recorded only after ECS has finished.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import COMMIT_ID_VARIABLE, IMAGE_URI_VARIABLE, DeployInputs, GateVariables, Statement
from components.deploy.ecs.functions import functions_archive
from components.lambdas import StackFunction, stack_function
from components.naming import physical_name
from components.settings import DeploymentStrategyKind
from functions.deployment_record import METRIC_NAMESPACE
from functions.ecs_verify_deployment import INVOCATION_WORST_SECONDS

ACTION_NAME = "VerifyDeployment"
# One invocation lists the service's deployments (at most 20 pages), describes one deployment and its
# revision, puts the metrics and answers CodePipeline, each call cut by its client's timeouts and retries:
# the function's worst case, and a few seconds for the handler itself. With Lambda's 10 s init limit it still
# answers well within the 20 minutes after which CodePipeline fails a Lambda action that has not answered
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
TIMEOUT_SECONDS = INVOCATION_WORST_SECONDS + 10


def verify_statements(context: AwsContext, cluster_name: str, service_name: str, repository_arn: pulumi.Input[str]) -> list[Statement]:
    """What the verifier calls, on this service's ARNs only, and CloudWatch metrics in the deployment namespace only.

    DescribeServiceDeployments and DescribeServiceRevisions are authorized against two resource types, both
    required: the deployment (or revision) and the service it belongs to (Service Authorization Reference,
    Amazon ECS), so each statement names the service too."""
    service = context.arn("ecs", f"service/{cluster_name}/{service_name}")
    return [
        {"Sid": "ListDeployments", "Effect": "Allow", "Action": "ecs:ListServiceDeployments", "Resource": service},
        {
            "Sid": "DescribeDeployments",
            "Effect": "Allow",
            "Action": "ecs:DescribeServiceDeployments",
            "Resource": [context.arn("ecs", f"service-deployment/{cluster_name}/{service_name}/*"), service],
        },
        {
            "Sid": "DescribeRevisions",
            "Effect": "Allow",
            "Action": "ecs:DescribeServiceRevisions",
            "Resource": [context.arn("ecs", f"service-revision/{cluster_name}/{service_name}/*"), service],
        },
        {
            # The built image index, read only when ECS reports a platform manifest's digest instead of the index's.
            "Sid": "ReadBuiltIndex",
            "Effect": "Allow",
            "Action": "ecr:BatchGetImage",
            "Resource": repository_arn,
        },
        # The job result actions support no resource-level permissions (the job id is not an ARN).
        {"Sid": "AnswerPipeline", "Effect": "Allow", "Action": ["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"], "Resource": "*"},
        {
            "Sid": "DeploymentMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
        },
    ]


def user_parameters(cluster_name: str, service_name: str, strategy: DeploymentStrategyKind, container_name: str, gate: GateVariables | None = None) -> pulumi.Output[str]:
    """The action's UserParameters: the build's digest reference and commit come from the Build stage's
    variables, which CodePipeline resolves before it invokes the function; with a scanning supply-chain gate, the
    digest's SBOM and scan verdict come from the gate's, for the deployment record."""
    supply = {"sbom": gate.sbom_uri, "scan": gate.scan_verdict} if gate else {}
    return pulumi.Output.json_dumps(
        {
            "cluster": cluster_name,
            "service": service_name,
            "expectedImage": IMAGE_URI_VARIABLE,
            "commit": COMMIT_ID_VARIABLE,
            "strategy": strategy.value,
            "container": container_name,
            **supply,
        }
    )


@dataclass(frozen=True)
class Verifier:
    function: StackFunction
    action: aws.codepipeline.PipelineStageActionArgs

    def pipeline_statement(self) -> Statement:
        """The pipeline role invokes this function only. The Lambda invoke action reference names no other
        permission: https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Lambda.html"""
        return {"Sid": "InvokeVerifier", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": self.function.function.arn}


def verifier(
    name: str,
    *,
    parent: pulumi.Resource,
    inputs: DeployInputs,
    context: AwsContext,
    name_prefix: str,
    cluster_name: str,
    service_name: str,
    strategy: DeploymentStrategyKind,
    max_wait_minutes: int,
    run_order: int,
) -> Verifier:
    """`max_wait_minutes`: how long after ECS created the deployment the verifier keeps checking it (in time:
    CodePipeline chooses when it invokes the function again, and documents no interval); at least the
    deployment's worst case, at most the Lambda action's 24 hours."""
    function = stack_function(
        f"{name}-verify",
        parent=parent,
        environment=inputs,
        function_name=physical_name(name_prefix, "verify", 64),
        description="Pipeline action: succeeds only when ECS finished the deployment and runs the build's digest; writes the deployment record",
        handler="functions.ecs_verify_deployment.handler",
        timeout_seconds=TIMEOUT_SECONDS,
        code=functions_archive(),
        variables={"SERVICE_ID": name_prefix, "MAX_WAIT_MINUTES": str(max_wait_minutes)},
        context=context,
        statements=verify_statements(context, cluster_name, service_name, inputs.repository_arn),
    )
    action = aws.codepipeline.PipelineStageActionArgs(
        name=ACTION_NAME,
        category="Invoke",
        owner="AWS",
        provider="Lambda",
        version="1",
        run_order=run_order,
        configuration={
            "FunctionName": function.function.name,
            "UserParameters": user_parameters(cluster_name, service_name, strategy, inputs.workload.container_name, inputs.gate_variables),
        },
    )
    return Verifier(function=function, action=action)
