"""CodeBuild rules: projects keep their logs, encrypt with a customer managed key, hold no plaintext AWS
credentials, and run privileged only to build images with Docker."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import _ACCESS_KEY_VALUE, _get, _items, _true, rule

CODEBUILD_PROJECT = "aws:codebuild/project:Project"
_DOCKER_BUILD = re.compile(r"\bdocker\s+(buildx\s+)?build\b")
_AWS_CREDENTIAL_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@rule("codebuild-logging", "CodeBuild projects configure CloudWatch or S3 logging (checkov CKV_AWS_314).", types=(CODEBUILD_PROJECT,))
def codebuild_logging(type_: str, props: Mapping[str, Any]) -> list[str]:
    logs = _get(props, "logsConfig")
    if _get(logs, "cloudwatchLogs", "status") == "ENABLED" or _get(logs, "s3Logs", "status") == "ENABLED":
        return []
    return ["CodeBuild project has no logsConfig with cloudwatchLogs or s3Logs status 'ENABLED': build output would not be kept where you choose"]


@rule("codebuild-kms-key", "CodeBuild projects encrypt artifacts with a customer managed KMS key (checkov CKV_AWS_147, cdk-nag AwsSolutions-CB4).", types=(CODEBUILD_PROJECT,))
def codebuild_kms_key(type_: str, props: Mapping[str, Any]) -> list[str]:
    if _get(props, "encryptionKey"):
        return []
    return ["CodeBuild project has no encryptionKey: build artifacts would use the AWS managed aws/s3 key; set a customer managed KMS key ARN"]


@rule(
    "codebuild-no-plaintext-credentials",
    "CodeBuild environment variables hold no plaintext AWS credentials (AWS Config codebuild-project-envvar-awscred-check; cdk-nag NIST.800.53.R5-CodeBuildProjectEnvVarAwsCred).",
    types=(CODEBUILD_PROJECT,),
)
def codebuild_no_plaintext_credentials(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    for var in _items(_get(props, "environment", "environmentVariables")):
        if (_get(var, "type") or "PLAINTEXT") != "PLAINTEXT":
            continue
        name, value = _get(var, "name"), _get(var, "value")
        if name in _AWS_CREDENTIAL_NAMES or (isinstance(value, str) and _ACCESS_KEY_VALUE.search(value)):
            found.append(f"CodeBuild environment variable {name} holds AWS credentials in PLAINTEXT: use the project's service role, or type SECRETS_MANAGER/PARAMETER_STORE")
    return found


@rule(
    "codebuild-privileged-only-for-docker",
    "CodeBuild privileged mode only for projects that build images with Docker, the documented exception (checkov CKV_AWS_316, "
    "cdk-nag AwsSolutions-CB3 which this pack relaxes for docker builds).",
    types=(CODEBUILD_PROJECT,),
)
def codebuild_privileged_only_for_docker(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Privileged mode gives the build container root on its host, so it is refused, with ONE deliberate
    exception: building container images with the Docker daemon needs it (CodeBuild docs, "Docker in custom
    image"). A project may run privileged only when its inline buildspec runs `docker build`/`docker buildx
    build`; a buildspec read from the source repository cannot be checked here and is refused."""
    if not _true(_get(props, "environment", "privilegedMode")):
        return []
    buildspec = _get(props, "source", "buildspec")
    if isinstance(buildspec, str) and _DOCKER_BUILD.search(buildspec):
        return []
    return ["CodeBuild project runs in privilegedMode but its inline buildspec runs no `docker build`: turn privilegedMode off"]
