"""Notifications: encrypted topic, service-only TLS-only topic policy, subscriptions from config,
EventBridge rules for pipeline executions, approvals, deployment failures, image findings and
pipeline failures."""

from __future__ import annotations

import json

import pytest

from components.settings import SettingsError, parse_settings
from offline.mocks import ACCOUNT

PROD_ON_ECS = {"deployTarget": "ecs", "eksKubernetesVersion": None, "eksPodCpuMillicores": None, "eksPodMemoryMiB": None}
STACKS = {
    "dev-ecs": ("dev", {"deployTarget": "ecs"}),
    "dev-eks": ("dev", {"deployTarget": "eks"}),
    "prod-ecs": ("prod", PROD_ON_ECS),
    "prod-eks": ("prod", {"deployTarget": "eks"}),
}
PUBLISHERS = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]


@pytest.fixture(params=sorted(STACKS))
def stack(request, evaluate):
    name, overrides = STACKS[request.param]
    return evaluate(name, **overrides)


def doc(value):
    return json.loads(value) if isinstance(value, str) else value


def test_topic_is_encrypted_with_a_rotating_cmk(stack):
    topic = stack.named("notifications-topic")
    key = stack.named("notifications-key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert topic.inputs["name"] == f"container-cicd-{stack.stack}-app-delivery"
    assert key.inputs["enableKeyRotation"] is True


def test_key_policy_lets_the_publishing_services_encrypt(dev):
    policy = doc(dev.named("notifications-key").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AccountAdministersThroughIam"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert by_sid["PublishingServices"]["Principal"] == {"Service": PUBLISHERS}
    assert by_sid["PublishingServices"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert len(policy["Statement"]) == 2


def test_topic_policy_allows_only_the_publishing_services_and_denies_non_tls(dev):
    topic_arn = dev.named("notifications-topic").outputs["arn"]
    policy = doc(dev.named("notifications-topic-policy").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "PublishingServices",
            "Effect": "Allow",
            "Principal": {"Service": PUBLISHERS},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]


def test_no_subscriptions_by_default(dev):
    assert dev.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_subscriptions_from_config(evaluate):
    r = evaluate("dev", notificationEmails=["ops@example.com", "dev@example.com"], notificationHttpsEndpoints=["https://hooks.example.com/sns"])
    subs = {s.name: s.inputs for s in r.of_type("aws:sns/topicSubscription:TopicSubscription")}
    topic_arn = r.named("notifications-topic").outputs["arn"]
    assert {n: (s["protocol"], s["endpoint"]) for n, s in subs.items()} == {
        "notifications-email-0": ("email", "ops@example.com"),
        "notifications-email-1": ("email", "dev@example.com"),
        "notifications-https-0": ("https", "https://hooks.example.com/sns"),
    }
    assert all(s["topic"] == topic_arn for s in subs.values())


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("notificationEmails", ["not-an-email"], r"^notificationEmails: 'not-an-email' is not valid; allowed: a plain email address"),
        ("notificationHttpsEndpoints", ["http://hooks.example.com"], r"^notificationHttpsEndpoints: 'http://hooks.example.com' is not valid; allowed: https:// URLs"),
        ("notificationEmails", ["a@example.com", "a@example.com"], r"^notificationEmails: \['a@example.com', 'a@example.com'\] is not valid; each subscriber once"),
    ],
)
def test_bad_subscribers_fail_in_settings(key, value, message):
    with pytest.raises(SettingsError, match=message):
        parse_settings({key: value}, "container-cicd", "dev")


def test_no_codestar_notification_rule_fresh_accounts_cannot_create_the_first_one(stack):
    """CodeStar notification rules fail in a fresh account until their service-linked role exists;
    EventBridge rules carry the same pipeline events without one."""
    assert stack.of_type("aws:codestarnotifications/notificationRule:NotificationRule") == []
    assert not any("codestar-notifications" in json.dumps(r.inputs) for r in stack.resources)


def test_pipeline_executions_and_approvals_are_routed(stack):
    name = stack.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]
    assert rule_pattern(stack, "pipeline-executions") == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"pipeline": [name], "state": ["STARTED", "SUCCEEDED", "FAILED", "SUPERSEDED", "STOPPED"]},
    }
    assert rule_pattern(stack, "approval-needed") == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {"pipeline": [name], "state": ["STARTED"], "type": {"category": ["Approval"]}},
    }


def test_pipeline_event_patterns_match_sample_events(dev):
    # Event shapes: https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html
    name = dev.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]

    def execution(state, pipeline=name):
        return {
            "detail-type": "CodePipeline Pipeline Execution State Change",
            "source": "aws.codepipeline",
            "account": ACCOUNT,
            "region": "us-east-1",
            "detail": {"pipeline": pipeline, "execution-id": "e1", "state": state, "version": 3},
        }

    def action(state, category):
        return {
            "detail-type": "CodePipeline Action Execution State Change",
            "source": "aws.codepipeline",
            "account": ACCOUNT,
            "region": "us-east-1",
            "detail": {
                "pipeline": name,
                "execution-id": "e1",
                "stage": "Approve",
                "action": "ApproveDeploy",
                "state": state,
                "type": {"owner": "AWS", "provider": "Manual", "category": category, "version": "1"},
            },
        }

    executions = rule_pattern(dev, "pipeline-executions")
    assert all(matches(executions, execution(s)) for s in ("STARTED", "SUCCEEDED", "FAILED", "SUPERSEDED", "STOPPED"))
    assert not matches(executions, execution("RESUMED"))
    assert not matches(executions, execution("STARTED", pipeline="another-pipeline"))
    approvals = rule_pattern(dev, "approval-needed")
    assert matches(approvals, action("STARTED", "Approval"))
    assert not matches(approvals, action("SUCCEEDED", "Approval"))
    assert not matches(approvals, action("STARTED", "Deploy"))


def rule_pattern(r, name):
    return doc(r.named(f"notifications-{name}").inputs["eventPattern"])


def test_event_rules_route_to_the_topic(stack):
    topic_arn = stack.named("notifications-topic").outputs["arn"]
    rules = {r.name.removeprefix("notifications-") for r in stack.of_type("aws:cloudwatch/eventRule:EventRule") if r.name.startswith("notifications-")}
    # The deployment-failed rule is the ECS target's contribution; the EKS deploy step fails as a pipeline action.
    ecs = stack.one("container-cicd:deploy:EcsTarget") if stack.of_type("container-cicd:deploy:EcsTarget") else None
    # The image-blocked rule watches the supply-chain gate's actions (tests/test_supply_notifications.py).
    shared = {"image-findings", "pipeline-failed", "pipeline-executions", "approval-needed", "image-blocked"}
    assert rules == (shared | {"deployment-failed"} if ecs else shared)
    for name in rules:
        target = stack.named(f"notifications-{name}-target").inputs
        assert target["arn"] == topic_arn
        assert target["rule"] == stack.named(f"notifications-{name}").outputs["name"]


def test_ecs_deployment_failures_of_this_stack_are_routed(dev):
    assert rule_pattern(dev, "deployment-failed") == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": [{"prefix": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/container-cicd-dev-app-"}],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }


def test_ecs_service_arn_matches_the_deployment_failed_prefix(evaluate):
    name, overrides = STACKS["prod-ecs"]
    r = evaluate(name, **overrides)
    prefix = rule_pattern(r, "deployment-failed")["resources"][0]["prefix"]
    assert r.one("aws:ecs/service:Service").outputs["arn"].startswith(prefix)


def test_critical_and_high_image_findings_of_this_repository_are_routed(dev):
    assert rule_pattern(dev, "image-findings") == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Scan"],
        "detail": {
            "scan-status": ["COMPLETE"],
            "repository-name": [dev.one("aws:ecr/repository:Repository").outputs["name"]],
            "finding-severity-counts": {"$or": [{"CRITICAL": [{"numeric": [">", 0]}]}, {"HIGH": [{"numeric": [">", 0]}]}]},
        },
    }


def test_pipeline_action_and_stage_failures_are_routed(stack):
    """Covers every target's deploy step (ECS action, EKS rollout step) failing."""
    assert rule_pattern(stack, "pipeline-failed") == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change", "CodePipeline Stage Execution State Change"],
        "detail": {"pipeline": [stack.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]], "state": ["FAILED"]},
    }


# ---- the patterns against sample events (moto's EventBridge pattern engine as the authority) ----


def matches(pattern: dict, event: dict) -> bool:
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def ecs_event(service_arn: str, name: str = "SERVICE_DEPLOYMENT_FAILED") -> dict:
    # Shape from https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
    return {
        "version": "0",
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "region": "us-east-1",
        "resources": [service_arn],
        "detail": {"eventType": "ERROR", "eventName": name, "deploymentId": "ecs-svc/123", "reason": "ECS deployment circuit breaker: task failed to start."},
    }


def test_deployment_failed_pattern_matches_only_this_stacks_failed_deployments(dev):
    pattern = rule_pattern(dev, "deployment-failed")
    ours = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/container-cicd-dev-app-cluster/container-cicd-dev-app-service"
    assert matches(pattern, ecs_event(ours))
    assert not matches(pattern, ecs_event(ours, "SERVICE_DEPLOYMENT_COMPLETED"))
    assert not matches(pattern, ecs_event(f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/other-cluster/other-service"))


def test_image_findings_pattern_matches_critical_or_high_only(dev):
    pattern = rule_pattern(dev, "image-findings")
    repo = dev.one("aws:ecr/repository:Repository").outputs["name"]

    def scan(counts, repository=repo):
        return {
            "detail-type": "ECR Image Scan",
            "source": "aws.ecr",
            "account": ACCOUNT,
            "region": "us-east-1",
            "detail": {"scan-status": "COMPLETE", "repository-name": repository, "finding-severity-counts": counts, "image-digest": "sha256:" + "0" * 64},
        }

    assert matches(pattern, scan({"CRITICAL": 1, "MEDIUM": 9}))
    assert matches(pattern, scan({"HIGH": 3}))
    assert not matches(pattern, scan({"MEDIUM": 9, "LOW": 2}))
    assert not matches(pattern, scan({"CRITICAL": 0, "HIGH": 0}))
    assert not matches(pattern, scan({"CRITICAL": 1}, repository="someone-elses"))


def test_pipeline_failed_pattern_matches_a_failed_deploy_action(stack):
    pattern = rule_pattern(stack, "pipeline-failed")
    name = stack.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]

    def action(state, pipeline=name):
        return {
            "detail-type": "CodePipeline Action Execution State Change",
            "source": "aws.codepipeline",
            "account": ACCOUNT,
            "region": "us-east-1",
            "detail": {"pipeline": pipeline, "execution-id": "e1", "stage": "Deploy", "action": "Deploy", "state": state, "type": {"category": "Deploy", "owner": "AWS"}},
        }

    assert matches(pattern, action("FAILED"))
    assert not matches(pattern, action("SUCCEEDED"))
    assert not matches(pattern, action("FAILED", pipeline="another-pipeline"))
