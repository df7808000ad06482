"""Source component: CodeCommit (created or existing) and connection sources (created or existing ARN).

The recorded pipeline declaration is also checked against botocore's CodePipeline service model
(CreatePipeline input) and each action's configuration against the keys AWS documents for its provider.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline.mocks import ACCOUNT, StackResult
from tests.aws_models import assert_valid, validate

SOURCE = "container-cicd:pipeline:Source"
CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/11111111-2222-3333-4444-555555555555"
GITHUB = {"sourceProvider": "github", "sourceRepository": "my-org/my-service", "sourceFilePaths": ["app/**", "lib/**"]}

# The configuration properties CodePipeline documents for each action provider: (required, optional).
# A key outside these sets is rejected by CreatePipeline at deploy time, which mocks cannot see.
ACTION_CONFIGURATION: dict[str, tuple[set[str], set[str]]] = {
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeCommit.html
    "CodeCommit": ({"RepositoryName", "BranchName"}, {"PollForSourceChanges", "OutputArtifactFormat"}),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html
    "CodeStarSourceConnection": (
        {"ConnectionArn", "FullRepositoryId", "BranchName"},
        {"OutputArtifactFormat", "DetectChanges"},
    ),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html
    "CodeBuild": ({"ProjectName"}, {"PrimarySource", "BatchEnabled", "CombineArtifacts", "EnvironmentVariables"}),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-InspectorScan.html
    "InspectorScan": ({"InspectorRunMode"}, {"ECRRepositoryName", "ImageTag", "CriticalThreshold", "HighThreshold", "MediumThreshold", "LowThreshold"}),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html
    "ECS": ({"ClusterName", "ServiceName"}, {"FileName", "DeploymentTimeout"}),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-EKS.html
    "EKS": (
        {"ClusterName"},
        {"ManifestFiles", "HelmReleaseName", "HelmChartLocation", "HelmValuesFiles", "Namespace", "SubnetIds", "SecurityGroupIds"},
    ),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html (a promoting stack's inbox)
    "S3": ({"S3Bucket", "S3ObjectKey"}, {"PollForSourceChanges", "AllowOverrideForS3ObjectKey"}),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-json-format.html
    "Manual": (set(), {"NotificationArn", "CustomData", "ExternalEntityLink"}),
    # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Lambda.html
    "Lambda": ({"FunctionName"}, {"UserParameters"}),
}
FORMATS = {"CODE_ZIP", "CODEBUILD_CLONE_REF"}


# ------------------------------------------------------------------------------------------
# Helpers: component scoping and the CreatePipeline request
# ------------------------------------------------------------------------------------------


def in_component(result: StackResult, component: str) -> list:
    return [r for r in result.resources if r.custom and f"{component}$" in r.urn]


def source_action(result: StackResult) -> dict:
    stages = result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    assert stages[0]["name"] == "Source"
    [action] = stages[0]["actions"]
    return action


def pipeline_policy(result: StackResult) -> list[dict]:
    return json.loads(result.named("pipeline-role-policy").inputs["policy"])["Statement"]


def _artifacts(names: list[str]) -> list[dict]:
    return [{"name": n} for n in names]


def _botocore(value: Any, key: str = "") -> Any:
    """Pulumi's camelCase pipeline inputs -> the CodePipeline API's shapes."""
    if isinstance(value, list):
        return [_botocore(v, key) for v in value]
    if isinstance(value, float) and value.is_integer():
        # The engine's wire format (protobuf Struct) carries every number as a double.
        return int(value)
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k in ("inputArtifacts", "outputArtifacts"):
            out[k] = _artifacts(v)
        elif k == "condition":  # Pulumi's single block is the API's list
            out["conditions"] = [_botocore(v, k)]
        elif k == "pushes":
            out["push"] = _botocore(v, k)
        elif k == "pullRequests":
            out["pullRequest"] = _botocore(v, k)
        else:
            out[k] = _botocore(v, k)
    if key == "actions":
        out["actionTypeId"] = {f: out.pop(f) for f in ("category", "owner", "provider", "version")}
    return out


def create_pipeline_request(inputs: dict) -> dict:
    pipeline: dict[str, Any] = {k: _botocore(inputs[k], k) for k in ("name", "roleArn", "stages", "pipelineType", "executionMode")}
    for optional in ("triggers", "variables"):
        if inputs.get(optional):
            pipeline[optional] = _botocore(inputs[optional], optional)
    stores = inputs["artifactStores"]
    if len(stores) == 1 and not stores[0].get("region"):
        pipeline["artifactStore"] = _botocore(stores[0])
    else:
        pipeline["artifactStores"] = {s["region"]: _botocore({k: v for k, v in s.items() if k != "region"}) for s in stores}
    return {"pipeline": pipeline, "tags": [{"key": k, "value": v} for k, v in inputs.get("tags", {}).items()]}


def validate_pipeline(result: StackResult) -> dict:
    """The pipeline as a CreatePipeline request, checked strictly (enums, ranges, patterns) against botocore's model."""
    request = create_pipeline_request(result.one("aws:codepipeline/pipeline:Pipeline").inputs)
    assert_valid("codepipeline", "CreatePipeline", request)
    return request["pipeline"]


def check_action_configuration(pipeline: dict) -> None:
    for stage in pipeline["stages"]:
        for action in stage["actions"]:
            provider = action["actionTypeId"]["provider"]
            assert provider in ACTION_CONFIGURATION, f"{provider}: add its documented configuration keys to this table"
            required, optional = ACTION_CONFIGURATION[provider]
            keys = set(action.get("configuration", {}))
            assert required <= keys, f"{action['name']}: missing {required - keys}"
            assert keys <= required | optional, f"{action['name']}: unknown configuration {keys - required - optional}"
            for value in action.get("configuration", {}).values():
                assert isinstance(value, str), f"{action['name']}: configuration values are strings"


def connection_overrides(provider: str) -> dict:
    """github with file paths, bitbucket likewise, gitlab without (any change runs the pipeline)."""
    if provider == "gitlab":
        return {"sourceProvider": "gitlab", "sourceRepository": "group/svc"}
    return {**GITHUB, "sourceProvider": provider}


# ------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def existing_codecommit(evaluate):
    return evaluate("dev", createSourceRepository=False, sourceRepository="legacy-repo", sourceBranch="trunk")


@pytest.fixture(scope="module")
def github_created(evaluate):
    return evaluate("dev", **GITHUB)


@pytest.fixture(scope="module")
def github_existing(evaluate):
    return evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service", sourceConnectionArn=CONNECTION_ARN, sourceBranch="release")


# ------------------------------------------------------------------------------------------
# CodeCommit
# ------------------------------------------------------------------------------------------


def test_codecommit_repository_is_created(dev):
    [repo] = [r for r in in_component(dev, SOURCE) if r.type == "aws:codecommit/repository:Repository"]
    assert repo.type == "aws:codecommit/repository:Repository"
    assert repo.name == "source-repo"
    assert repo.inputs["repositoryName"] == "container-cicd-dev-app"
    assert dev.of_type("aws:codeconnections/connection:Connection") == []
    assert dev.outputs["sourceLocation"] == "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/container-cicd-dev-app"


def test_codecommit_action_uses_events_not_polling(dev):
    action = source_action(dev)
    assert (action["owner"], action["provider"], action["version"], action["category"]) == ("AWS", "CodeCommit", "1", "Source")
    assert action["configuration"] == {
        "RepositoryName": "container-cicd-dev-app",
        "BranchName": "main",
        "PollForSourceChanges": "false",
        "OutputArtifactFormat": "CODE_ZIP",
    }
    assert action["outputArtifacts"] == ["SourceOutput"]
    assert "triggers" not in dev.one("aws:codepipeline/pipeline:Pipeline").inputs


def test_codecommit_push_to_the_branch_starts_the_pipeline(dev):
    rule = dev.named("pipeline-start")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "resources": [f"arn:aws:codecommit:us-east-1:{ACCOUNT}:container-cicd-dev-app"],
        "detail": {
            "event": ["referenceCreated", "referenceUpdated"],
            "referenceType": ["branch"],
            "referenceName": ["main"],
        },
    }
    target = dev.named("pipeline-start-target")
    assert target.inputs["arn"] == f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:container-cicd-dev-app-pipeline"
    role = dev.named("pipeline-start-role")
    assert target.inputs["roleArn"] == role.outputs["arn"]
    policy = json.loads(dev.named("pipeline-start-role-policy").inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "StartPipeline",
            "Effect": "Allow",
            "Action": "codepipeline:StartPipelineExecution",
            "Resource": target.inputs["arn"],
        }
    ]


def test_codecommit_read_permissions_are_scoped_to_the_repository(dev):
    [statement] = [s for s in pipeline_policy(dev) if s["Sid"] == "ReadSource"]
    assert statement["Resource"] == f"arn:aws:codecommit:us-east-1:{ACCOUNT}:container-cicd-dev-app"
    assert "codecommit:UploadArchive" in statement["Action"] and "codecommit:GitPush" not in statement["Action"]


def test_existing_codecommit_repository_is_looked_up_not_created(existing_codecommit):
    r = existing_codecommit
    assert in_component(r, SOURCE) == []
    assert ("aws:codecommit/getRepository:getRepository", {"repositoryName": "legacy-repo"}) in r.invokes
    action = source_action(r)
    assert action["configuration"]["RepositoryName"] == "legacy-repo"
    assert action["configuration"]["BranchName"] == "trunk"
    assert r.outputs["sourceLocation"] == "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/legacy-repo"
    pattern = json.loads(r.named("pipeline-start").inputs["eventPattern"])
    assert pattern["resources"] == [f"arn:aws:codecommit:us-east-1:{ACCOUNT}:legacy-repo"]
    assert pattern["detail"]["referenceName"] == ["trunk"]
    [statement] = [s for s in pipeline_policy(r) if s["Sid"] == "ReadSource"]
    assert statement["Resource"] == f"arn:aws:codecommit:us-east-1:{ACCOUNT}:legacy-repo"


# ------------------------------------------------------------------------------------------
# Connection sources
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "provider_type"), [("github", "GitHub"), ("bitbucket", "Bitbucket"), ("gitlab", "GitLab")])
def test_connection_is_created_for_the_host(evaluate, provider, provider_type):
    r = evaluate("dev", **connection_overrides(provider))
    [connection] = in_component(r, SOURCE)
    assert connection.type == "aws:codeconnections/connection:Connection"
    assert connection.inputs["providerType"] == provider_type
    assert len(connection.inputs["name"]) <= 32  # CodeConnections limit
    assert connection.inputs["name"].startswith("container-cicd-dev-app")
    assert r.of_type("aws:codecommit/repository:Repository") == []
    assert "pipeline-start" not in [x.name for x in r.resources]


def test_created_connection_names_differ_between_stacks(evaluate):
    names = {evaluate(s, promoteFrom=None, **GITHUB).named("source-connection").inputs["name"] for s in ("dev", "prod")}
    assert len(names) == 2


def test_connection_action_configuration(github_created):
    r = github_created
    action = source_action(r)
    connection_arn = r.named("source-connection").outputs["arn"]
    assert (action["owner"], action["provider"], action["version"]) == ("AWS", "CodeStarSourceConnection", "1")
    assert action["configuration"] == {
        "ConnectionArn": connection_arn,
        "FullRepositoryId": "my-org/my-service",
        "BranchName": "main",
        "OutputArtifactFormat": "CODE_ZIP",
        "DetectChanges": "true",
    }
    assert r.outputs["sourceLocation"] == connection_arn


def test_v2_trigger_filters_branch_and_file_paths(github_created):
    pipeline = github_created.one("aws:codepipeline/pipeline:Pipeline").inputs
    assert pipeline["triggers"] == [
        {
            "providerType": "CodeStarSourceConnection",
            "gitConfiguration": {
                "sourceActionName": "Source",
                "pushes": [{"branches": {"includes": ["main"]}, "filePaths": {"includes": ["app/**", "lib/**"]}}],
            },
        }
    ]
    assert pipeline["triggers"][0]["gitConfiguration"]["sourceActionName"] == source_action(github_created)["name"]


def test_trigger_without_file_paths_runs_on_any_change(evaluate):
    r = evaluate("dev", **connection_overrides("gitlab"))
    [push] = r.one("aws:codepipeline/pipeline:Pipeline").inputs["triggers"][0]["gitConfiguration"]["pushes"]
    assert push == {"branches": {"includes": ["main"]}}


def test_use_connection_is_scoped_to_the_connection(github_created, github_existing):
    created_arn = github_created.named("source-connection").outputs["arn"]
    for result, arn in ((github_created, created_arn), (github_existing, CONNECTION_ARN)):
        [statement] = [s for s in pipeline_policy(result) if s["Sid"] == "UseConnection"]
        assert statement["Resource"] == arn
        assert set(statement["Action"]) == {"codeconnections:UseConnection", "codestar-connections:UseConnection"}
        assert not any(s["Sid"] == "ReadSource" for s in pipeline_policy(result))


def test_existing_connection_arn_is_used_and_nothing_created(github_existing):
    r = github_existing
    assert in_component(r, SOURCE) == []
    action = source_action(r)
    assert action["configuration"]["ConnectionArn"] == CONNECTION_ARN
    assert action["configuration"]["BranchName"] == "release"
    [trigger] = r.one("aws:codepipeline/pipeline:Pipeline").inputs["triggers"]
    assert trigger["gitConfiguration"]["pushes"] == [{"branches": {"includes": ["release"]}}]
    assert r.outputs["sourceLocation"] == CONNECTION_ARN


# ------------------------------------------------------------------------------------------
# Against the CodePipeline API model
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["dev", "existing_codecommit", "github_created", "github_existing"])
def test_pipeline_declaration_matches_the_codepipeline_api(variant, request):
    pipeline = validate_pipeline(request.getfixturevalue(variant))
    check_action_configuration(pipeline)
    source = pipeline["stages"][0]["actions"][0]
    assert source["configuration"]["OutputArtifactFormat"] in FORMATS
    if "triggers" in pipeline:
        assert pipeline["triggers"][0]["gitConfiguration"]["push"][0]["branches"]["includes"]


def test_the_validator_catches_a_bad_declaration(dev):
    """Guards the test above: a misspelt field is reported by the botocore model."""
    request = create_pipeline_request(dev.one("aws:codepipeline/pipeline:Pipeline").inputs)
    request["pipeline"]["stages"][0]["actions"][0]["outputArtifact"] = [{"name": "x"}]
    assert validate("codepipeline", "CreatePipeline", request)
    with pytest.raises(AssertionError, match="unknown configuration"):
        bad = create_pipeline_request(dev.one("aws:codepipeline/pipeline:Pipeline").inputs)["pipeline"]
        bad["stages"][0]["actions"][0]["configuration"]["Branch"] = "main"
        check_action_configuration(bad)


def test_created_source_is_protected_in_production(dev, prod_building, evaluate):
    assert prod_building.named("source-repo").protect is True
    assert dev.named("source-repo").protect is False
    # A created connection is confirmed by hand in the console: losing it stops every pipeline run.
    assert evaluate("prod", promoteFrom=None, **GITHUB).named("source-connection").protect is True
