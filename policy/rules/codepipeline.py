"""CodePipeline rules: artifact stores use a KMS key; pipelines that roll back can; a promotion inbox is checked
before anything deploys it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import _get, _items, rule

CODEPIPELINE = "aws:codepipeline/pipeline:Pipeline"


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
