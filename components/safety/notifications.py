"""Notifications: one KMS-encrypted SNS topic for everything delivery reports, and the EventBridge rules
that route deployment failures, critical image findings, pipeline failures and images the supply-chain gate
blocked to it.

Publishers: CloudWatch alarms (cloudwatch.amazonaws.com), EventBridge rules (events.amazonaws.com) and
the pipeline's manual approval action (the pipeline's own role, granted by `publish_statements`).

Pipeline events reach the topic through EventBridge, not CodeStar notification rules: the first
notification rule in a fresh account fails while AWS is still creating the service-linked role
AWSServiceRoleForCodeStarNotifications (ConfigurationException), and EventBridge needs no such role,
so the first `pulumi up` in a new account works.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import FailureEvents, Statement
from components.kms import encryption_key

# Service principals that publish to the topic; nothing else may (the account's own IAM principals
# still can through their identity policies: same-account access needs only one side to allow it).
PUBLISHERS = (
    "cloudwatch.amazonaws.com",
    "events.amazonaws.com",
)


@dataclass(frozen=True)
class NotificationsArgs:
    topic_name: str
    """Physical topic name (unique per account and region)."""
    emails: tuple[str, ...]
    """Email subscribers (notificationEmails). Empty: none (subscribe later, in the console or in config)."""
    https_endpoints: tuple[str, ...]
    """HTTPS subscribers (notificationHttpsEndpoints). Empty: none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""


@dataclass(frozen=True)
class ServiceEvents:
    """What one service reports to the topic (`Notifications.route`): its pipeline's failures, executions, approvals and
    blocked images, its registry's findings and its deploy target's own failure events."""

    pipeline_name: str
    """Pipeline whose failed actions and stages are routed to the topic."""
    repository_name: pulumi.Input[str]
    """ECR repository whose CRITICAL/HIGH scan findings are routed to the topic."""
    failure_events: Sequence[FailureEvents] = ()
    """The deploy target's own deployment-failure events, each routed by one rule. Omitted: only the
    pipeline's failed stages and actions report a failed deployment."""
    gate_actions: tuple[str, ...] = ()
    """The pipeline's supply-chain gate actions (`gate_actions(stages)`): a failure of one is reported as a blocked
    image. Omitted (the gate is off): no such rule."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the rules. Omitted: untagged."""


def key_policy(account_root: pulumi.Input[str]) -> dict[str, Any]:
    """The topic key: administered through IAM in this account, usable by the publishing services.

    SNS encrypts with the publisher's permissions, so every publishing service principal needs
    GenerateDataKey*/Decrypt on the key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": account_root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "PublishingServices",
                "Effect": "Allow",
                "Principal": {"Service": list(PUBLISHERS)},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }


def topic_policy(topic_arn: pulumi.Input[str], account_id: pulumi.Input[str]) -> dict[str, Any]:
    """Only the publishing services of this account may publish; nobody may use the topic without TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublishingServices",
                "Effect": "Allow",
                "Principal": {"Service": list(PUBLISHERS)},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                # Confused-deputy guard: only this account's alarms, rules and notification rules.
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def image_findings_pattern(repository_name: pulumi.Input[str]) -> dict[str, Any]:
    """A basic scan of an image in this repository found CRITICAL or HIGH vulnerabilities.

    https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html (event "ECR Image Scan").
    """
    return {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Scan"],
        "detail": {
            "scan-status": ["COMPLETE"],
            "repository-name": [repository_name],
            "finding-severity-counts": {
                "$or": [
                    {"CRITICAL": [{"numeric": [">", 0]}]},
                    {"HIGH": [{"numeric": [">", 0]}]},
                ]
            },
        },
    }


def pipeline_failures_pattern(pipeline_name: str) -> dict[str, Any]:
    """A stage or action of the pipeline failed: covers the deploy step of every target (the ECS deploy
    action, the EKS rollout step) with the failing action's name in the event."""
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change", "CodePipeline Stage Execution State Change"],
        "detail": {"pipeline": [pipeline_name], "state": ["FAILED"]},
    }


# Pipeline execution states a team hears about (failures also come per action and stage, above).
# https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html
PIPELINE_EXECUTION_STATES = ("STARTED", "SUCCEEDED", "FAILED", "SUPERSEDED", "STOPPED")


def pipeline_executions_pattern(pipeline_name: str) -> dict[str, Any]:
    """An execution of the pipeline started, succeeded, failed, was superseded or stopped."""
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"pipeline": [pipeline_name], "state": list(PIPELINE_EXECUTION_STATES)},
    }


def approval_needed_pattern(pipeline_name: str) -> dict[str, Any]:
    """A manual approval action of the pipeline is waiting for someone."""
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {"pipeline": [pipeline_name], "state": ["STARTED"], "type": {"category": ["Approval"]}},
    }


# The actions of the supply-chain gate (docs/supply-chain.md): a building stack's Scan stage scans (ImageScan,
# the InspectorScan action) and verifies (VerifyImage); a promoting stack's Check stage does both (CheckVerified).
GATE_ACTIONS = ("ImageScan", "VerifyImage", "CheckVerified")


def gate_actions(stages: Iterable[Any]) -> tuple[str, ...]:
    """The gate actions among the pipeline stages' actions (StageContributions), in GATE_ACTIONS order."""
    present = {str(action.name) for contribution in stages for action in contribution.stage.actions}
    return tuple(a for a in GATE_ACTIONS if a in present)


def image_blocked_pattern(pipeline_name: str, actions: Sequence[str]) -> dict[str, Any]:
    """A gate action of the pipeline failed: the image was refused (scan above the threshold, no valid signature).

    https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html
    """
    return {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {"pipeline": [pipeline_name], "state": ["FAILED"], "action": list(actions)},
    }


# What the topic receives for a blocked image: plain text (an InputTemplate that is not a JSON object is sent as
# text; its <placeholders> are InputPathsMap keys, letters and digits only).
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html
IMAGE_BLOCKED_PATHS = {"pipeline": "$.detail.pipeline", "stage": "$.detail.stage", "action": "$.detail.action", "execution": "$.detail.execution-id"}
IMAGE_BLOCKED_TEMPLATE = (
    "Image blocked by the supply-chain gate: action <action> (stage <stage>) of pipeline <pipeline> failed in execution <execution>, "
    "and nothing was deployed. The action's log says which digest was refused and why (a line starting with Refusing). "
    "See: aws codepipeline list-action-executions --pipeline-name <pipeline> --filter pipelineExecutionId=<execution>"
)


class Notifications(pulumi.ComponentResource):
    """The delivery topic (KMS CMK with rotation, service-only publish, TLS only), its subscriptions and
    the EventBridge rules that feed it.

    Outputs: `topic_arn`, `key_arn`.
    """

    def __init__(self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:notifications:Notifications", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = AwsContext(self)
        key = encryption_key(
            f"{name}-key",
            description=f"Encrypts the SNS topic {args.topic_name}",
            policy=key_policy(context.root()),
            tags=args.tags,
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.topic_name,
            kms_master_key_id=key.arn,
            tags=args.tags,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.json_dumps(topic_policy(topic.arn, context.account_id)),
            opts=pulumi.ResourceOptions(parent=topic),
        )
        for index, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=pulumi.ResourceOptions(parent=topic),
            )
        for index, url in enumerate(args.https_endpoints):
            aws.sns.TopicSubscription(
                f"{name}-https-{index}",
                topic=topic.arn,
                protocol="https",
                endpoint=url,
                # The endpoint confirms by visiting SubscribeURL; SNS retries until it does.
                endpoint_auto_confirms=False,
                opts=pulumi.ResourceOptions(parent=topic),
            )
        self.topic_arn = topic.arn
        self.key_arn = key.arn
        self._topic = topic
        self.register_outputs({"topic_arn": self.topic_arn, "key_arn": self.key_arn})

    def route(self, name: str, events: ServiceEvents, previous_name: str | None = None) -> None:
        """One service's EventBridge rules to the topic, children of this component named `<name>-<suffix>`: a stack's
        single service passes the component's own name (its rules' names are the component's), each of several
        services its own. `previous_name`: the stem the rules had before (a rule keeps its state through an alias to
        `<previous_name>-<suffix>`); omitted: none."""
        args, topic = events, self._topic
        rules = {
            **{failure.rule_suffix: (failure.description, failure.pattern) for failure in args.failure_events},
            "image-findings": ("CRITICAL/HIGH vulnerabilities in a pushed image", image_findings_pattern(args.repository_name)),
            "pipeline-failed": (f"A stage or action of {args.pipeline_name} failed", pipeline_failures_pattern(args.pipeline_name)),
            "pipeline-executions": (f"An execution of {args.pipeline_name} started, succeeded, failed, was superseded or stopped", pipeline_executions_pattern(args.pipeline_name)),
            "approval-needed": (f"A manual approval of {args.pipeline_name} is waiting", approval_needed_pattern(args.pipeline_name)),
        }
        if args.gate_actions:
            rules["image-blocked"] = (f"The supply-chain gate of {args.pipeline_name} refused an image", image_blocked_pattern(args.pipeline_name, args.gate_actions))
        for suffix, (description, pattern) in rules.items():
            aliases = [pulumi.Alias(name=f"{previous_name}-{suffix}")] if previous_name else None
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                description=description,
                event_pattern=pulumi.Output.json_dumps(pattern),
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-target",
                rule=rule.name,
                arn=topic.arn,
                input_transformer=(
                    aws.cloudwatch.EventTargetInputTransformerArgs(input_paths=IMAGE_BLOCKED_PATHS, input_template=IMAGE_BLOCKED_TEMPLATE) if suffix == "image-blocked" else None
                ),
                opts=pulumi.ResourceOptions(parent=rule),
            )

    def publish_statements(self) -> list[Statement]:
        """What a role needs to publish to the encrypted topic (the pipeline's manual approval does)."""
        return [
            {"Sid": "PublishNotifications", "Effect": "Allow", "Action": "sns:Publish", "Resource": self.topic_arn},
            {
                "Sid": "EncryptNotifications",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": self.key_arn,
            },
        ]
