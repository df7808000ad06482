"""Whole stacks: both stack files evaluate, coexist in one account, export well-formed outputs (how long an
evaluation takes is measured by offline/bench.py, docs/benchmarks.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Top-level inputs that are an AWS resource's own explicit physical name (other resources' `bucket`,
# `clusterName`, ... inputs are references to it, not names of their own).
GENERIC_NAME_INPUTS = ("name", "family", "roleName", "alarmName", "dashboardName")
TYPED_NAME_INPUTS = {
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:codecommit/repository:Repository": ("repositoryName",),
}
OUTPUTS = ("pipelineName", "pipelineConsoleUrl", "sourceLocation", "repositoryUrl", "serviceUrl")


def physical_names(result) -> dict[tuple[str, str], str]:
    """(type, input) -> name for every explicit physical name of an AWS resource, keyed by resource."""
    names = {}
    for r in result.resources:
        if not r.custom or not r.type.startswith("aws:"):
            continue
        for key in GENERIC_NAME_INPUTS + TYPED_NAME_INPUTS.get(r.type, ()):
            value = r.inputs.get(key)
            if isinstance(value, str) and value:
                names[(r.type, r.name, key)] = value
    return names


def test_both_stacks_evaluate_whole(dev, prod):
    assert dev.config["container-cicd:deployTarget"] == "ecs"
    for result in (dev, prod):
        assert set(OUTPUTS) <= set(result.outputs)
        types = {r.type for r in result.resources}
        for required in ("aws:codepipeline/pipeline:Pipeline", "aws:codebuild/project:Project"):
            assert required in types, (result.stack, required)
    # dev builds and keeps its images; prod promotes from dev: it pulls dev's images and has no registry.
    assert "aws:ecr/repository:Repository" in {r.type for r in dev.resources}
    assert "aws:ecr/repository:Repository" not in {r.type for r in prod.resources}


@pytest.mark.parametrize("other", ["prod", "prod_ecs"])
def test_dev_and_prod_physical_names_do_not_collide(dev, other, request):
    prod = request.getfixturevalue(other)
    dev_names, prod_names = physical_names(dev), physical_names(prod)
    assert len(dev_names) >= 8, dev_names  # the check is not vacuous
    by_type = {}
    for (type_, _, key), value in dev_names.items():
        by_type.setdefault((type_, key), set()).add(value)
    clashes = [(type_, key, value) for (type_, _, key), value in prod_names.items() if value in by_type.get((type_, key), set())]
    assert clashes == []


def test_physical_names_carry_project_and_stack(dev):
    for (type_, name, key), value in physical_names(dev).items():
        if key in ("name", "repositoryName", "family", "bucket"):
            assert "dev" in value, (type_, name, value)


def test_physical_names_are_unique_within_a_stack(dev, prod):
    for result in (dev, prod):
        seen: dict[tuple[str, str], str] = {}
        for (type_, name, _key), value in physical_names(result).items():
            assert (type_, value) not in seen, (result.stack, type_, value, name, seen.get((type_, value)))
            seen[(type_, value)] = name


def test_outputs_are_well_formed(dev, prod):
    for result in (dev, prod):
        out, stack = result.outputs, result.stack
        assert out["pipelineName"] == f"container-cicd-{stack}-app-pipeline"
        assert out["pipelineConsoleUrl"] == (f"https://us-east-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/{out['pipelineName']}/view?region=us-east-1")
        # Both deploy dev's images (prod promotes them): the repository is dev's.
        assert re.fullmatch(r"\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com/container-cicd-dev-app", out["repositoryUrl"])
        assert re.fullmatch(r"https?://[a-z0-9.-]+", out["serviceUrl"]), out["serviceUrl"]
    assert re.fullmatch(r"https://git-codecommit\.us-east-1\.amazonaws\.com/v1/repos/container-cicd-dev-app", dev.outputs["sourceLocation"])
    assert prod.outputs["sourceLocation"] == f"s3://{prod.named('promotion-inbox-bucket').outputs['bucket']}/promotion.zip"
    assert prod.outputs["promotesFrom"] == "organization/container-cicd/dev"


def test_connection_source_exports_the_connection_arn(evaluate):
    r = evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service", sourceFilePaths=["app/**", "lib/**"])
    assert re.fullmatch(r"arn:aws:codeconnections:us-east-1:\d{12}:connection/[0-9a-f-]+", r.outputs["sourceLocation"])


def test_switching_the_deploy_target_keeps_the_shared_urns(prod, prod_ecs, prod_building, evaluate, ecs_config):
    """URNs are a contract: deployTarget must not rename or replace source, registry, build, promotion or pipeline."""
    if prod.config.get("container-cicd:deployTarget") == "ecs":
        pytest.skip("prod runs ecs; nothing to switch")
    building_ecs = evaluate("prod", promoteFrom=None, **ecs_config("prod"))
    for name in ("source-repo", "registry-repo", "build-project", "build-role", "publish-step-project", "artifacts-bucket", "pipeline-pipeline"):
        assert prod_building.named(name).urn == building_ecs.named(name).urn, name
    for name in (
        "promotion-inbox-bucket",
        "promotion-collector-function",
        "promotion-check-step-project",
        "artifacts-bucket",
        "artifacts-key",
        "pipeline-pipeline",
        "pipeline-role",
    ):
        assert prod.named(name).urn == prod_ecs.named(name).urn, name


# AWS name limits of the resources this program names explicitly.
NAME_LIMITS = {
    ("aws:lb/loadBalancer:LoadBalancer", "name"): 32,
    ("aws:lb/targetGroup:TargetGroup", "name"): 32,
    ("aws:codeconnections/connection:Connection", "name"): 32,
    ("aws:codepipeline/pipeline:Pipeline", "name"): 100,
    ("aws:codebuild/project:Project", "name"): 150,
    ("aws:codebuild/reportGroup:ReportGroup", "name"): 128,
    ("aws:ecr/repository:Repository", "name"): 256,
    ("aws:ecs/cluster:Cluster", "name"): 255,
    ("aws:ecs/service:Service", "name"): 255,
    ("aws:ecs/taskDefinition:TaskDefinition", "family"): 255,
    ("aws:cloudwatch/logGroup:LogGroup", "name"): 512,
}


def test_longest_allowed_names_fit_aws_limits(evaluate):
    # The longest stack name settings accept (prefix 'container-cicd-<stack>' <= 40) and service name (20).
    stack = "s" * (40 - len("container-cicd-"))
    r = evaluate(stack, serviceName="abcdefghijklmnopqrst", sourceProvider="github", sourceRepository="o/r")
    checked = 0
    for (type_, _name, key), value in physical_names(r).items():
        if (type_, key) in NAME_LIMITS:
            checked += 1
            assert len(value) <= NAME_LIMITS[(type_, key)], (type_, value)
    assert checked >= len(NAME_LIMITS) - 1
