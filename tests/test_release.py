"""Only what passed its bake is known good: the Release stage, after the gated deploy stage(s), on both targets.

The deploy step records what it deployed and verified as the image that runs (the deployed-image record, which
`pulumi up` keeps); the Release stage records it as known good (the known-good-image record, which a failed
rollout restores) only once the deploy stage succeeded, its production bake included. A stage rollback re-runs
the deploy stage alone (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html), so an
image whose bake failed is never known good.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from components.delivery.image_record import release_script
from tests import fake_aws

DEPLOYED, KNOWN_GOOD = "/container-cicd/prod/app/deployed-image", "/container-cicd/prod/app/known-good-image"
REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app"
GOOD, BAKED = (f"{REPOSITORY}@{fake_aws.image([tag])['imageDigest']}" for tag in ("900d111", "f1e3333"))


def stage_names(result) -> list[str]:
    return [s["name"] for s in result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]


@pytest.mark.parametrize("label", ["dev", "prod", "prod-ecs", "dev-eks"])
def test_release_comes_right_after_the_gated_deploy_stage_on_every_stack(dev, prod, prod_ecs, evaluate, label):
    result = {"dev": dev, "prod": prod, "prod-ecs": prod_ecs, "dev-eks": evaluate("dev", deployTarget="eks")}[label]
    names = stage_names(result)
    assert names[names.index("Deploy") + 1] == "Release"
    assert names[-1] == ("Release" if "promotesFrom" in result.outputs else "Publish")
    [release] = [s for s in result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] if s["name"] == "Release"]
    # No gates of its own: it runs once the deploy stage succeeded, bake included, and is not rolled back.
    assert not any(release.get(k) for k in ("beforeEntry", "onSuccess", "onFailure"))
    [action] = release["actions"]
    assert (action["name"], action["provider"]) == ("MarkKnownGood", "CodeBuild")
    assert json.loads(action["configuration"]["EnvironmentVariables"]) == [{"name": "IMAGE_URI", "value": "#{BuildVariables.IMAGE_URI}", "type": "PLAINTEXT"}]


def test_production_bakes_before_release(prod):
    [deploy] = [s for s in prod.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] if s["name"] == "Deploy"]
    [rule] = deploy["onSuccess"]["condition"]["rules"]
    assert (deploy["onSuccess"]["condition"]["result"], rule["name"]) == ("ROLLBACK", "BakeTime")


def test_the_records_start_with_the_bootstrap_image_and_belong_to_the_pipeline(dev):
    known_good = dev.named("image-record-known-good")
    deployed = dev.named("image-record-parameter")
    assert known_good.inputs["name"] == "/container-cicd/dev/app/known-good-image"
    assert known_good.inputs["insecureValue"] == deployed.inputs["insecureValue"]
    assert known_good.ignore_changes == ("insecureValue",)


def run(tmp_path, image_uri: str, deployed: str | None) -> tuple[int, str, fake_aws.FakeAws]:
    cloud = fake_aws.FakeAws(tmp_path)
    cloud.set_parameter(KNOWN_GOOD, GOOD)
    if deployed is not None:
        cloud.set_parameter(DEPLOYED, deployed)
    env = {"PATH": f"{cloud.bin}:{os.environ['PATH']}", "IMAGE_URI": image_uri, **cloud.env()}
    done = subprocess.run(["bash", "-c", release_script(DEPLOYED, KNOWN_GOOD)], env=env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, cloud


def test_what_passed_its_bake_and_runs_becomes_known_good(tmp_path):
    code, out, cloud = run(tmp_path, BAKED, deployed=BAKED)
    assert (code, cloud.parameter(KNOWN_GOOD)) == (0, BAKED)
    assert f"Recorded {BAKED} as the known-good image" in out


def test_an_image_that_no_longer_runs_is_not_recorded_known_good(tmp_path):
    """A `pulumi up` or a stage rollback put another image in place while this one baked: nothing is recorded."""
    code, out, cloud = run(tmp_path, BAKED, deployed=GOOD)
    assert (code, cloud.parameter(KNOWN_GOOD)) == (1, GOOD)
    assert f"Release: {BAKED} passed its bake, but {GOOD} runs now (deployed-image); not recorded as known good" in out


@pytest.mark.parametrize("image_uri", ["", f"{REPOSITORY}:f1e3333", "sha256:" + "a" * 64 + " x"])
def test_only_a_digest_reference_is_recorded(tmp_path, image_uri):
    code, out, cloud = run(tmp_path, image_uri, deployed=image_uri)
    assert (code, cloud.parameter(KNOWN_GOOD)) == (1, GOOD)
    assert f"Release: IMAGE_URI '{image_uri}' is not a digest reference; nothing recorded" in out
    assert cloud.calls() == []


def test_the_release_role_reads_what_runs_and_writes_known_good_only(dev):
    statements = json.loads(dev.named("release-step-role-policy").inputs["policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadDeployedImage"] == {
        "Sid": "ReadDeployedImage",
        "Effect": "Allow",
        "Action": "ssm:GetParameter",
        "Resource": dev.named("image-record-parameter").outputs["arn"],
    }
    assert by_sid["RecordKnownGoodImage"] == {
        "Sid": "RecordKnownGoodImage",
        "Effect": "Allow",
        "Action": "ssm:PutParameter",
        "Resource": dev.named("image-record-known-good").outputs["arn"],
    }
    spec = yaml.safe_load(dev.named("release-step-project").inputs["source"]["buildspec"])
    assert spec["phases"]["build"]["commands"] == [release_script("/container-cicd/dev/app/deployed-image", "/container-cicd/dev/app/known-good-image")]


def test_a_stack_that_deployed_before_the_record_existed_starts_it_with_what_runs():
    """Upgrading a stack whose pipeline already deployed X: the new known-good record starts with X, not the
    bootstrap image, so a failed rollout before the next release restores X."""
    from offline.mocks import evaluate_stack

    deployed = "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app@" + fake_aws.image(["3f2c1e9"])["imageDigest"]
    result = evaluate_stack("dev", ssm_parameters={"/container-cicd/dev/app/deployed-image": deployed})
    assert result.named("image-record-known-good").inputs["insecureValue"] == deployed
