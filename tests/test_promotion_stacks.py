"""Build once, promote by digest: dev (building) and prod (promoting from dev) evaluated together. prod's
stack reference reads the outputs of dev as the program evaluated it (offline/mocks.py evaluates the
upstream first), so these tests follow the contract end to end: what dev exports is what prod deploys from."""

from __future__ import annotations

import json

import pytest
import yaml

from components.promotion import scripts
from components.promotion.check import check_gate
from components.promotion.contract import CONTRACT_VERSION
from components.settings import CpuArchitecture, Severity, SupplyChainSettings
from components.supply import notation
from offline.changes import plan_change
from offline.mocks import ACCOUNT, evaluate_stack
from tests.test_source import check_action_configuration, validate_pipeline

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
PROJECT = "aws:codebuild/project:Project"


def stages(result) -> list[dict]:
    return result.one(PIPELINE).inputs["stages"]


def actions(result) -> list[tuple[str, dict]]:
    return [(s["name"], a) for s in stages(result) for a in s["actions"]]


def buildspec(result, name: str) -> dict:
    return yaml.safe_load(result.named(name).inputs["source"]["buildspec"])


# ---- the contract: what dev exports is what prod uses ----


def test_dev_exports_its_promotion_contract(dev):
    assert dev.outputs["promotion"] == {
        "version": CONTRACT_VERSION,
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app",
        "repositoryArn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/container-cicd-dev-app",
        "repositoryName": "container-cicd-dev-app",
        "pipelineName": "container-cicd-dev-app-pipeline",
        "pipelineArn": f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:container-cicd-dev-app-pipeline",
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "verifiedTagPrefix": "verified-",
        "executionTagPrefix": "execution-",
        "cpuArchitecture": "x86_64",
        "downstreamAccounts": [],
        # The supply-chain gate's evidence: the profile that signs every pushed digest, and where the SBOMs are.
        "signingProfileArn": dev.one("aws:signer/signingProfile:SigningProfile").outputs["arn"],
        "recordsBucket": dev.named("records-bucket").outputs["bucket"],
        "recordsKeyArn": dev.named("artifacts-key").outputs["arn"],
    }
    assert dev.outputs["repositoryUrl"] == dev.outputs["promotion"]["repositoryUrl"]
    assert dev.outputs["promotion"]["signingProfileArn"].startswith(f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/container_cicd_dev_app_")


def test_prod_deploys_from_what_dev_exports(dev, prod):
    contract = dev.outputs["promotion"]
    assert prod.outputs["promotesFrom"] == "organization/container-cicd/dev"
    assert prod.outputs["repositoryUrl"] == contract["repositoryUrl"]
    assert buildspec(prod, "promotion-check-step-project")["env"]["variables"] == {
        "UPSTREAM_REGISTRY_ID": contract["accountId"],
        "UPSTREAM_REGION": contract["region"],
        "UPSTREAM_REPOSITORY": contract["repositoryName"],
        "UPSTREAM_REPOSITORY_URL": contract["repositoryUrl"],
        # The rescan: the upstream's SBOMs, and this stack's records bucket for its own copy and verdict.
        "UPSTREAM_RECORDS_BUCKET": contract["recordsBucket"],
        "RECORDS_BUCKET": prod.named("records-bucket").outputs["bucket"],
    }
    # The signature is verified against the upstream's profile, fixed into the step at `pulumi up`.
    script = buildspec(prod, "promotion-check-step-project")["phases"]["build"]["commands"][0]
    assert f'"trustedIdentities":["{contract["signingProfileArn"]}"]' in script
    env = prod.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert env == {
        "UPSTREAM_ACCOUNT": contract["accountId"],
        "UPSTREAM_PIPELINE": contract["pipelineName"],
        "UPSTREAM_REPOSITORY": contract["repositoryName"],
        "UPSTREAM_REPOSITORY_URL": contract["repositoryUrl"],
        "CONTAINER_NAME": "app",
        "INBOX_BUCKET": prod.named("promotion-inbox-bucket").outputs["bucket"],
    }
    # The image that runs is pulled from dev's repository: prod's nodes and tasks are granted that one.
    assert dev.one("aws:ecr/repository:Repository").outputs["arn"] == contract["repositoryArn"]


# ---- the promoting pipeline ----


def test_the_promoting_stack_has_no_build_stage_build_project_or_registry(prod):
    assert [s["name"] for s in stages(prod)] == ["Source", "Check", "Approve", "Deploy", "Release"]
    assert sorted(p.name for p in prod.of_type(PROJECT)) == ["deploy-deploy-project", "promotion-check-step-project", "release-step-project"]
    assert [p.name for p in prod.of_type(PROJECT) if p.inputs["environment"]["privilegedMode"]] == []
    for gone in ("aws:ecr/repository:Repository", "aws:codecommit/repository:Repository", "aws:codebuild/reportGroup:ReportGroup", "aws:codeconnections/connection:Connection"):
        assert prod.of_type(gone) == [], gone
    assert "docker build" not in json.dumps([p.inputs for p in prod.of_type(PROJECT)])


@pytest.mark.parametrize("variant", ["prod", "prod_ecs"])
def test_the_deployed_image_comes_from_the_check_step_fed_by_the_inbox(variant, request):
    result = request.getfixturevalue(variant)
    [(_, source)] = [(s, a) for s, a in actions(result) if a["category"] == "Source"]
    assert (source["provider"], source["outputArtifacts"]) == ("S3", ["SourceOutput"])
    assert source["configuration"] == {"S3Bucket": result.named("promotion-inbox-bucket").outputs["bucket"], "S3ObjectKey": "promotion.zip", "PollForSourceChanges": "false"}
    [(stage, check)] = [(s, a) for s, a in actions(result) if a["name"] == "CheckVerified"]
    assert stage == "Check"
    assert (check["provider"], check["namespace"], check["inputArtifacts"], check["outputArtifacts"]) == ("CodeBuild", "BuildVariables", ["SourceOutput"], ["BuildOutput"])
    # The execution goes into the scan verdict the step keeps.
    execution = json.dumps([{"name": "EXECUTION_ID", "value": "#{codepipeline.PipelineExecutionId}", "type": "PLAINTEXT"}])
    assert check["configuration"] == {"ProjectName": "container-cicd-prod-app-check", "EnvironmentVariables": execution}
    # Only the Check step reads the inbox; everything after it deploys what the Check step produced.
    readers = {a["name"]: a.get("inputArtifacts", []) for _, a in actions(result) if a.get("inputArtifacts")}
    assert {name for name, inputs in readers.items() if "SourceOutput" in inputs} == {"CheckVerified"}
    assert all(inputs == ["BuildOutput"] for name, inputs in readers.items() if name != "CheckVerified")
    spec = buildspec(result, "promotion-check-step-project")
    assert spec["env"]["exported-variables"] == ["IMAGE_URI", "IMAGE_TAG", "IMAGE_DIGEST", "COMMIT_ID", "UPSTREAM_EXECUTION_ID", "SBOM_URI", "SCAN_VERDICT"]
    assert spec["artifacts"] == {"files": ["imagedefinitions.json"]}
    # Production's gate (imageSigning on, threshold high): the upstream's signature, then the rescan.
    env = spec["env"]["variables"]
    signer = request.getfixturevalue("dev").outputs["promotion"]["signingProfileArn"]
    gate = check_gate(SupplyChainSettings(threshold=Severity.HIGH, signing=True), signer, env["UPSTREAM_RECORDS_BUCKET"], env["RECORDS_BUCKET"], CpuArchitecture.X86_64)
    assert gate is not None
    assert spec["phases"]["install"]["commands"] == notation.install_commands(CpuArchitecture.X86_64)
    assert spec["phases"]["build"]["commands"] == [scripts.check_script("app", gate.lines, gate.variables)]


def test_the_eks_deploy_step_takes_the_checked_digest_reference(prod, dev):
    [(_, deploy)] = [(s, a) for s, a in actions(prod) if a["name"] == "DeployToEks"]
    assert deploy["inputArtifacts"] == ["BuildOutput"]
    passed = json.loads(deploy["configuration"]["EnvironmentVariables"])
    assert {"name": "IMAGE_URI", "value": "#{BuildVariables.IMAGE_URI}", "type": "PLAINTEXT"} in passed
    # The Check step's evidence, for the deployment record; and the upstream's profile, which the step verifies again.
    assert [v for v in passed if v["name"] in ("SBOM_URI", "SCAN_VERDICT")] == [
        {"name": "SBOM_URI", "value": "#{BuildVariables.SBOM_URI}", "type": "PLAINTEXT"},
        {"name": "SCAN_VERDICT", "value": "#{BuildVariables.SCAN_VERDICT}", "type": "PLAINTEXT"},
    ]
    spec = buildspec(prod, "deploy-deploy-project")
    assert '"trustedIdentities":["' + dev.outputs["promotion"]["signingProfileArn"] + '"]' in spec["phases"]["build"]["commands"][0]


def test_the_approval_names_commit_digest_and_upstream_execution(prod):
    [(_, approval)] = [(s, a) for s, a in actions(prod) if a["category"] == "Approval"]
    message = approval["configuration"]["CustomData"]
    assert message == (
        "Promote commit #{BuildVariables.COMMIT_ID} as image #{BuildVariables.IMAGE_URI}, verified by execution "
        "#{BuildVariables.UPSTREAM_EXECUTION_ID} of container-cicd-dev-app-pipeline (organization/container-cicd/dev)?"
    )
    # botocore's ActionConfigurationValue: at most 1000 characters; resolved with the longest values it
    # can take (a 256-character repository path, a digest, a commit, an execution id) it still fits.
    longest_uri = f"{ACCOUNT}.dkr.ecr.ap-southeast-7.amazonaws.com/{'r' * 256}@sha256:{'0' * 64}"
    resolved = message.replace("#{BuildVariables.COMMIT_ID}", "0" * 7).replace("#{BuildVariables.IMAGE_URI}", longest_uri)
    resolved = resolved.replace("#{BuildVariables.UPSTREAM_EXECUTION_ID}", "0" * 36)
    assert len(message) <= 1000 and len(resolved) <= 1000, len(resolved)


@pytest.mark.parametrize("variant", ["prod", "prod_ecs"])
def test_the_promoting_pipeline_is_a_valid_create_pipeline_request(variant, request):
    check_action_configuration(validate_pipeline(request.getfixturevalue(variant)))


# ---- the building side ----


def test_dev_publishes_what_its_gated_deploy_verified(dev, prod_building):
    for result in (dev, prod_building):
        names = [s["name"] for s in stages(result)]
        assert names[-3:] == ["Deploy", "Release", "Publish"]
        publish = stages(result)[-1]
        assert set(publish) == {"name", "actions"}, "Publish has no gates of its own: it runs only when Deploy (and Release) succeeded"
        [action] = publish["actions"]
        assert (action["name"], action["provider"], action["inputArtifacts"]) == ("MarkVerified", "CodeBuild", ["BuildOutput"])
        assert json.loads(action["configuration"]["EnvironmentVariables"]) == [
            {"name": "IMAGE_DIGEST", "value": "#{BuildVariables.IMAGE_DIGEST}", "type": "PLAINTEXT"},
            {"name": "IMAGE_TAG", "value": "#{BuildVariables.IMAGE_TAG}", "type": "PLAINTEXT"},
            {"name": "EXECUTION_ID", "value": "#{codepipeline.PipelineExecutionId}", "type": "PLAINTEXT"},
        ]
        repository = result.one("aws:ecr/repository:Repository")
        assert buildspec(result, "publish-step-project")["phases"]["build"]["commands"] == [scripts.publish_script(repository.inputs["name"])]
        [tagging] = [s for s in json.loads(result.named("publish-step-role-policy").inputs["policy"])["Statement"] if s["Sid"] == "TagVerifiedImage"]
        assert tagging == {
            "Sid": "TagVerifiedImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"],
            "Resource": repository.outputs["arn"],
        }
    # Production: Deploy succeeds only after its bake time, so an image that rolled back is never published.
    [deploy] = [s for s in stages(prod_building) if s["name"] == "Deploy"]
    assert deploy["onSuccess"]["condition"]["result"] == "ROLLBACK" and deploy["onFailure"] == {"result": "ROLLBACK"}
    assert not prod_building.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")  # no other account: no grant


# ---- switching, partitions ----


def test_a_building_production_stack_cannot_silently_drop_its_images_when_it_starts_promoting(prod_building, prod):
    """Its registry, source repository, build log group and signing profile are protected: `pulumi up` stops at them
    (docs/promotion.md says how to hand them over), and nothing is lost on the way."""
    change = plan_change(prod_building, prod)
    blocked = sorted(b.split("::")[-1] for b in change.blocked_deletions())
    # The signing profile too: cancelling it would end the identity every image it signed names.
    assert blocked == ["build-logs", "registry-lifecycle", "registry-repo", "signing-profile", "source-repo"]
    assert change.collisions(prod_building) == []


def test_promoting_stacks_in_another_partition_write_only_that_partitions_arns():
    region = "us-gov-west-1"
    upstream = evaluate_stack("dev", {"aws:region": region})
    result = evaluate_stack("prod", {"aws:region": region}, stack_outputs={"organization/container-cicd/dev": upstream.outputs})
    text = json.dumps([r.inputs for r in result.resources if "promotion" in r.urn])
    assert "arn:aws:" not in text and f"arn:aws-us-gov:ecr:{region}:{ACCOUNT}:repository/container-cicd-dev-app" in text


# ---- the offline plan ----


def test_the_plan_shows_where_the_images_come_from_and_the_promotion_path(dev, prod):
    from offline import plan
    from offline.stackfile import stack_config
    from policy.rules import run_rules, subjects

    files = plan.render_files(prod, {}, run_rules(subjects(prod.resources)), stack_config("prod"))
    report = files["plan.md"]
    assert "- Promotion: promotes from `dev` (`organization/container-cicd/dev`): deploys by digest only images `dev`'s pipeline deployed" in report
    assert f"### Promotion\n\n```mermaid\n{files['promotion.mmd']}```" in report
    mermaid = files["promotion.mmd"]
    for edge in (
        'upstream -- "execution SUCCEEDED" --> rule',
        'collector -- "writes promotion.zip" --> inbox',
        'inbox -- "Object Created starts" --> stage0',
        'stage1 -. "re-checks the tags" .-> registry',
    ):
        assert f"  {edge}\n" in mermaid
    assert 'stage1["Check<br/>CheckVerified"]' in mermaid and "container-cicd-dev-app-pipeline" in mermaid
    assert "- The stack it promotes from, `organization/container-cicd/dev`, deployed first" in report
    built = plan.render_files(dev, {}, [], stack_config("dev"))
    assert "promotion.mmd" not in built
    assert "- Promotion: builds its images; its `Publish` stage tags each image it deployed and verified" in built["plan.md"]
    assert "no other account is granted access" in built["plan.md"]
