"""tests.aws_models: the strict validator reports what plain ParamValidator lets through, each with its path."""

from __future__ import annotations

import copy

import pytest
from botocore.validate import ParamValidator

from tests.aws_models import assert_valid, operation_model, validate

RULE = {
    "name": "Window",
    "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "DeploymentWindow", "version": "1"},
    "configuration": {"Cron": "* * 9-16 ? * MON-THU", "TimeZone": "UTC"},
}
REQUEST = {
    "pipeline": {
        "name": "app",
        "roleArn": "arn:aws:iam::123456789012:role/app",
        "pipelineType": "V2",
        "executionMode": "QUEUED",
        "artifactStore": {"type": "S3", "location": "bucket"},
        "stages": [
            {
                "name": "Deploy",
                "actions": [
                    {
                        "name": "Deploy",
                        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "ECS", "version": "1"},
                        "configuration": {"ClusterName": "c", "ServiceName": "s"},
                    }
                ],
                "beforeEntry": {"conditions": [{"result": "FAIL", "rules": [RULE]}]},
            }
        ],
    }
}


def broken(change) -> dict:
    request = copy.deepcopy(REQUEST)
    change(request["pipeline"])
    return request


def test_a_valid_request_has_no_errors():
    assert validate("codepipeline", "CreatePipeline", REQUEST) == []
    assert_valid("codepipeline", "CreatePipeline", REQUEST)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda p: p.update(executionMode="SERIAL"), "Invalid value for parameter pipeline.executionMode, value: 'SERIAL', valid values: QUEUED, SUPERSEDED, PARALLEL"),
        (
            lambda p: p["stages"][0]["beforeEntry"]["conditions"][0].update(result="ABORT"),
            "Invalid value for parameter pipeline.stages[0].beforeEntry.conditions[0].result, value: 'ABORT', valid values: ROLLBACK, FAIL, RETRY, SKIP",
        ),
        (lambda p: p.update(name="a" * 101), "Invalid length for parameter pipeline.name, value: 101, valid max length: 100"),
        (
            lambda p: p["stages"][0]["beforeEntry"]["conditions"].append({"result": "FAIL", "rules": [RULE]}),
            "Invalid length for parameter pipeline.stages[0].beforeEntry.conditions, value: 2, valid max length: 1",
        ),
        (
            lambda p: p["stages"][0]["beforeEntry"]["conditions"][0]["rules"][0].update(timeoutInMinutes=86401),
            "Invalid value for parameter pipeline.stages[0].beforeEntry.conditions[0].rules[0].timeoutInMinutes, value: 86401, valid max value: 86400",
        ),
        (
            lambda p: p["stages"][0]["beforeEntry"]["conditions"][0]["rules"][0]["configuration"].update({"K" * 51: "v"}),
            f"Invalid length for parameter pipeline.stages[0].beforeEntry.conditions[0].rules[0].configuration (key: {'K' * 51}), value: 51, valid max length: 50",
        ),
        (lambda p: p.update(name="my app"), r"Invalid value for parameter pipeline.name, value: 'my app', valid pattern: [A-Za-z0-9.@\-_]+"),
    ],
    ids=["enum", "nested-enum", "string-max", "list-max", "integer-max", "map-key-max", "pattern"],
)
def test_each_offence_is_reported_with_its_path(change, error):
    request = broken(change)
    assert validate("codepipeline", "CreatePipeline", request) == [error]
    with pytest.raises(AssertionError, match="CreatePipeline would be rejected"):
        assert_valid("codepipeline", "CreatePipeline", request)


@pytest.mark.parametrize("index", range(4), ids=["enum", "string-max", "list-max", "integer-max"])
def test_plain_param_validator_misses_what_the_strict_one_reports(index):
    """Why the strict validator exists: botocore's own validator passes all of these."""
    changes = [
        lambda p: p.update(executionMode="SERIAL"),
        lambda p: p.update(name="a" * 101),
        lambda p: p["stages"][0]["beforeEntry"]["conditions"].append({"result": "FAIL", "rules": [RULE]}),
        lambda p: p["stages"][0]["beforeEntry"]["conditions"][0]["rules"][0].update(timeoutInMinutes=86401),
    ]
    request = broken(changes[index])
    shape = operation_model("codepipeline", "CreatePipeline").input_shape
    assert not ParamValidator().validate(request, shape).has_errors()
    assert len(validate("codepipeline", "CreatePipeline", request)) == 1


def test_minimums_and_shape_errors_are_still_reported_once():
    request = broken(lambda p: (p.update(name=""), p["stages"][0]["actions"][0].update(timeout=3)))
    assert validate("codepipeline", "CreatePipeline", request) == [
        "Invalid length for parameter pipeline.name, value: 0, valid min length: 1",
        'Unknown parameter in pipeline.stages[0].actions[0]: "timeout", must be one of: name, actionTypeId, '
        "runOrder, configuration, commands, outputArtifacts, inputArtifacts, outputVariables, roleArn, region, "
        "namespace, timeoutInMinutes, environmentVariables",
        r"Invalid value for parameter pipeline.name, value: '', valid pattern: [A-Za-z0-9.@\-_]+",
    ]


def test_enums_inside_lists_of_plain_strings_are_checked():
    """ParamValidator does not descend into a list of unconstrained strings; the strict check does."""
    errors = validate(
        "ecs",
        "RegisterTaskDefinition",
        {
            "family": "app",
            "containerDefinitions": [{"name": "app", "image": "nginx"}],
            "requiresCompatibilities": ["FARGATE", "LAMBDA"],
        },
    )
    assert errors == ["Invalid value for parameter requiresCompatibilities[1], value: 'LAMBDA', valid values: EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES"]
