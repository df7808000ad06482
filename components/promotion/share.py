"""What a building stack grants the promoting stacks in other accounts (promoteToAccounts), and no more:

- its ECR repository's policy lets those accounts pull and describe images (not push, not tag, not
  delete). The repository stays encrypted with the AWS managed aws/ecr key: ECR decrypts a pulled
  image under the grant it holds on that key for the repository
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html), so a puller needs
  no KMS permission and no key policy has to name the other accounts;
- its pipeline's "execution succeeded" events are forwarded to those accounts' default event buses,
  where their collectors pick them up (each account allows this one on its bus: promoteFromAccount).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import Statement
from components.iam import policy_document, service_role
from components.promotion.contract import succeeded_pattern

# Pull an image (the ECS agent, EKS nodes) and read its tags (the downstream's collector and Check step).
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer")


def pull_statement(accounts: Sequence[str], context: AwsContext) -> Statement:
    return {
        "Sid": "PromotingAccountsPull",
        "Effect": "Allow",
        # The accounts' roots: each account decides with IAM which of its roles may use the grant
        # (its Check step, collector, task execution role or nodes).
        "Principal": {"AWS": [context.arn("iam", "root", region=False, account=account) for account in accounts]},
        "Action": list(PULL_ACTIONS),
    }


def repository_policy(name: str, repository_name: pulumi.Input[str], accounts: Sequence[str], context: AwsContext, parent: pulumi.Resource) -> aws.ecr.RepositoryPolicy:
    """The repository's policy: pull and describe for `accounts`. (A repository has one policy; this stack owns it.)"""
    return aws.ecr.RepositoryPolicy(
        name,
        repository=repository_name,
        policy=policy_document([pull_statement(accounts, context)]),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def event_bus_arn(context: AwsContext, account: str) -> pulumi.Output[str]:
    """The default event bus of `account` in this stack's region."""
    return context.arn("events", "event-bus/default", account=account)


def forward_pipeline_events(
    name: str,
    pipeline_name: str,
    accounts: Sequence[str],
    context: AwsContext,
    *,
    parent: pulumi.Resource,
    tags: dict[str, str],
) -> aws.cloudwatch.EventRule:
    """A rule on this account's default bus that sends the pipeline's succeeded executions to every
    account's default bus, through a role that may put events on those buses only.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html"""
    buses = [event_bus_arn(context, account) for account in accounts]
    rule = aws.cloudwatch.EventRule(
        name,
        description=f"Forward the succeeded executions of {pipeline_name} to the accounts that promote from it",
        event_pattern=pulumi.Output.json_dumps(succeeded_pattern(context.account_id, pipeline_name)),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    role = service_role(
        f"{name}-role",
        "events.amazonaws.com",
        [{"Sid": "PutOnPromotingAccountsBuses", "Effect": "Allow", "Action": "events:PutEvents", "Resource": buses}],
        parent=parent,
        tags=tags,
        description=f"Lets EventBridge forward the succeeded executions of {pipeline_name} to the promoting accounts",
    )
    for account, bus in zip(accounts, buses, strict=True):
        aws.cloudwatch.EventTarget(
            f"{name}-to-{account}",
            rule=rule.name,
            arn=bus,
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=rule),
        )
    return rule
