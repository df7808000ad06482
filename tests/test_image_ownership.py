"""Who owns the running image: the pipeline deploys it, `pulumi up` keeps it and still applies config.

Two steps, as in an account: `pulumi up` (the bootstrap image runs); the pipeline deploys image X and
its deploy step records X in the stack's SSM parameter; the team changes sizes and replicas and runs
`pulumi up` again. The second evaluation must run X with the new sizes, and nothing may go back to
the bootstrap image.
"""

from __future__ import annotations

import json

import pytest

from components.delivery.image_record import MANIFEST_MEDIA_TYPES
from components.settings import DEFAULT_BOOTSTRAP_IMAGE
from offline.changes import plan_change
from offline.mocks import evaluate_stack
from tests import fake_aws

PARAMETER = "/container-cicd/dev/app/deployed-image"
REPOSITORY_URL = "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app"
# The commit's image as the build pushed it: tagged with the short commit, an image index (provenance).
BUILT = fake_aws.image(["3f2c1e9"])
X = f"{REPOSITORY_URL}@{BUILT['imageDigest']}"


def ecs_image(result) -> str:
    [container] = json.loads(result.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    return container["image"]


@pytest.fixture(scope="module")
def ecs_two_steps(dev):
    first = dev  # the session's dev: the first `pulumi up`, before the pipeline deployed
    second = evaluate_stack("dev", {"ecsCpu": 512, "ecsMemory": 1024, "desiredCount": 3}, ssm_parameters={PARAMETER: X})
    return first, second


def test_the_stack_creates_the_record_with_the_bootstrap_image_and_leaves_its_value_to_the_pipeline(dev):
    parameter = dev.named("image-record-parameter")
    assert (parameter.inputs["name"], parameter.inputs["type"], parameter.inputs["insecureValue"]) == (PARAMETER, "String", DEFAULT_BOOTSTRAP_IMAGE)
    assert parameter.ignore_changes == ("insecureValue",)
    # Read back from AWS on every up, once the parameter exists.
    assert ("aws:ssm/getParameter:getParameter", {"name": PARAMETER}) in dev.invokes
    assert ecs_image(dev) == DEFAULT_BOOTSTRAP_IMAGE


def test_ecs_second_up_keeps_the_deployed_image_and_applies_the_new_sizes(ecs_two_steps):
    first, second = ecs_two_steps
    task = second.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert ecs_image(second) == X
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    service = second.one("aws:ecs/service:Service")
    assert service.inputs["desiredCount"] == 3
    assert service.inputs["taskDefinition"] == second.one("aws:ecs/taskDefinition:TaskDefinition").outputs["arn"]
    assert "taskDefinition" not in service.ignore_changes and "task_definition" not in service.ignore_changes
    change = plan_change(first, second)
    # A new revision (task definitions are immutable) with X and the new sizes; the service is updated
    # in place to it; nothing else is replaced and nothing is deleted.
    assert [(new.name, reasons) for _, new, reasons in change.replaced] == [("deploy-task", ["containerDefinitions", "cpu", "memory"])]
    assert change.deleted == [] and change.created == []


def test_ecs_up_without_config_change_after_a_deployment_runs_the_deployed_image():
    after_deploy = evaluate_stack("dev", ssm_parameters={PARAMETER: X})
    assert ecs_image(after_deploy) == X


def test_the_record_survives_a_target_switch(dev, evaluate):
    """The parameter belongs to the stack: the other target starts with the image that ran last."""
    change = plan_change(dev, evaluate("dev", deployTarget="eks"))
    kept = {new.name for old, new in change.updated if old.urn == new.urn}
    assert "image-record-parameter" in kept


# ------------------------------------------------------------------------------------------
# The ECS record step: after the ECS deploy action, record what it deployed.
# ------------------------------------------------------------------------------------------


def run_record_step(tmp_path, spec: dict, image_uri: str, *, images: list[dict] | None = None, ssm_fails: bool = False, account: str = fake_aws.ACCOUNT):
    """Run the record step's commands once against the stand-in AWS, as a role of `account`; return (exit code,
    calls, the record). Call again with the same tmp_path to run it again against the same registry (a redeployment)."""
    import os
    import subprocess

    work = tmp_path / "src"
    cloud = fake_aws.FakeAws(tmp_path, account=account)
    if not work.exists():
        work.mkdir()
        cloud.repository("container-cicd-dev-app", [BUILT] if images is None else images)
    (tmp_path / "calls.log").write_text("")
    (work / "imagedefinitions.json").write_text(json.dumps([{"name": "app", "imageUri": image_uri}]))
    script = "\n".join(f"{c}\nrc=$?; if [ $rc -ne 0 ]; then exit $rc; fi" for c in spec["phases"]["build"]["commands"])
    env = {"PATH": f"{cloud.bin}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls.log"), **cloud.env(), **({"SSM_FAILS": "yes"} if ssm_fails else {})}
    proc = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    return proc.returncode, calls, cloud.parameter(PARAMETER)


def record_spec(result) -> dict:
    import yaml

    return yaml.safe_load(result.named("deploy-record-project").inputs["source"]["buildspec"])


def test_ecs_deploy_stage_records_the_image_after_the_deploy_action(dev):
    stages = dev.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    [deploy] = [s for s in stages if s["name"] == "Deploy"]
    actions = [(a["name"], a["provider"], a.get("runOrder", 1)) for a in deploy["actions"]]
    assert actions == [("DeployToEcs", "ECS", 1), ("VerifyDeployment", "Lambda", 2), ("RecordImage", "CodeBuild", 3)]
    record = deploy["actions"][2]
    assert record["configuration"] == {"ProjectName": "container-cicd-dev-app-record"}
    assert record["inputArtifacts"] == ["BuildOutput"]


def test_record_step_role_may_write_the_record_and_tag_images_only(dev):
    role_policy = json.loads(dev.named("deploy-record-role-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in role_policy["Statement"]}
    parameter_arn = dev.named("image-record-parameter").outputs["arn"]
    repository_arn = dev.one("aws:ecr/repository:Repository").outputs["arn"]
    assert by_sid["RecordDeployedImage"] == {"Sid": "RecordDeployedImage", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": parameter_arn}
    assert by_sid["TagDeployedImage"] == {
        "Sid": "TagDeployedImage",
        "Effect": "Allow",
        "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"],
        "Resource": repository_arn,
    }
    assert by_sid["Logs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]


def test_record_step_records_the_digest_reference_and_tags_the_image_deployed_once(tmp_path, dev):
    rc, calls, record = run_record_step(tmp_path, record_spec(dev), X)
    assert rc == 0, calls
    assert record == X
    digest = BUILT["imageDigest"]
    assert calls == [
        f"aws ecr describe-images --registry-id 123456789012 --repository-name container-cicd-dev-app --image-ids imageDigest={digest} --query imageDetails[0] --output json",
        f"aws ssm put-parameter --name {PARAMETER} --type String --overwrite --value {X}",
        f"aws ecr batch-get-image --registry-id 123456789012 --repository-name container-cicd-dev-app --image-ids imageDigest={digest} --accepted-media-types "
        + " ".join(MANIFEST_MEDIA_TYPES)
        + " --query images[0] --output json",
        f"aws ecr put-image --registry-id 123456789012 --repository-name container-cicd-dev-app --image-tag deployed-3f2c1e9 --image-digest {digest} "
        f"--image-manifest {BUILT['imageManifest']} --image-manifest-media-type application/vnd.oci.image.index.v1+json",
    ]
    # The same image (digest) now carries both tags; nothing else was created.
    assert fake_aws.FakeAws(tmp_path).images("container-cicd-dev-app") == [{**BUILT, "imageTags": ["3f2c1e9", "deployed-3f2c1e9"]}]


def test_a_redeployment_of_the_same_digest_records_it_and_tags_nothing(tmp_path, dev):
    spec = record_spec(dev)
    assert run_record_step(tmp_path, spec, X)[0] == 0
    rc, calls, record = run_record_step(tmp_path, spec, X)
    assert (rc, record) == (0, X)
    assert not any("batch-get-image" in c or "put-image" in c for c in calls), calls
    assert fake_aws.FakeAws(tmp_path).tags_of("container-cicd-dev-app", BUILT["imageDigest"]) == ["3f2c1e9", "deployed-3f2c1e9"]


def test_a_tag_reference_from_before_digest_deployments_is_recorded_as_its_digest(tmp_path, dev):
    """A stage rollback to an execution built before images were deployed by digest passes repo:tag."""
    rc, calls, record = run_record_step(tmp_path, record_spec(dev), f"{REPOSITORY_URL}:3f2c1e9")
    assert (rc, record) == (0, X), calls
    repository = "--registry-id 123456789012 --repository-name container-cicd-dev-app"
    assert calls[0] == f"aws ecr describe-images {repository} --image-ids imageTag=3f2c1e9 --query imageDetails[0] --output json"
    assert fake_aws.FakeAws(tmp_path).tags_of("container-cicd-dev-app", BUILT["imageDigest"]) == ["3f2c1e9", "deployed-3f2c1e9"]


@pytest.mark.parametrize(
    "image_uri",
    [
        f"{REPOSITORY_URL}@sha256:{'0' * 64}",  # not in the repository
        f"public.ecr.aws/other/app@{BUILT['imageDigest']}",  # another repository's name for the same bytes
        f"{REPOSITORY_URL}@sha256:feed",  # not a digest
        REPOSITORY_URL,  # neither tag nor digest
    ],
    ids=["unknown-digest", "other-repository", "malformed-digest", "bare-repository"],
)
def test_record_step_records_nothing_but_an_image_of_its_repository(tmp_path, dev, image_uri):
    rc, calls, record = run_record_step(tmp_path, record_spec(dev), image_uri)
    assert rc != 0
    assert record is None
    assert not any("put-parameter" in c or "put-image" in c for c in calls), calls


def test_an_image_without_a_commit_tag_is_recorded_but_not_tagged(tmp_path, dev):
    untagged = fake_aws.image([], name="pushed-by-hand")
    reference = f"{REPOSITORY_URL}@{untagged['imageDigest']}"
    rc, calls, record = run_record_step(tmp_path, record_spec(dev), reference, images=[untagged])
    assert (rc, record) == (0, reference), calls
    assert not any("put-image" in c for c in calls)


def test_the_media_type_is_what_lets_put_image_take_the_index(tmp_path, dev):
    """The same step without --image-manifest-media-type fails (as PutImage does for a manifest without a
    mediaType field), so the test above would catch its loss."""
    spec = record_spec(dev)
    commands = spec["phases"]["build"]["commands"]
    [i] = [n for n, c in enumerate(commands) if "put-image" in c]
    commands[i] = commands[i].replace(' --image-manifest-media-type "$MEDIA_TYPE"', "")
    rc, calls, _ = run_record_step(tmp_path, spec, X)
    assert rc != 0
    assert any("put-image" in c for c in calls)
    assert fake_aws.FakeAws(tmp_path).tags_of("container-cicd-dev-app", BUILT["imageDigest"]) == ["3f2c1e9"]


def test_record_step_fails_when_the_record_cannot_be_written(tmp_path, dev):
    """A deployment whose image is not recorded would be undone by the next `pulumi up`: fail the stage."""
    rc, calls, _ = run_record_step(tmp_path, record_spec(dev), X, ssm_fails=True)
    assert rc != 0
    assert not any("put-image" in c for c in calls)


def test_record_step_needs_exactly_the_permissions_it_is_granted(dev):
    """Every AWS call the record step makes is an action of its role's record statements, and every
    action there is used (botocore names each CLI command's API operation)."""
    import re

    from components.delivery.image_record import record_statements

    commands = "\n".join(record_spec(dev)["phases"]["build"]["commands"])
    used = {f"{service}:{''.join(w.title() for w in command.split('-'))}" for service, command in re.findall(r"\baws (ecr|ssm) ([a-z-]+)", commands)}
    granted = {a for s in record_statements("parameter-arn", "repository-arn") for a in s["Action"]}
    # GetParameter: the EKS deploy step reads the record (KNOWN_GOOD) with the same statements.
    assert used == granted - {"ssm:GetParameter"}
    assert used == {"ecr:DescribeImages", "ecr:BatchGetImage", "ecr:PutImage", "ssm:PutParameter"}


# ------------------------------------------------------------------------------------------
# EKS: the same record. `pulumi up` renders the manifests into the deploy step; a change of them
# starts a config-apply run, which applies them with the recorded image.
# ------------------------------------------------------------------------------------------

PROD_PARAMETER = "/container-cicd/prod/app/deployed-image"
PROD_X = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-prod-app@{BUILT['imageDigest']}"


def eks_buildspec(result) -> dict:
    import yaml

    return yaml.safe_load(result.named("deploy-deploy-project").inputs["source"]["buildspec"])


def eks_deployment(result) -> dict:
    items = json.loads(eks_buildspec(result)["env"]["variables"]["MANIFESTS"])["items"]
    [deployment] = [i for i in items if i["kind"] == "Deployment"]
    return deployment


@pytest.fixture(scope="module")
def eks_two_steps(prod):
    first = prod
    second = evaluate_stack("prod", {"eksPodCpuMillicores": 1000, "eksPodMemoryMiB": 2048, "desiredCount": 5}, ssm_parameters={PROD_PARAMETER: PROD_X})
    return first, second


def test_eks_second_up_applies_the_new_sizes_with_the_deployed_image(tmp_path, eks_two_steps):
    from tests.test_eks_deploy import applied, run_step

    first, second = eks_two_steps
    deployment = eks_deployment(second)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 5
    assert container["resources"] == {"requests": {"cpu": "1000m", "memory": "2048Mi"}, "limits": {"cpu": "1000m", "memory": "2048Mi"}}
    # Nothing in what Pulumi sends carries the bootstrap image: the step always sets the image.
    assert DEFAULT_BOOTSTRAP_IMAGE not in json.dumps(eks_buildspec(second))
    # The config-apply run (no IMAGE_URI) of the second up's buildspec applies X with the new sizes.
    [script] = eks_buildspec(second)["phases"]["build"]["commands"]
    code, calls, running, record = run_step(
        tmp_path,
        script,
        record=PROD_X,
        running=PROD_X,
        manifests_json=eks_buildspec(second)["env"]["variables"]["MANIFESTS"],
    )
    assert (code, applied(calls), running, record) == (0, [PROD_X], PROD_X, PROD_X)


def test_eks_config_change_triggers_the_apply_and_replaces_nothing(eks_two_steps):
    first, second = eks_two_steps
    change = plan_change(first, second)
    assert change.replaced == [] and change.created == [] and change.deleted == []
    changed = {new.name for old, new in change.effective_updates()}
    # The digest changes (EventBridge starts the config-apply run) and the project gets the new manifests.
    assert changed == {"deploy-spec", "deploy-deploy-project"}
    assert first.named("deploy-spec").inputs["insecureValue"] != second.named("deploy-spec").inputs["insecureValue"]


def test_eks_up_after_a_pipeline_deployment_changes_nothing(prod):
    """The pipeline deployed X; `pulumi up` without a config change neither touches the step nor
    starts an apply (the manifests carry no image, so they do not change with the record)."""
    before = prod
    after = evaluate_stack("prod", ssm_parameters={PROD_PARAMETER: PROD_X})
    change = plan_change(before, after)
    assert [new.name for old, new in change.effective_updates()] == []


def test_an_image_of_another_accounts_registry_is_recorded_and_never_tagged(tmp_path):
    """A promoting stack in another account (promoteFromAccount): the upstream's repository policy lets it pull and
    describe, not tag. The record step looks the image up in that registry, records it and tags nothing."""
    from components.deploy.ecs.documents import record_buildspec

    upstream = "111111111111.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app"
    cloud = fake_aws.FakeAws(tmp_path, account="222222222222")
    cloud.repository("container-cicd-dev-app", [BUILT], account="111111111111")
    (tmp_path / "src").mkdir()
    spec = record_buildspec(PARAMETER, upstream, "container-cicd-dev-app", tag_deployed=False)
    rc, calls, record = run_record_step(tmp_path, spec, f"{upstream}@{BUILT['imageDigest']}", account="222222222222")
    assert rc == 0, calls
    assert record == f"{upstream}@{BUILT['imageDigest']}"
    assert [c.split(" --")[0] for c in calls] == ["aws ecr describe-images", "aws ssm put-parameter"]
    assert "--registry-id 111111111111" in calls[0]
    assert cloud.tags_of("container-cicd-dev-app", BUILT["imageDigest"], account="111111111111") == ["3f2c1e9"]


def test_a_role_that_tags_nothing_may_not_tag():
    from components.delivery.image_record import record_statements

    statements = record_statements("parameter-arn", "repository-arn", tag_deployed=False)
    assert [s["Action"] for s in statements] == [["ssm:GetParameter", "ssm:PutParameter"], "ecr:DescribeImages"]
