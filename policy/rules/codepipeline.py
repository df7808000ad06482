"""CodePipeline rules: artifact stores use a KMS key; pipelines that roll back can; a promotion inbox is checked
before anything deploys it; a production pipeline scans and verifies an image before it deploys it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .common import Subject, _get, _items, rule, stack_rule

CODEPIPELINE = "aws:codepipeline/pipeline:Pipeline"
_CODEBUILD_PROJECT = "aws:codebuild/project:Project"
_S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
# What a CodeBuild step runs to verify an image's signature (the Notation CLI with the AWS Signer plugin), and to
# scan a promoted image's SBOM (the Inspector Scan API: CycloneDX 1.5 in, vulnerabilities out).
VERIFY_COMMAND = "notation verify"
SBOM_SCAN_COMMAND = "inspector-scan scan-sbom"
# The step that signs may look at an existing signature first; it is not the check of what it signed.
SIGN_COMMAND = "notation sign"


@rule("codepipeline-artifacts-kms", "CodePipeline artifact stores are encrypted with a KMS key (checkov CKV_AWS_219).", types=(CODEPIPELINE,))
def codepipeline_artifacts_kms(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    for store in _items(_get(props, "artifactStores")):
        key = _get(store, "encryptionKey")
        if _get(key, "type") != "KMS" or not _get(key, "id"):
            where = _get(store, "location") or "artifact store"
            found.append(f"CodePipeline artifact store {where} has no encryptionKey {{type: 'KMS', id: <key ARN>}}: artifacts would use the AWS managed aws/s3 key")
    return found


def _rollback_stages(props: Mapping[str, Any]) -> list[str]:
    names = []
    for stage in _items(_get(props, "stages")):
        on_failure = _get(stage, "onFailure")
        results = [_get(on_failure, "result")] + [_get(c, "result") for c in _items(_get(on_failure, "conditions"))]
        results += [_get(on_failure, "condition", "result")]
        # A success condition (e.g. an alarm bake time) may also roll the stage back.
        on_success = _get(stage, "onSuccess")
        results += [_get(on_success, "condition", "result")] + [_get(c, "result") for c in _items(_get(on_success, "conditions"))]
        if "ROLLBACK" in results:
            names.append(str(_get(stage, "name")))
    return names


@rule("codepipeline-rollback-mode", "Pipelines that roll back stages are V2 and not in PARALLEL execution mode (no checkov/cdk-nag equivalent).", types=(CODEPIPELINE,))
def codepipeline_rollback_mode(type_: str, props: Mapping[str, Any]) -> list[str]:
    stages = _rollback_stages(props)
    if not stages:
        return []
    found = []
    if (_get(props, "pipelineType") or "V1") != "V2":
        found.append(f"CodePipeline rolls back stage(s) {', '.join(stages)} but pipelineType is not 'V2': set pipelineType 'V2'")
    if _get(props, "executionMode") == "PARALLEL":
        found.append(f"CodePipeline rolls back stage(s) {', '.join(stages)} in executionMode 'PARALLEL', where rollback is not supported: use 'QUEUED' or 'SUPERSEDED'")
    return found


def _inbox_artifacts(stages: list[Any]) -> tuple[int, set[str]]:
    """The index of the stage with S3 source actions, and the artifacts they output; (-1, set()) when none."""
    for index, stage in enumerate(stages):
        outputs = {
            str(artifact)
            for action in _items(_get(stage, "actions"))
            if _get(action, "category") == "Source" and _get(action, "provider") == "S3"
            for artifact in _items(_get(action, "outputArtifacts"))
        }
        if outputs:
            return index, outputs
    return -1, set()


@rule(
    "codepipeline-promotion-checked",
    "A pipeline whose source is an S3 object (a promotion inbox) lets only Build actions of the stage right after Source read it: "
    "they check what was written there, and everything after deploys what they produce (no checkov/cdk-nag equivalent).",
    types=(CODEPIPELINE,),
)
def codepipeline_promotion_checked(type_: str, props: Mapping[str, Any]) -> list[str]:
    """An object anyone with s3:PutObject can write must not reach a deploy action unchecked: every reader
    of the S3 source's artifacts is a Build action (the check, a CodeBuild step) in the stage right after
    Source, and at least one exists; a deploy action (ECS, or a CodeBuild rollout) can then only read what the
    check produced."""
    stages = _items(_get(props, "stages"))
    source_index, inbox = _inbox_artifacts(stages)
    if not inbox:
        return []
    found, checks = [], 0
    for index, stage in enumerate(stages):
        for action in _items(_get(stage, "actions")):
            read = sorted(inbox & {str(a) for a in _items(_get(action, "inputArtifacts"))})
            if not read:
                continue
            if index == source_index + 1 and _get(action, "category") == "Build":
                checks += 1
                continue
            found.append(
                f"CodePipeline action {_get(stage, 'name')}/{_get(action, 'name')} ({_get(action, 'category')}) reads the S3 source's artifact "
                f"{', '.join(read)} itself: only the Build (check) actions of the stage right after Source may; deploy what they produce"
            )
    if not checks:
        found.append(
            f"CodePipeline takes an S3 object as its source ({', '.join(sorted(inbox))}) but no Build action in the stage right after Source reads it: "
            "nothing checks what was written into the bucket before it is deployed"
        )
    return found


def _first_deploy_stage(stages: list[Any]) -> int:
    """The index of the first stage that deploys: one with a Deploy action (ECS), or named Deploy… (an EKS
    deploy runs in a CodeBuild action, category Build, of such a stage); -1 when none."""
    for index, stage in enumerate(stages):
        if str(_get(stage, "name") or "").startswith("Deploy") or any(_get(a, "category") == "Deploy" for a in _items(_get(stage, "actions"))):
            return index
    return -1


def _buildspec(projects: Mapping[str, Subject], action: Any) -> str:
    if _get(action, "provider") != "CodeBuild":
        return ""
    project = projects.get(str(_get(action, "configuration", "ProjectName")))
    buildspec = _get(project.props, "source", "buildspec") if project else None
    return buildspec if isinstance(buildspec, str) else ""


@stack_rule(
    "production-supply-chain-gate",
    "In a production stack (the pipeline's artifact bucket is protected), the stages before the first deploy stage scan the image "
    "(an InspectorScan action, or a CodeBuild check running `aws inspector-scan scan-sbom`) and verify its signature "
    "(a CodeBuild step running `notation verify`, not the one that signs) (no checkov/cdk-nag equivalent).",
    types=(CODEPIPELINE, _CODEBUILD_PROJECT, *_S3_BUCKETS),
)
def production_supply_chain_gate(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """A production deploy runs only an image that was scanned and whose signature was verified before it: in a
    building stack the Scan stage (InspectorScan, then VerifyImage), in a promoting stack the Check stage (the
    upstream's signature, a rescan of its SBOM). The program protects stateful resources in production only, so a
    pipeline whose artifact store's bucket is protected is production's."""
    protected = {r.urn for r in resources if r.type in _S3_BUCKETS and r.protect}
    projects = {str(_get(r.props, "name")): r for r in resources if r.type == _CODEBUILD_PROJECT}
    found = []
    for pipeline in (r for r in resources if r.type == CODEPIPELINE):
        if not protected & set(pipeline.property_dependencies.get("artifactStores", ())):
            continue
        stages = _items(_get(pipeline.props, "stages"))
        deploy = _first_deploy_stage(stages)
        if deploy < 0:
            continue
        before = [a for stage in stages[:deploy] for a in _items(_get(stage, "actions"))]
        scanned = any(_get(a, "provider") == "InspectorScan" or SBOM_SCAN_COMMAND in _buildspec(projects, a) for a in before)
        verified = any(VERIFY_COMMAND in b and SIGN_COMMAND not in b for b in (_buildspec(projects, a) for a in before))
        where = f"CodePipeline {_get(pipeline.props, 'name') or pipeline.name} deploys in stage {_get(stages[deploy], 'name')} of a production stack"
        if not scanned:
            found.append(
                (
                    pipeline.urn,
                    f"{where}, but no stage before it scans the image (an InspectorScan action, or a CodeBuild check running `aws {SBOM_SCAN_COMMAND}`): "
                    "give the stack a scanSeverityThreshold (production refuses off)",
                )
            )
        if not verified:
            found.append(
                (
                    pipeline.urn,
                    f"{where}, but no stage before it verifies the image's signature (a CodeBuild step running `{VERIFY_COMMAND}`): keep imageSigning on (production refuses off)",
                )
            )
    return found
