"""Pipeline: CodePipeline V2, QUEUED, KMS artifact store, Source -> Build -> Deploy from contributions."""

from __future__ import annotations

import json

from offline.mocks import ACCOUNT

PIPELINE = "container-cicd:pipeline:Pipeline"
# One non-default dev stack shared by several test modules (same dict => one cached evaluation).
CUSTOM = {
    "containerName": "Web_Frontend",
    "buildTimeoutMinutes": 45,
    "deploymentTimeoutMinutes": 9,
    "imageRetentionCount": 7,
    "untaggedImageExpiryDays": 3,
    "buildComputeType": "BUILD_GENERAL1_LARGE",
}


def pipeline(result) -> dict:
    return result.one("aws:codepipeline/pipeline:Pipeline").inputs


def stage_names(result) -> list[str]:
    return [s["name"] for s in pipeline(result)["stages"]]


def test_v2_queued_with_its_own_role(dev):
    p = pipeline(dev)
    assert p["name"] == "container-cicd-dev-app-pipeline"
    assert p["pipelineType"] == "V2"
    assert p["executionMode"] == "QUEUED"
    role = dev.named("pipeline-role")
    assert p["roleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "codepipeline.amazonaws.com"}


def test_artifact_store_is_the_kms_encrypted_bucket(dev):
    [store] = pipeline(dev)["artifactStores"]
    assert store["type"] == "S3"
    assert store["location"] == dev.named("artifacts-bucket").outputs["bucket"]
    assert store["encryptionKey"] == {"id": dev.named("artifacts-key").outputs["arn"], "type": "KMS"}


def test_stage_order_source_build_then_deploy(dev, prod):
    """A building stack: Source, Build, the deploy stage(s), Release, Publish last; a promoting one (prod):
    Source (its inbox), Check instead of Build, and no Publish."""
    for result, second, last in ((dev, "Build", "Publish"), (prod, "Check", "Release")):
        names = stage_names(result)
        assert names[:2] == ["Source", second]
        deploy = [n for n in names[2:] if n.startswith("Deploy")]
        assert deploy, names
        # Gates (approval, conditions) may sit between Build and Deploy; nothing precedes Source/Build.
        assert names.index(deploy[0]) > names.index(second)
        assert names[-1] == last


def test_artifact_names_chain_stage_to_stage(dev):
    stages = {s["name"]: s["actions"] for s in pipeline(dev)["stages"]}
    [source], [build] = stages["Source"], stages["Build"]
    [deploy] = [a for a in stages["Deploy"] if a["category"] == "Deploy"]
    assert source["outputArtifacts"] == ["SourceOutput"]
    assert build["inputArtifacts"] == ["SourceOutput"] and build["outputArtifacts"] == ["BuildOutput"]
    assert deploy["inputArtifacts"] == ["BuildOutput"]
    produced = [a for s in pipeline(dev)["stages"] for action in s["actions"] for a in action.get("outputArtifacts", [])]
    assert len(produced) == len(set(produced)), "artifact names are unique"


def test_ecs_deploy_action(dev):
    [deploy] = [a for s in pipeline(dev)["stages"] if s["name"] == "Deploy" for a in s["actions"] if a["provider"] == "ECS"]
    assert (deploy["category"], deploy["owner"], deploy["version"]) == ("Deploy", "AWS", "1")
    assert deploy["configuration"] == {
        "ClusterName": dev.one("aws:ecs/cluster:Cluster").inputs["name"],
        "ServiceName": dev.one("aws:ecs/service:Service").inputs["name"],
        "FileName": "imagedefinitions.json",
        "DeploymentTimeout": "15",
    }
    assert int(deploy["configuration"]["DeploymentTimeout"]) < 60  # the action's default is 60 minutes


def test_deployment_timeout_from_config(evaluate):
    r = evaluate("dev", **CUSTOM)
    [deploy] = [a for s in pipeline(r)["stages"] for a in s["actions"] if a["provider"] == "ECS"]
    assert deploy["configuration"]["DeploymentTimeout"] == "9"


def test_pipeline_role_gets_every_contribution(dev):
    sids = [s.get("Sid") for s in json.loads(dev.named("pipeline-role-policy").inputs["policy"])["Statement"]]
    for sid in ("Artifacts", "ArtifactBucket", "ArtifactKey", "ReadSource", "RunBuild", "UpdateService", "PassTaskRoles"):
        assert sid in sids, sid


def test_console_url_output(dev):
    assert dev.outputs["pipelineName"] == "container-cicd-dev-app-pipeline"
    assert dev.outputs["pipelineConsoleUrl"] == ("https://us-east-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/container-cicd-dev-app-pipeline/view?region=us-east-1")


def test_start_rule_only_for_codecommit(dev, evaluate):
    in_pipeline = [r.type for r in dev.resources if r.custom and f"{PIPELINE}$" in r.urn]
    assert in_pipeline.count("aws:cloudwatch/eventRule:EventRule") == 1
    assert in_pipeline.count("aws:cloudwatch/eventTarget:EventTarget") == 1
    github = evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service", sourceFilePaths=["app/**", "lib/**"])
    in_pipeline = [r.type for r in github.resources if r.custom and f"{PIPELINE}$" in r.urn]
    assert "aws:cloudwatch/eventTarget:EventTarget" not in in_pipeline
    assert f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:" in dev.named("pipeline-start-target").inputs["arn"]


def test_pipeline_waits_for_its_role_policy(dev):
    resource = dev.one("aws:codepipeline/pipeline:Pipeline")
    role = dev.named("pipeline-role")
    assert role.urn in resource.depends_on or any("pipeline-role" in d for d in resource.depends_on)
