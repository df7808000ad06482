"""The collector: a Lambda function (functions/promotion_collector.py) that the upstream pipeline's
succeeded executions start, and that writes what they verified into the promotion inbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import Statement, StepEnvironment
from components.lambdas import invoked_by_rule, stack_function
from components.promotion.contract import INBOX_KEY, UpstreamContract, succeeded_pattern
from functions.promotion_collector import INVOCATION_WORST_SECONDS

FUNCTION_FILE = Path(__file__).resolve().parents[2] / "functions" / "promotion_collector.py"
HANDLER = "promotion_collector.handler"
# Its two calls, each cut by its client's timeouts and retries, and a few seconds for the handler itself.
TIMEOUT_SECONDS = INVOCATION_WORST_SECONDS + 10


@dataclass(frozen=True)
class CollectorArgs:
    function_name: str
    """Physical function name (unique per account and region; at most 64 characters)."""
    upstream: UpstreamContract
    """The upstream stack: its pipeline's events start the function; its registry holds the images."""
    container_name: str
    """This stack's container, named in the imagedefinitions.json the function writes."""
    inbox_bucket_name: pulumi.Input[str]
    """The promotion inbox the function writes `promotion.zip` into."""
    inbox_bucket_arn: pulumi.Input[str]
    """Its ARN: the function may write that one object only."""
    inbox_key_arn: pulumi.Input[str]
    """The inbox bucket's KMS key: the function encrypts the object it writes with it."""
    environment: StepEnvironment
    """Retention and key of the function's log group, and the tags of the component's children."""


def collector_statements(*, repository_arn: pulumi.Input[str], bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> list[Statement]:
    """Besides its logs: read the upstream image's tags; write the one inbox object, encrypted under the inbox key."""
    return [
        {"Sid": "ReadUpstreamImageTags", "Effect": "Allow", "Action": "ecr:DescribeImages", "Resource": repository_arn},
        {"Sid": "WritePromotion", "Effect": "Allow", "Action": "s3:PutObject", "Resource": pulumi.Output.concat(bucket_arn, f"/{INBOX_KEY}")},
        {
            # For S3's encryption of the inbox's objects: with an S3 Bucket Key the encryption context is the
            # bucket's ARN, without one the object's (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html).
            # A data key asked for directly under that context opens nothing: the role reads no object.
            "Sid": "EncryptPromotion",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": key_arn,
            "Condition": {"StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")]}},
        },
    ]


class Collector(pulumi.ComponentResource):
    """Outputs: `function_name`, `function_arn`, `rule_name`."""

    def __init__(self, name: str, args: CollectorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:promotion:Collector", name, None, opts)
        context = AwsContext(self)
        upstream = args.upstream
        tags = args.environment.tags
        function = stack_function(
            name,
            parent=self,
            environment=args.environment,
            function_name=args.function_name,
            description=f"Writes the image {upstream.stack} verified into this stack's promotion inbox",
            handler=HANDLER,
            code=pulumi.AssetArchive({FUNCTION_FILE.name: pulumi.FileAsset(str(FUNCTION_FILE))}),
            timeout_seconds=TIMEOUT_SECONDS,
            variables={
                "UPSTREAM_ACCOUNT": upstream.account_id,
                "UPSTREAM_PIPELINE": upstream.pipeline_name,
                "UPSTREAM_REPOSITORY": upstream.repository_name,
                "UPSTREAM_REPOSITORY_URL": upstream.repository_url,
                "CONTAINER_NAME": args.container_name,
                "INBOX_BUCKET": args.inbox_bucket_name,
            },
            context=context,
            statements=collector_statements(repository_arn=upstream.repository_arn, bucket_arn=args.inbox_bucket_arn, key_arn=args.inbox_key_arn),
            role_description=f"Lambda role of {args.function_name}: reads the upstream's image tags, writes the promotion inbox",
            logs_include_group=True,
        ).function
        rule = aws.cloudwatch.EventRule(
            f"{name}-on-upstream",
            description=f"Collect what an execution of {upstream.stack}'s pipeline verified",
            event_pattern=pulumi.Output.json_dumps(succeeded_pattern(upstream.account_id, upstream.pipeline_name)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        invoked_by_rule(name, rule, function)
        self.function_name = function.name
        self.function_arn = function.arn
        self.rule_name = rule.name
        self.register_outputs({"function_name": self.function_name, "function_arn": self.function_arn, "rule_name": self.rule_name})
