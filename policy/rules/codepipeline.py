"""CodePipeline rules: artifact stores use a KMS key; pipelines that roll back can."""

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
