"""The path router: in a stack of several services on one CodeCommit branch, each service's pipeline starts only on
the pushes that change its files.

CodePipeline V2 filters a trigger's file paths for connection sources (GitHub, Bitbucket, GitLab: each service's
`sourceFilePaths` become its pipeline's trigger filter, components/delivery/source.py); a CodeCommit source has no
triggers, and the EventBridge rule that starts its pipeline sees the branch, not the files. So one rule per stack
sends each push to the branch to a Lambda function (functions/path_router.py) that asks CodeCommit which files the
push changed and starts only the pipelines whose patterns match one of them (the same glob rules as V2's filters;
no patterns: every push). The pipelines it starts have no start rule of their own
(`PipelineArgs.started_by_router`). A stack without `services` keeps its pipeline's own start rule.

Cost: one invocation of a 128 MiB function per push to the branch (well under a second: one GetDifferences call
per page of changes and one StartPipelineExecution per matching pipeline), within Lambda's free tier or a fraction
of a cent a month. Starting every pipeline on every push instead would run one CodeBuild build, one deployment (and
its approval, in production) per service per push.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import Statement, StepEnvironment
from components.delivery.source import branch_push_pattern
from components.lambdas import invoked_by_rule, stack_function
from components.naming import physical_name
from functions.path_router import MAX_PATTERNS, invocation_worst_seconds, pattern_problem

FUNCTION_FILE = Path(__file__).resolve().parents[2] / "functions" / "path_router.py"
HANDLER = "path_router.handler"
# Lambda's longest timeout (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# "Total size of all environment variables: 4 KB" (the same quotas page); the routes are one of them.
LAMBDA_ENVIRONMENT_MAX_BYTES = 4096
# A few seconds for the handler itself, besides its calls.
HANDLER_SECONDS = 10
# CodeCommit's longest repository name (CreateRepository): the size a repository name not known yet may take.
REPOSITORY_NAME_MAX = 100


def function_name(stack_prefix: str) -> str:
    """The router's physical name, from the stack's (shared parts') prefix; Lambda names take at most 64 characters."""
    return physical_name(stack_prefix, "path-router", 64)


@dataclass(frozen=True)
class RoutedPipeline:
    """A pipeline the router starts."""

    arn: pulumi.Input[str]
    """Its ARN (the Pipeline's output): the function may start it, and is created after it."""
    file_paths: Sequence[str]
    """Glob patterns (CodePipeline's trigger syntax): a push that changes a matching file starts it. Empty: every push."""


@dataclass(frozen=True)
class PathRouterArgs:
    function_name: str
    """Physical function name (unique per account and region; at most 64 characters)."""
    repository_name: pulumi.Input[str]
    """The CodeCommit repository the pipelines' Source actions read."""
    repository_arn: pulumi.Input[str]
    """Its ARN: the rule matches its events; the function may read its differences."""
    branch: str
    """The branch whose pushes start the pipelines (their Source actions' BranchName)."""
    pipelines: Mapping[str, RoutedPipeline]
    """The pipelines to route, by physical name (what StartPipelineExecution takes)."""
    environment: StepEnvironment
    """Retention and key of the function's log group, and the tags of the component's children."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags of the rule. Omitted: the environment's tags."""

    def routes(self) -> dict[str, list[str]]:
        """The function's ROUTES: {pipeline name: patterns}; ValueError (naming the pipeline and the pattern) first."""
        if not self.pipelines:
            raise ValueError("PathRouterArgs.pipelines: no pipeline to route; a stack without services keeps its pipeline's own start rule")
        for name, pipeline in self.pipelines.items():
            if len(pipeline.file_paths) > MAX_PATTERNS:
                raise ValueError(f"PathRouterArgs.pipelines[{name!r}]: {len(pipeline.file_paths)} patterns; CodePipeline's filters take at most {MAX_PATTERNS}")
            for pattern in pipeline.file_paths:
                if problem := pattern_problem(pattern):
                    raise ValueError(f"PathRouterArgs.pipelines[{name!r}]: {problem}")
        return {name: list(pipeline.file_paths) for name, pipeline in self.pipelines.items()}


def router_statements(repository_arn: pulumi.Input[str], pipeline_arns: Sequence[pulumi.Input[str]]) -> list[Statement]:
    """Besides its logs: read the repository's differences; start exactly the routed pipelines."""
    return [
        {"Sid": "ReadChangedFiles", "Effect": "Allow", "Action": "codecommit:GetDifferences", "Resource": repository_arn},
        {"Sid": "StartRoutedPipelines", "Effect": "Allow", "Action": "codepipeline:StartPipelineExecution", "Resource": list(pipeline_arns)},
    ]


def timeout_seconds(pipelines: int) -> int:
    """The function's timeout: its worst case (every call at its last retry) and the handler's own time."""
    worst = invocation_worst_seconds(pipelines) + HANDLER_SECONDS
    if worst > LAMBDA_MAX_TIMEOUT_SECONDS:
        raise ValueError(
            f"PathRouterArgs.pipelines: {pipelines} pipelines need a {worst} s timeout at worst, over Lambda's {LAMBDA_MAX_TIMEOUT_SECONDS} s; split the services over two stacks"
        )
    return worst


class PathRouter(pulumi.ComponentResource):
    """Outputs: `function_name`, `function_arn`, `rule_name`."""

    def __init__(self, name: str, args: PathRouterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:pipeline:PathRouter", name, None, opts)
        routes = json.dumps(args.routes(), separators=(",", ":"))
        variables: dict[str, pulumi.Input[str]] = {
            "REPOSITORY_NAME": args.repository_name,
            "BRANCH": args.branch,
            "ROUTES": routes,
        }
        size = sum(len(k.encode()) + (len(v.encode()) if isinstance(v, str) else REPOSITORY_NAME_MAX) for k, v in variables.items())
        if size > LAMBDA_ENVIRONMENT_MAX_BYTES:
            raise ValueError(
                f"PathRouterArgs.pipelines: the routes take {len(routes)} bytes of the function's environment, over Lambda's "
                f"{LAMBDA_ENVIRONMENT_MAX_BYTES} bytes for all its variables; shorten the services' sourceFilePaths (merge patterns with {{a,b}})"
            )
        tags = args.tags or dict(args.environment.tags)
        context = AwsContext(self)
        function = stack_function(
            name,
            parent=self,
            environment=args.environment,
            function_name=args.function_name,
            description=f"Starts the pipelines whose file paths a push to {args.branch} changed",
            handler=HANDLER,
            code=pulumi.AssetArchive({FUNCTION_FILE.name: pulumi.FileAsset(str(FUNCTION_FILE))}),
            timeout_seconds=timeout_seconds(len(args.pipelines)),
            variables=variables,
            context=context,
            statements=router_statements(args.repository_arn, [p.arn for p in args.pipelines.values()]),
            role_description=f"Lambda role of {args.function_name}: reads which files a push changed, starts the pipelines they route to",
            logs_include_group=True,
        ).function
        rule = aws.cloudwatch.EventRule(
            f"{name}-on-push",
            description=f"Route each push to {args.branch} to the pipelines whose files it changed",
            event_pattern=pulumi.Output.json_dumps(pulumi.Output.from_input(args.repository_arn).apply(lambda arn: branch_push_pattern(arn, args.branch))),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        invoked_by_rule(name, rule, function)
        self.function_name = function.name
        self.function_arn = function.arn
        self.rule_name = rule.name
        self.register_outputs({"function_name": self.function_name, "function_arn": self.function_arn, "rule_name": self.rule_name})
