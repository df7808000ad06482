"""What a building stack grants the promoting stacks in other accounts (promoteToAccounts), and no more:

- its ECR repository's policy lets those accounts pull and describe images (not push, not tag, not
  delete). The repository stays encrypted with the AWS managed aws/ecr key: ECR decrypts a pulled
  image under the grant it holds on that key for the repository
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html), so a puller needs
  no KMS permission and no key policy has to name the other accounts;
- its pipeline's "execution succeeded" events are forwarded to those accounts' default event buses,
  where their collectors pick them up (each account allows this one on its bus: promoteFromAccount);
- the SBOMs its scan keeps: its records bucket's policy lets those accounts read `sbom/*`
  (components/supply/records.py), and the key that encrypts the bucket lets them decrypt through S3
  for that bucket only (`records_key_policy`): a promoting stack rescans the SBOM of what it promotes.
  The signature needs no grant: it is an OCI referrer in the repository (pulled with the grant above),
  and AWS Signer's revocation check is the verifier's own call.
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


def records_key_statements(accounts: Sequence[str], records_bucket_arn: pulumi.Input[str], context: AwsContext) -> list[Statement]:
    """The key policy of the key that encrypts the records bucket: the account's IAM decides as with KMS's default
    policy, and `accounts` may decrypt only through S3 and only objects of the records bucket. The bucket uses an
    S3 Bucket Key, so S3 asks KMS with the bucket's ARN as encryption context
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html); a reader in another account needs the
    key policy's grant besides its own IAM policy (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html)."""
    return [
        {
            # KMS's default key policy: without it the account's own IAM policies could no longer use or administer the key.
            # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
            "Sid": "EnableIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": context.arn("iam", "root", region=False)},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "PromotingAccountsReadSboms",
            "Effect": "Allow",
            "Principal": {"AWS": [context.arn("iam", "root", region=False, account=account) for account in accounts]},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": pulumi.Output.concat("s3.", context.region, ".amazonaws.com"),
                    "kms:EncryptionContext:aws:s3:arn": records_bucket_arn,
                }
            },
        },
    ]


def records_key_policy(
    name: str, key_id: pulumi.Input[str], records_bucket_arn: pulumi.Input[str], accounts: Sequence[str], context: AwsContext, parent: pulumi.Resource
) -> aws.kms.KeyPolicy:
    """The records key's policy with the promoting accounts' grant (a key has one policy; this stack owns it). The key
    itself sets no policy, so the two never fight over it; removing the grant (no promoteToAccounts any more) deletes
    this resource, which puts KMS's default policy back (terraform-provider-aws internal/service/kms/key_policy.go,
    resourceKeyPolicyDelete)."""
    return aws.kms.KeyPolicy(
        name,
        key_id=key_id,
        policy=policy_document(records_key_statements(accounts, records_bucket_arn, context)),
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
