"""Notifications of the supply-chain gate: a failed gate action (ImageScan, VerifyImage, CheckVerified) of this stack's
pipeline reaches the delivery topic as a plain-text "Image blocked" message.

The pattern is matched against sample events by moto's EventBridge pattern engine; the target's input transformer
is validated against botocore's PutTargets model and applied to a sample event as EventBridge applies it.
"""

from __future__ import annotations

import json
import re

import pytest

from components.safety.notifications import GATE_ACTIONS, IMAGE_BLOCKED_TEMPLATE, gate_actions
from offline.mocks import ACCOUNT
from tests.aws_models import assert_valid

EVENT_DOCS = "https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html"


def doc(value):
    return json.loads(value) if isinstance(value, str) else value


def matches(pattern: dict, event: dict) -> bool:
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def pipeline_of(stack) -> dict:
    return stack.one("aws:codepipeline/pipeline:Pipeline").inputs


def actions_of(stack) -> set[str]:
    return {a["name"] for s in pipeline_of(stack)["stages"] for a in s["actions"]}


def action_event(pipeline: str, stage: str, action: str, state: str = "FAILED", category: str = "Build", provider: str = "CodeBuild") -> dict:
    # Shape: EVENT_DOCS, "Action-level state change".
    return {
        "version": "0",
        "id": "CWE-event-id",
        "detail-type": "CodePipeline Action Execution State Change",
        "source": "aws.codepipeline",
        "account": ACCOUNT,
        "time": "2026-12-07T22:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{pipeline}"],
        "detail": {
            "pipeline": pipeline,
            "version": 3,
            "execution-id": "01234567-0123-0123-0123-012345678901",
            "stage": stage,
            "action": action,
            "state": state,
            "region": "us-east-1",
            "type": {"owner": "AWS", "provider": provider, "category": category, "version": "1"},
        },
    }


def transformed(paths: dict, template: str, event: dict) -> str:
    """EventBridge's input transformation of a text template: each <key> replaced by the value at its JSON path."""

    def value(path: str):
        found = event
        for step in path.removeprefix("$.").split("."):
            found = found[step]
        return found

    return re.sub(r"<([A-Za-z0-9]+)>", lambda m: str(value(paths[m.group(1)])), template)


@pytest.fixture(params=["dev", "prod"])
def stack(request, evaluate):
    return evaluate(request.param)


def test_each_gate_action_of_the_pipeline_is_watched(stack):
    name = pipeline_of(stack)["name"]
    gate = [a for a in GATE_ACTIONS if a in actions_of(stack)]
    assert gate, "the stack's pipeline has no supply-chain gate action"
    assert doc(stack.named("notifications-image-blocked").inputs["eventPattern"]) == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {"pipeline": [name], "state": ["FAILED"], "action": gate},
    }


def test_a_failed_gate_action_matches_and_nothing_else_does(stack):
    pattern = doc(stack.named("notifications-image-blocked").inputs["eventPattern"])
    name = pipeline_of(stack)["name"]
    stage_of = {a["name"]: s["name"] for s in pipeline_of(stack)["stages"] for a in s["actions"]}
    for action in (a for a in GATE_ACTIONS if a in stage_of):
        assert matches(pattern, action_event(name, stage_of[action], action)), action
        assert not matches(pattern, action_event(name, stage_of[action], action, state="SUCCEEDED")), action
        assert not matches(pattern, action_event("another-pipeline", stage_of[action], action)), action
    for other in sorted(set(stage_of) - set(GATE_ACTIONS)):
        assert not matches(pattern, action_event(name, stage_of[other], other)), other


def test_the_topic_receives_a_text_naming_pipeline_action_and_execution(stack):
    target = stack.named("notifications-image-blocked-target").inputs
    assert target["arn"] == stack.named("notifications-topic").outputs["arn"]
    assert target["rule"] == stack.named("notifications-image-blocked").outputs["name"]
    transformer = target["inputTransformer"]
    request = {"InputPathsMap": transformer["inputPaths"], "InputTemplate": transformer["inputTemplate"]}
    assert_valid("events", "PutTargets", {"Rule": "r", "Targets": [{"Id": "1", "Arn": target["arn"], "InputTransformer": request}]})
    assert set(re.findall(r"<([^>]*)>", transformer["inputTemplate"])) == set(transformer["inputPaths"])
    name = pipeline_of(stack)["name"]
    action = next(a for a in GATE_ACTIONS if a in actions_of(stack))
    text = transformed(transformer["inputPaths"], transformer["inputTemplate"], action_event(name, "Scan", action))
    assert text == (
        f"Image blocked by the supply-chain gate: action {action} (stage Scan) of pipeline {name} failed in execution 01234567-0123-0123-0123-012345678901, "
        "and nothing was deployed. The action's log says which digest was refused and why (a line starting with Refusing). "
        f"See: aws codepipeline list-action-executions --pipeline-name {name} --filter pipelineExecutionId=01234567-0123-0123-0123-012345678901"
    )


def test_the_topic_policy_lets_eventbridge_of_this_account_publish(stack):
    statement = next(s for s in doc(stack.named("notifications-topic-policy").inputs["policy"])["Statement"] if s["Effect"] == "Allow")
    assert "events.amazonaws.com" in statement["Principal"]["Service"]
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    key = doc(stack.named("notifications-key").inputs["policy"])
    assert any("events.amazonaws.com" in s["Principal"].get("Service", []) for s in key["Statement"] if s["Effect"] == "Allow")


def test_only_the_blocked_image_rule_transforms_its_input(stack):
    transformed_targets = [t.name for t in stack.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.inputs.get("inputTransformer")]
    assert transformed_targets == ["notifications-image-blocked-target"]


def test_gate_actions_come_from_the_stages_in_a_fixed_order():
    from types import SimpleNamespace as N

    stages = [
        N(stage=N(actions=[N(name="CheckVerified")])),
        N(stage=N(actions=[N(name="VerifyImage"), N(name="ImageScan"), N(name="BuildImage")])),
    ]
    assert gate_actions(stages) == ("ImageScan", "VerifyImage", "CheckVerified")
    assert gate_actions([N(stage=N(actions=[N(name="BuildImage")]))]) == ()
    assert "<" not in IMAGE_BLOCKED_TEMPLATE.replace("<action>", "").replace("<stage>", "").replace("<pipeline>", "").replace("<execution>", "")


def test_with_the_gate_off_no_rule_and_without_a_scan_only_verify_image(evaluate):
    off = evaluate("dev", scanSeverityThreshold="off", imageSigning="off")
    assert "notifications-image-blocked" not in {r.name for r in off.of_type("aws:cloudwatch/eventRule:EventRule")}
    verify_only = evaluate("dev", scanSeverityThreshold="off")
    assert doc(verify_only.named("notifications-image-blocked").inputs["eventPattern"])["detail"]["action"] == ["VerifyImage"]
