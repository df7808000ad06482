"""Build: CodeBuild project, its log and report groups, and the buildspec (parsed and executed)."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from components.delivery import buildspec
from components.settings import CpuArchitecture
from components.supply import notation

BUILD = "container-cicd:build:Build"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# What the stub registry answers for the commit's tag (describe-images --query ...imageDigest).
DIGEST = "sha256:" + "feed" * 16
# One non-default dev stack shared by several test modules (same dict => one cached evaluation).
CUSTOM = {
    "containerName": "Web_Frontend",
    "buildTimeoutMinutes": 45,
    "deploymentTimeoutMinutes": 9,
    "imageRetentionCount": 7,
    "untaggedImageExpiryDays": 3,
    "buildComputeType": "BUILD_GENERAL1_LARGE",
}


def build_resources(result):
    return [r for r in result.resources if r.custom and f"{BUILD}$" in r.urn]


def project(result):
    """The build's project (a deploy target may add projects of its own)."""
    [found] = [r for r in build_resources(result) if r.type == "aws:codebuild/project:Project"]
    return found


def spec(result) -> dict:
    return yaml.safe_load(project(result).inputs["source"]["buildspec"])


def task_container_name(result) -> str:
    [container] = json.loads(result.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    return container["name"]


def jq_container_name(spec_: dict) -> str:
    [cmd] = [c for c in spec_["phases"]["post_build"]["commands"] if c.startswith("jq ")]
    args = shlex.split(cmd)
    return args[args.index("--arg") + 2] if args[args.index("--arg") + 1] == "name" else pytest.fail(cmd)


# ------------------------------------------------------------------------------------------
# Resources
# ------------------------------------------------------------------------------------------


def test_exact_resources(dev):
    assert sorted((r.type, r.name) for r in build_resources(dev)) == [
        ("aws:cloudwatch/logGroup:LogGroup", "build-logs"),
        ("aws:codebuild/project:Project", "build-project"),
        ("aws:codebuild/reportGroup:ReportGroup", "build-tests"),
        ("aws:iam/role:Role", "build-role"),
        ("aws:iam/rolePolicy:RolePolicy", "build-role-policy"),
    ]


def test_project_environment(dev):
    p = project(dev).inputs
    assert p["name"] == "container-cicd-dev-app-build"
    assert p["environment"] == {
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
        "computeType": "BUILD_GENERAL1_SMALL",
        "privilegedMode": True,  # the Docker daemon needs it
        "imagePullCredentialsType": "CODEBUILD",
    }
    assert p["cache"] == {"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]}
    assert p["buildTimeout"] == 20
    assert p["source"]["type"] == "CODEPIPELINE" and p["artifacts"] == {"type": "CODEPIPELINE"}
    assert p["serviceRole"] == dev.named("build-role").outputs["arn"]
    assert p["encryptionKey"] == dev.named("artifacts-key").outputs["arn"]


def test_prod_compute_type_and_timeout_from_config(prod, evaluate):
    # prod promotes from dev (it builds nothing); as a building stack it takes its compute type from config.
    assert [r.name for r in prod.of_type("aws:codebuild/project:Project") if r.inputs["environment"]["privilegedMode"]] == []
    building = evaluate("prod", promoteFrom=None, buildComputeType="BUILD_GENERAL1_MEDIUM")
    assert project(building).inputs["environment"]["computeType"] == "BUILD_GENERAL1_MEDIUM"
    assert project(evaluate("dev", **CUSTOM)).inputs["buildTimeout"] == 45


@pytest.mark.parametrize("arch", list(CpuArchitecture))
def test_architecture_drives_build_image_and_task_platform(evaluate, arch):
    r = evaluate("dev", **CUSTOM) if arch is CpuArchitecture.X86_64 else evaluate("dev", cpuArchitecture=arch.value, buildComputeType="BUILD_GENERAL1_LARGE")
    env = project(r).inputs["environment"]
    expected = {
        CpuArchitecture.X86_64: ("LINUX_CONTAINER", "aws/codebuild/amazonlinux-x86_64-standard:5.0", "X86_64"),
        CpuArchitecture.ARM64: ("ARM_CONTAINER", "aws/codebuild/amazonlinux-aarch64-standard:3.0", "ARM64"),
    }[arch]
    assert (env["type"], env["image"]) == expected[:2]
    assert env["computeType"] == "BUILD_GENERAL1_LARGE"
    # The image is built on the architecture it runs on.
    assert r.one("aws:ecs/taskDefinition:TaskDefinition").inputs["runtimePlatform"]["cpuArchitecture"] == expected[2]


def test_log_group_with_retention(dev, prod_building):
    for result, days in ((dev, 14), (prod_building, 90)):  # the stack files' logRetentionDays
        log_group = result.named("build-logs")
        assert log_group.inputs["name"] == f"/aws/codebuild/container-cicd-{result.stack}-app-build"
        assert log_group.inputs["retentionInDays"] == days
        assert project(result).inputs["logsConfig"] == {
            "cloudwatchLogs": {"status": "ENABLED", "groupName": log_group.inputs["name"]},
            "s3Logs": {"status": "DISABLED"},
        }
        assert log_group.protect is (result.stack == "prod")


def test_report_group(dev):
    reports = dev.named("build-tests").inputs
    assert reports["type"] == "TEST"
    assert reports["name"] == "container-cicd-dev-app-build-tests"
    assert reports["exportConfig"] == {"type": "NO_EXPORT"}


def test_build_stage(dev):
    stages = dev.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    [action] = stages[1]["actions"]
    assert stages[1]["name"] == "Build"
    assert (action["provider"], action["category"], action["owner"]) == ("CodeBuild", "Build", "AWS")
    assert action["configuration"] == {"ProjectName": "container-cicd-dev-app-build"}
    assert action["inputArtifacts"] == ["SourceOutput"] and action["outputArtifacts"] == ["BuildOutput"]


# ------------------------------------------------------------------------------------------
# Buildspec
# ------------------------------------------------------------------------------------------


def test_buildspec_is_yaml_with_phases_in_order(dev):
    s = spec(dev)
    assert s["version"] == 0.2
    assert list(s["phases"]) == ["install", "pre_build", "build", "post_build"]
    assert s["phases"]["install"]["commands"] == notation.install_commands(CpuArchitecture.X86_64)
    assert s["env"]["shell"] == "bash"
    assert s["env"]["variables"]["REPOSITORY_URI"] == dev.outputs["repositoryUrl"]
    assert s["env"]["variables"]["REPOSITORY_NAME"] == "container-cicd-dev-app"
    assert s["env"]["variables"]["APP_PATH"] == "app"
    assert s["phases"]["pre_build"]["on-failure"] == "ABORT" and s["phases"]["build"]["on-failure"] == "ABORT"
    assert set(s["env"]["exported-variables"]) == {"IMAGE_TAG", "IMAGE_URI", "IMAGE_DIGEST", "COMMIT_ID"}


def test_image_tag_is_the_short_commit_and_names_only_what_docker_pushes(dev):
    s = spec(dev)
    pre = s["phases"]["pre_build"]["commands"]
    assert pre[0] == 'IMAGE_TAG="$(echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" | cut -c 1-7)"'
    assert 'TAGGED_IMAGE="$REPOSITORY_URI:$IMAGE_TAG"' in pre
    # IMAGE_URI is set once, after the push, from the registry's digest.
    assert [c for phase in s["phases"].values() for c in phase["commands"] if c.startswith("IMAGE_URI=")] == ['IMAGE_URI="$REPOSITORY_URI@$IMAGE_DIGEST"']


def test_the_digest_is_the_one_the_registry_resolves_the_tag_to(dev):
    post = spec(dev)["phases"]["post_build"]["commands"]
    assert post[1] == (
        'IMAGE_DIGEST="$(aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$IMAGE_TAG" --query \'imageDetails[0].imageDigest\' --output text)"'
    )
    assert post.index("export IMAGE_DIGEST IMAGE_URI") < next(i for i, c in enumerate(post) if c.startswith("jq "))


def test_skip_when_the_commit_image_exists(dev):
    s = spec(dev)
    [probe] = [c for c in s["phases"]["pre_build"]["commands"] if "describe-images" in c]
    assert 'imageTag="$IMAGE_TAG"' in probe and "IMAGE_EXISTS=true" in probe and "IMAGE_EXISTS=false" in probe
    [build] = s["phases"]["build"]["commands"]
    assert build.startswith('if [ "$IMAGE_EXISTS" = "true" ]; then ')
    assert build.index("else") < build.index('docker push "$TAGGED_IMAGE"')
    assert "IMAGE_URI" not in build  # not known before the push: the digest comes from the registry


def test_junit_report_goes_to_the_report_group(dev):
    s = spec(dev)
    group_arn = dev.named("build-tests").outputs["arn"]
    assert s["reports"] == {group_arn: {"files": ["junit.xml"], "base-directory": "reports", "file-format": "JUNITXML"}}


def test_imagedefinitions_name_is_the_task_definition_container_name(dev, evaluate):
    for result in (dev, evaluate("dev", **CUSTOM)):
        s = spec(result)
        name = task_container_name(result)
        assert jq_container_name(s) == name
        assert s["env"]["variables"]["CONTAINER_NAME"] == name
        assert s["artifacts"] == {"files": ["imagedefinitions.json"]}
        [deploy] = [a for stage in result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] for a in stage["actions"] if a["provider"] == "ECS"]
        assert deploy["configuration"]["FileName"] == "imagedefinitions.json"
        service = result.one("aws:ecs/service:Service").inputs
        assert service["loadBalancers"][0]["containerName"] == name
    assert task_container_name(evaluate("dev", **CUSTOM)) == "Web_Frontend"


def test_buildspec_function_is_pure_data():
    s = buildspec.buildspec(app_path="svc/api", container_name="api", repository_url="r.example/x", repository_name="x", report_group_arn="arn:rg")
    assert yaml.safe_load(buildspec.render(s)) == s
    # Docker rejects upper-case image names; local tags never use the configurable container name.
    upper = buildspec.buildspec(app_path="app", container_name="MyApp", repository_url="r.example/x", repository_name="x", report_group_arn="arn:rg")
    for ref in re.findall(r"--tag (\S+)|docker create (\S+)", upper["phases"]["build"]["commands"][0]):
        ref = next(r for r in ref if r)
        repository = ref.split(":", 1)[0]
        assert ref.startswith('"$TAGGED_IMAGE"') or repository == repository.lower(), ref


# ------------------------------------------------------------------------------------------
# Running the buildspec's commands against stub `aws` and `docker`
# ------------------------------------------------------------------------------------------

STUB_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >> "$CALLS"
case "$1" in
  create) echo cid123 ;;
  cp) mkdir -p "$3"; echo "${TEST_EXIT:-0}" > "$3/exit-code"; echo '<testsuites/>' > "$3/junit.xml" ;;
esac
"""
STUB_AWS = """#!/usr/bin/env bash
echo "aws $*" >> "$CALLS"
case "$*" in
  *get-login-password*) echo token ;;
  *--query*) echo "${DIGEST_ANSWER}" ;;
  *describe-images*) [ "$IMAGE_IN_REGISTRY" = "yes" ] || exit 254 ;;
esac
"""


def run_buildspec(tmp_path: Path, spec_: dict, *, image_in_registry: bool, test_exit: int = 0, digest_answer: str = DIGEST) -> tuple[int, list[str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("docker", STUB_DOCKER), ("aws", STUB_AWS)):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    lines = []
    for phase in ("pre_build", "build", "post_build"):
        for command in spec_["phases"][phase]["commands"]:
            # The signature (install phase and the Notation commands) runs against the stand-in registry and
            # `notation` in tests/test_supply_chain.py; here the build's own steps run against these stubs.
            if "notation" in command.lower():
                continue
            # CodeBuild stops a phase at the first failing command.
            lines.append(f"{command}\nrc=$?; if [ $rc -ne 0 ]; then exit $rc; fi")
    # What CodeBuild reads exported-variables from: the environment of the shell after post_build.
    lines.append(f"env > {shlex.quote(str(tmp_path / 'final.env'))}")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls.log"),
        "IMAGE_IN_REGISTRY": "yes" if image_in_registry else "no",
        "TEST_EXIT": str(test_exit),
        "DIGEST_ANSWER": digest_answer,
        "CODEBUILD_RESOLVED_SOURCE_VERSION": COMMIT,
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "AWS_REGION": "us-east-1",
        **{k: str(v) for k, v in spec_["env"]["variables"].items()},
    }
    work = tmp_path / "src"
    work.mkdir()
    proc = subprocess.run(["bash", "-c", "\n".join(lines)], cwd=work, env=env, capture_output=True, text=True, timeout=30)
    calls = (tmp_path / "calls.log").read_text().splitlines() if (tmp_path / "calls.log").exists() else []
    return proc.returncode, calls, work


def final_environment(tmp_path: Path) -> dict[str, str]:
    """The exported environment of the build's shell after its last command (`env` output)."""
    pairs = (line.split("=", 1) for line in (tmp_path / "final.env").read_text().splitlines() if "=" in line)
    return dict(pairs)


@pytest.fixture(scope="module")
def dev_spec(dev) -> dict:
    return spec(dev)


def test_new_commit_is_tested_built_pushed_by_tag_and_deployed_by_digest(tmp_path, dev_spec, dev):
    rc, calls, work = run_buildspec(tmp_path, dev_spec, image_in_registry=False)
    tagged = f"{dev.outputs['repositoryUrl']}:{COMMIT[:7]}"
    assert rc == 0, calls
    docker = [c for c in calls if c.startswith("docker ")]
    assert docker[0].startswith("docker login")
    assert docker[1] == "docker build --target test --tag pipeline-test:0123456 app"
    assert any(c.startswith(f"docker build --tag {tagged} ") for c in docker)
    assert docker[-1] == f"docker push {tagged}"
    assert calls[-1] == f"aws ecr describe-images --repository-name container-cicd-dev-app --image-ids imageTag={COMMIT[:7]} --query imageDetails[0].imageDigest --output text"
    digest_reference = f"{dev.outputs['repositoryUrl']}@{DIGEST}"
    assert json.loads((work / "imagedefinitions.json").read_text()) == [{"name": task_container_name(dev), "imageUri": digest_reference}]
    assert (work / "reports" / "junit.xml").exists()


def test_existing_commit_image_skips_build_and_push_and_deploys_its_digest(tmp_path, dev_spec, dev):
    rc, calls, work = run_buildspec(tmp_path, dev_spec, image_in_registry=True)
    assert rc == 0
    assert not any(c.startswith(("docker build", "docker push")) for c in calls), calls
    assert json.loads((work / "imagedefinitions.json").read_text()) == [{"name": "app", "imageUri": f"{dev.outputs['repositoryUrl']}@{DIGEST}"}]


@pytest.mark.parametrize("answer", ["None", "", "sha256:feed", "sha256:" + "F" * 64, DIGEST + "\n" + DIGEST])
def test_no_deploy_artifact_without_a_registry_digest(tmp_path, dev_spec, answer):
    """`--output text` prints None for a missing image; a tag (or anything else) never becomes IMAGE_URI."""
    rc, calls, work = run_buildspec(tmp_path, dev_spec, image_in_registry=True, digest_answer=answer)
    assert rc == 1, calls
    assert not (work / "imagedefinitions.json").exists()


def test_failing_tests_fail_the_build_before_the_image_is_pushed(tmp_path, dev_spec):
    rc, calls, work = run_buildspec(tmp_path, dev_spec, image_in_registry=False, test_exit=1)
    assert rc == 1
    assert not any(c.startswith("docker push") for c in calls)
    assert not (work / "imagedefinitions.json").exists()
    assert (work / "reports" / "junit.xml").exists()  # the report is still published


@pytest.mark.parametrize("image_in_registry", [False, True], ids=["new-image", "existing-image"])
def test_exported_variables_are_in_the_environment_after_post_build(tmp_path, dev_spec, dev, image_in_registry):
    """CodeBuild publishes exported-variables from the environment; an unexported shell variable is empty there."""
    rc, calls, _ = run_buildspec(tmp_path, dev_spec, image_in_registry=image_in_registry)
    assert rc == 0, calls
    env = final_environment(tmp_path)
    assert {name: env.get(name) for name in dev_spec["env"]["exported-variables"]} == {
        "IMAGE_TAG": COMMIT[:7],
        "IMAGE_URI": f"{dev.outputs['repositoryUrl']}@{DIGEST}",
        "IMAGE_DIGEST": DIGEST,  # the stub's describe-images --query answer
        "COMMIT_ID": COMMIT,
    }
    assert "TAGGED_IMAGE" not in env  # the pushed name is the build's own business


def test_existing_image_writes_a_junit_report_that_says_why_no_test_ran(tmp_path, dev_spec, dev):
    """Without a report file the report group records the run as INCOMPLETE on every re-run and revert."""
    rc, calls, work = run_buildspec(tmp_path, dev_spec, image_in_registry=True)
    assert rc == 0, calls
    report = work / dev_spec["reports"][dev.named("build-tests").outputs["arn"]]["base-directory"] / "junit.xml"
    root = ET.parse(report).getroot()
    [suite] = root.iter("testsuite")
    assert (suite.get("tests"), suite.get("skipped"), suite.get("failures"), suite.get("errors")) == ("1", "1", "0", "0")
    [case] = suite.iter("testcase")
    [skipped] = case.findall("skipped")
    uri = f"{dev.outputs['repositoryUrl']}:{COMMIT[:7]}"
    assert skipped.get("message") == f"Image {uri} was already in the registry, so tests were not re-run"


def test_new_image_keeps_the_report_the_tests_wrote(tmp_path, dev_spec):
    """The skipped-tests report is only for the skip path: a real run publishes the tests' own report."""
    rc, _, work = run_buildspec(tmp_path, dev_spec, image_in_registry=False)
    assert rc == 0
    assert (work / "reports" / "junit.xml").read_text().strip() == "<testsuites/>"  # the stub test stage's report


def test_skipped_report_is_well_formed_for_any_registry_uri():
    head, tail = buildspec.skipped_report()
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/svc-a_b:0a1b2c3"
    [skipped] = ET.fromstring(head + uri + tail).iter("skipped")
    assert uri in skipped.get("message")
