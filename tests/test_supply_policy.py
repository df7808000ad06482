"""The policy rule production-supply-chain-gate: a production pipeline scans and verifies an image before it deploys it.

Pipelines here are shaped as the program registers them (stage and action inputs in the engine's camelCase form,
the artifact store's bucket among the pipeline's property dependencies, CodeBuild projects named by the actions'
ProjectName); the stacks' own pipelines are checked by tests/test_policy.py (zero violations on dev and prod).
"""

from __future__ import annotations

import copy

from pulumi_policy import PolicyResource, PolicyResourceOptions, StackValidationArgs

from policy.rules import RULES, Subject, run_rules
from policy.rules.codepipeline import production_supply_chain_gate

BUCKET_URN = "urn:pulumi:prod::container-cicd::container-cicd:pipeline:ArtifactStore$aws:s3/bucket:Bucket::artifacts-bucket"
PIPELINE_URN = "urn:pulumi:prod::container-cicd::container-cicd:pipeline:Pipeline$aws:codepipeline/pipeline:Pipeline::pipeline-pipeline"
RULE = next(r for r in RULES if r.name == "production-supply-chain-gate")


def action(name: str, category: str, provider: str, project: str | None = None, owner: str = "AWS") -> dict:
    found = {"name": name, "category": category, "owner": owner, "provider": provider, "version": "1"}
    if project:
        found["configuration"] = {"ProjectName": project}
    return found


def stage(name: str, *actions: dict) -> dict:
    return {"name": name, "actions": list(actions)}


SOURCE = stage("Source", action("Source", "Source", "CodeCommit"))
BUILD = stage("Build", action("BuildImage", "Build", "CodeBuild", "container-cicd-prod-app-build"))
SCAN = stage(
    "Scan",
    action("ImageScan", "Invoke", "InspectorScan"),
    action("VerifyImage", "Build", "CodeBuild", "container-cicd-prod-app-verify-image"),
)
DEPLOY_ECS = stage("Deploy", action("DeployToEcs", "Deploy", "ECS"), action("RecordImage", "Build", "CodeBuild", "container-cicd-prod-app-record"))
DEPLOY_EKS = stage("Deploy", action("DeployToEks", "Build", "CodeBuild", "container-cicd-prod-app-deploy"))
INBOX = stage("Source", action("Source", "Source", "S3"))
CHECK = stage("Check", action("CheckVerified", "Build", "CodeBuild", "container-cicd-prod-app-check"))
APPROVE = stage("Approve", action("ApproveDeploy", "Approval", "Manual"))

VERIFY_BUILDSPEC = 'version: 0.2\nphases:\n  build:\n    commands:\n    - notation verify --verbose "$IMAGE_URI"\n'
CHECK_BUILDSPEC = (
    'version: 0.2\nphases:\n  build:\n    commands:\n    - notation verify "$IMAGE_URI"\n'
    "    - aws inspector-scan scan-sbom --sbom file://sbom.json --output-format CYCLONE_DX_1_5 > findings.json\n"
)
PLAIN_BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n    - echo checked\n"


def project(name: str, buildspec: str) -> Subject:
    return Subject("aws:codebuild/project:Project", name, f"urn:project:{name}", {"name": name, "source": {"type": "CODEPIPELINE", "buildspec": buildspec}})


def stack(*stages: dict, production: bool = True, buildspecs: dict[str, str] | None = None) -> list[Subject]:
    pipeline = Subject(
        "aws:codepipeline/pipeline:Pipeline",
        "pipeline-pipeline",
        PIPELINE_URN,
        {"name": "container-cicd-prod-app-pipeline", "pipelineType": "V2", "stages": copy.deepcopy(list(stages))},
        property_dependencies={"artifactStores": (BUCKET_URN, "urn:key"), "roleArn": ("urn:role",)},
    )
    bucket = Subject("aws:s3/bucket:Bucket", "artifacts-bucket", BUCKET_URN, {"forceDestroy": False}, protect=production)
    specs = {"container-cicd-prod-app-verify-image": VERIFY_BUILDSPEC, "container-cicd-prod-app-check": CHECK_BUILDSPEC} | (buildspecs or {})
    return [bucket, pipeline, *(project(n, b) for n, b in specs.items())]


WHERE = "CodePipeline container-cicd-prod-app-pipeline deploys in stage Deploy of a production stack"
NO_SCAN = (
    f"{WHERE}, but no stage before it scans the image (an InspectorScan action, or a CodeBuild check running `aws inspector-scan scan-sbom`): "
    "give the stack a scanSeverityThreshold (production refuses off)"
)
NO_VERIFY = f"{WHERE}, but no stage before it verifies the image's signature (a CodeBuild step running `notation verify`): keep imageSigning on (production refuses off)"


def test_a_building_production_pipeline_with_the_scan_stage_passes():
    assert production_supply_chain_gate(stack(SOURCE, BUILD, SCAN, APPROVE, DEPLOY_ECS)) == []
    assert production_supply_chain_gate(stack(SOURCE, BUILD, SCAN, DEPLOY_EKS)) == []


def test_a_building_production_pipeline_without_the_scan_stage_fails_twice():
    assert production_supply_chain_gate(stack(SOURCE, BUILD, APPROVE, DEPLOY_ECS)) == [(PIPELINE_URN, NO_SCAN), (PIPELINE_URN, NO_VERIFY)]


def test_the_scan_stage_after_the_first_deploy_stage_does_not_count():
    assert production_supply_chain_gate(stack(SOURCE, BUILD, DEPLOY_EKS, SCAN)) == [(PIPELINE_URN, NO_SCAN), (PIPELINE_URN, NO_VERIFY)]


def test_a_signature_check_without_a_scan_fails_on_the_scan_alone():
    verify_only = stage("Scan", action("VerifyImage", "Build", "CodeBuild", "container-cicd-prod-app-verify-image"))
    assert production_supply_chain_gate(stack(SOURCE, BUILD, verify_only, DEPLOY_EKS)) == [(PIPELINE_URN, NO_SCAN)]


def test_the_build_that_signs_is_not_the_signature_check():
    """The signing step looks at an existing signature before it signs (`notation verify`, then `notation sign`): that
    is no check of what it signed, so without VerifyImage the signature is unchecked."""
    signing_build = 'version: 0.2\nphases:\n  build:\n    commands:\n    - notation verify "$IMAGE_URI" || notation sign --plugin p --id arn "$IMAGE_URI"\n'
    scan_only = stage("Scan", action("ImageScan", "Invoke", "InspectorScan"))
    assert production_supply_chain_gate(stack(SOURCE, BUILD, scan_only, DEPLOY_ECS, buildspecs={"container-cicd-prod-app-build": signing_build})) == [(PIPELINE_URN, NO_VERIFY)]


def test_a_scan_without_a_signature_check_fails_on_the_signature_alone():
    without_verify = {"container-cicd-prod-app-verify-image": "version: 0.2\nphases:\n  build:\n    commands:\n    - echo 'signature not checked'\n"}
    assert production_supply_chain_gate(stack(SOURCE, BUILD, SCAN, DEPLOY_ECS, buildspecs=without_verify)) == [(PIPELINE_URN, NO_VERIFY)]


def test_a_promoting_production_pipeline_passes_when_its_check_verifies_and_rescans():
    assert production_supply_chain_gate(stack(INBOX, CHECK, APPROVE, DEPLOY_EKS)) == []


def test_a_promoting_production_pipeline_whose_check_only_checks_the_tags_fails():
    plain = {"container-cicd-prod-app-check": PLAIN_BUILDSPEC}
    assert production_supply_chain_gate(stack(INBOX, CHECK, APPROVE, DEPLOY_EKS, buildspecs=plain)) == [(PIPELINE_URN, NO_SCAN), (PIPELINE_URN, NO_VERIFY)]


def test_a_stack_that_is_not_production_is_not_held_to_it():
    assert production_supply_chain_gate(stack(SOURCE, BUILD, DEPLOY_ECS, production=False)) == []


def test_run_rules_reports_it_against_the_pipeline():
    [violation] = [v for v in run_rules(stack(SOURCE, BUILD, SCAN, DEPLOY_ECS, buildspecs={"container-cicd-prod-app-verify-image": PLAIN_BUILDSPEC})) if v.rule == RULE.name]
    assert (violation.urn, violation.resource_type, violation.message) == (PIPELINE_URN, "aws:codepipeline/pipeline:Pipeline", NO_VERIFY)


def test_the_pack_passes_protect_from_the_engine_to_the_rule():
    """The adapter hands the rule `protect` from the engine's resource options: without it no stack is production's."""
    from policy.__main__ import build_policies

    policy = next(p for p in build_policies() if p.name == RULE.name)
    subjects = stack(SOURCE, BUILD, DEPLOY_ECS)
    resources: dict[str, PolicyResource] = {}
    for s in subjects:
        opts = PolicyResourceOptions(s.protect, [], None, [], None, [])
        deps = {k: [resources[u] for u in v if u in resources] for k, v in s.property_dependencies.items()}
        resources[s.urn] = PolicyResource(s.type, s.props, s.urn, s.name, opts, None, None, [d for v in deps.values() for d in v], deps)
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(list(resources.values())), lambda message, urn=None: reported.append((message, urn)))
    assert reported == [(NO_SCAN, PIPELINE_URN), (NO_VERIFY, PIPELINE_URN)]


def test_the_stacks_own_production_pipelines_pass_and_fail_without_their_gate_stage(prod, prod_building):
    from policy.rules import subjects

    for result, gate_stage in ((prod_building, "Scan"), (prod, "Check")):
        stack_subjects = subjects(result.resources)
        assert production_supply_chain_gate(stack_subjects) == []
        pipeline = next(s for s in stack_subjects if s.type == "aws:codepipeline/pipeline:Pipeline")
        props = {**pipeline.props, "stages": [st for st in pipeline.props["stages"] if st["name"] != gate_stage]}
        without = [s if s is not pipeline else Subject(s.type, s.name, s.urn, props, s.dependencies, s.property_dependencies, s.protect) for s in stack_subjects]
        assert [m.split(", but ", 1)[1].split(" (", 1)[0] for _, m in production_supply_chain_gate(without)] == [
            "no stage before it scans the image",
            "no stage before it verifies the image's signature",
        ]
