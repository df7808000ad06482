"""The policy pack's promotion rule, `codepipeline-promotion-checked`: a pipeline whose source is an S3
object deploys nothing from it unchecked. It passes the shipped stacks and fires on each way of
skipping the Check step."""

from __future__ import annotations

import copy

import pytest

from policy import rules
from policy.rules import codepipeline_promotion_checked, run_rules, subjects

RULE = "codepipeline-promotion-checked"


def pipeline(result) -> dict:
    return copy.deepcopy(result.one(rules.CODEPIPELINE).inputs)


def check(props: dict) -> list[str]:
    return codepipeline_promotion_checked(rules.CODEPIPELINE, props)


def stage(props: dict, name: str) -> dict:
    [found] = [s for s in props["stages"] if s["name"] == name]
    return found


@pytest.mark.parametrize("variant", ["prod", "prod_ecs", "dev"])
def test_the_shipped_pipelines_pass(variant, request):
    result = request.getfixturevalue(variant)
    assert check(pipeline(result)) == []
    assert [v for v in run_rules(subjects(result.resources)) if v.rule == RULE] == []


def test_it_fires_when_a_deploy_action_reads_the_inbox_itself(prod_ecs):
    props = pipeline(prod_ecs)
    [deploy] = [a for a in stage(props, "Deploy")["actions"] if a["category"] == "Deploy"]
    deploy["inputArtifacts"] = ["SourceOutput"]
    assert check(props) == [
        "CodePipeline action Deploy/DeployToEcs (Deploy) reads the S3 source's artifact SourceOutput itself: "
        "only the Build (check) actions of the stage right after Source may; deploy what they produce"
    ]


def test_it_fires_when_nothing_checks_the_inbox(prod):
    props = pipeline(prod)
    props["stages"] = [s for s in props["stages"] if s["name"] != "Check"]
    stage(props, "Deploy")["actions"][0]["inputArtifacts"] = ["SourceOutput"]
    assert check(props) == [
        "CodePipeline action Deploy/DeployToEks (Build) reads the S3 source's artifact SourceOutput itself: "
        "only the Build (check) actions of the stage right after Source may; deploy what they produce",
        "CodePipeline takes an S3 object as its source (SourceOutput) but no Build action in the stage right after Source reads it: "
        "nothing checks what was written into the bucket before it is deployed",
    ]


def test_it_fires_when_the_check_comes_after_the_approval(prod):
    props = pipeline(prod)
    check_stage, approve = stage(props, "Check"), stage(props, "Approve")
    props["stages"] = [s for s in props["stages"] if s["name"] not in ("Check", "Approve")]
    props["stages"][1:1] = [approve, check_stage]
    found = check(props)
    assert found[0].startswith("CodePipeline action Check/CheckVerified (Build) reads the S3 source's artifact SourceOutput itself")
    assert found[1].startswith("CodePipeline takes an S3 object as its source (SourceOutput) but no Build action")


def test_it_reads_only_pipelines_with_an_s3_source(dev):
    props = pipeline(dev)
    stage(props, "Deploy")["actions"][0]["inputArtifacts"] = ["SourceOutput"]  # a CodeCommit source: not this rule's
    assert check(props) == []
    assert check({}) == [] and check({"stages": "not a list"}) == []
