"""The rules of the container-cicd policy pack, as pure functions.

A resource rule takes the resource type and its properties as the Pulumi engine hands them to a
policy pack (camelCase keys, nested mappings, JSON documents as strings) and returns the violation
messages; an empty list means compliant or not applicable. A stack rule takes every resource of the
stack (`Subject`) and returns (urn, message) pairs: it is used where compliance depends on a second
resource (an S3 bucket's public access block, ECR enhanced scanning set on the registry).

policy/__main__.py adapts these functions to pulumi_policy; tests/test_policy*.py and offline/plan.py
call them directly on what the program registers under offline/mocks.py, so all three run the same code.

Mappings and sequences are tested with collections.abc, not dict/list: during `pulumi preview` the
engine passes read-only proxies that raise pulumi_policy's UnknownValueError when a value is not known
yet; the engine turns that into an advisory "can't run policy during preview" note, never a pass.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ResourceCheck = Callable[[str, Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class Subject:
    """One resource of a stack, as a stack rule sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


StackCheck = Callable[[Sequence[Subject]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    resource_types: tuple[str, ...]
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None


# ----------------------------------------------------------------------------------------------
# Helpers


def _is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _get(value: Any, *path: str | int) -> Any:
    """value[path0][path1]...; None where a step is missing or of the wrong shape."""
    for step in path:
        if isinstance(step, int):
            if not _is_seq(value) or step >= len(value):
                return None
        elif not _is_map(value) or step not in value:
            return None
        value = value[step]
    return value


def _items(value: Any) -> list[Any]:
    """A list of the elements of a sequence; a lone value becomes a one-element list; None none."""
    if value is None:
        return []
    if _is_seq(value):
        return list(value)
    return [value]


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _document(value: Any) -> Mapping[str, Any] | None:
    """A JSON policy document as a mapping; None when absent or not parseable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if _is_map(value) else None


def _statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [s for s in _items(_get(document, "Statement")) if _is_map(s)]


def _sid(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if sid else f"statement #{index}"


# ----------------------------------------------------------------------------------------------
# ECR

ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ECR_REGISTRY_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
ECR_PUBLIC_REPOSITORY = "aws:ecrpublic/repository:Repository"


def _enhanced_scanning_covers(registry_scanning: Mapping[str, Any], repository_name: Any) -> bool:
    if _get(registry_scanning, "scanType") != "ENHANCED":
        return False
    for rule in _items(_get(registry_scanning, "rules")):
        for flt in _items(_get(rule, "repositoryFilters")):
            pattern = _get(flt, "filter")
            if isinstance(pattern, str) and isinstance(repository_name, str) and fnmatch.fnmatchcase(repository_name, pattern):
                return True
    return False


def ecr_image_scanning(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    registry_scans = [r.props for r in resources if r.type == ECR_REGISTRY_SCANNING]
    found = []
    for repo in resources:
        if repo.type != ECR_REPOSITORY or _true(_get(repo.props, "imageScanningConfiguration", "scanOnPush")):
            continue
        name = _get(repo.props, "name")
        if any(_enhanced_scanning_covers(scan, name) for scan in registry_scans):
            continue
        found.append((repo.urn, (
            f"ECR repository {repo.name} scans no image: set imageScanningConfiguration.scanOnPush=true, "
            "or cover the repository with an ENHANCED aws:ecr/registryScanningConfiguration rule"
        )))
    return found


def ecr_immutable_tags(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECR_REPOSITORY:
        return []
    mutability = _get(props, "imageTagMutability") or "MUTABLE"
    if mutability in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        return []
    return [f"ECR repository has imageTagMutability {mutability!r}: set 'IMMUTABLE' so a pushed tag always names the same image"]


def ecr_kms_encryption(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECR_REPOSITORY:
        return []
    kinds = [_get(c, "encryptionType") for c in _items(_get(props, "encryptionConfigurations"))]
    if kinds and all(k in ("KMS", "KMS_DSSE") for k in kinds):
        return []
    shown = kinds[0] if kinds else "AES256 (the default)"
    return [f"ECR repository is encrypted with {shown}: set encryptionConfigurations=[{{encryptionType: 'KMS'}}]"]


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if _is_map(principal):
        return any(v == "*" or (_is_seq(v) and "*" in v) for v in principal.values())
    return False


def ecr_no_public_policy(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ == ECR_PUBLIC_REPOSITORY:
        return ["ECR Public repository: every image is world-readable; use a private aws:ecr/repository:Repository"]
    if type_ != ECR_REPOSITORY_POLICY:
        return []
    found = []
    for i, st in enumerate(_statements(_document(_get(props, "policy")))):
        if st.get("Effect") == "Allow" and _public_principal(st.get("Principal")) and not st.get("Condition"):
            found.append(f"ECR repository policy {_sid(st, i)} allows Principal '*' without a Condition: name the accounts or add a condition")
    return found


# ----------------------------------------------------------------------------------------------
# S3 (stack rules: bucket settings live in companion resources since pulumi-aws 7)

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _refers_to(companion: Subject, bucket: Subject) -> bool:
    """Whether `companion`'s `bucket` property is `bucket`: by the engine's property dependency when
    known (it is, even in preview), else by value, else by a plain dependency."""
    deps = companion.property_dependencies.get("bucket")
    if deps:
        return bucket.urn in deps
    value = _get(companion.props, "bucket")
    names = {_get(bucket.props, k) for k in ("bucket", "id")} - {None}
    if isinstance(value, str) and value in names:
        return True
    return bucket.urn in companion.dependencies


def _companions(resources: Sequence[Subject], bucket: Subject, types: tuple[str, ...]) -> list[Subject]:
    return [r for r in resources if r.type in types and _refers_to(r, bucket)]


def _each_bucket(resources: Sequence[Subject], check: Callable[[Subject], str | None]) -> list[tuple[str, str]]:
    found = []
    for bucket in resources:
        if bucket.type in S3_BUCKETS:
            message = check(bucket)
            if message:
                found.append((bucket.urn, message))
    return found


def s3_public_access_blocked(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        blocks = _companions(resources, bucket, S3_PUBLIC_ACCESS_BLOCK)
        if not blocks:
            return f"S3 bucket {bucket.name} has no aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock: add one with {', '.join(PUBLIC_ACCESS_FLAGS)} all true"
        off = sorted({f for b in blocks for f in PUBLIC_ACCESS_FLAGS if not _true(_get(b.props, f))})
        if off:
            return f"S3 bucket {bucket.name}: public access block leaves {', '.join(off)} off; set all four to true"
        return None

    return _each_bucket(resources, check)


def _kms_algorithms(config: Any) -> list[Any]:
    rules = _items(_get(config, "rules")) + _items(_get(config, "rule"))
    return [_get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for r in rules]


def s3_kms_encryption(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        configs = [c.props for c in _companions(resources, bucket, S3_ENCRYPTION)]
        inline = _get(bucket.props, "serverSideEncryptionConfiguration")
        algorithms = [a for c in [*configs, inline] if c is not None for a in _kms_algorithms(c)]
        if algorithms and all(a in ("aws:kms", "aws:kms:dsse") for a in algorithms):
            return None
        shown = ", ".join(map(str, algorithms)) or "AES256 (the S3 default)"
        return f"S3 bucket {bucket.name} is encrypted with {shown}: add a BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and a KMS key"

    return _each_bucket(resources, check)


def s3_versioning(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        statuses = [_get(v.props, "versioningConfiguration", "status") for v in _companions(resources, bucket, S3_VERSIONING)]
        if "Enabled" in statuses or _true(_get(bucket.props, "versioning", "enabled")):
            return None
        shown = statuses[0] if statuses else "not configured"
        return f"S3 bucket {bucket.name} versioning is {shown}: add a BucketVersioning with versioningConfiguration.status 'Enabled'"

    return _each_bucket(resources, check)


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny" or not _public_principal(statement.get("Principal")):
        return False
    if not {"s3:*", "*"} & set(_items(statement.get("Action"))):
        return False
    secure = _get(statement, "Condition", "Bool", "aws:SecureTransport")
    return secure is False or (isinstance(secure, str) and secure.lower() == "false")


def s3_tls_only(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    def check(bucket: Subject) -> str | None:
        documents = [_document(_get(p.props, "policy")) for p in _companions(resources, bucket, S3_POLICY)]
        documents.append(_document(_get(bucket.props, "policy")))
        if any(_denies_insecure_transport(st) for d in documents for st in _statements(d)):
            return None
        return (
            f"S3 bucket {bucket.name} accepts plain HTTP: add a bucket policy statement Deny Principal '*' Action 's3:*' "
            "with Condition Bool aws:SecureTransport 'false'"
        )

    return _each_bucket(resources, check)


# ----------------------------------------------------------------------------------------------
# CodeBuild

CODEBUILD_PROJECT = "aws:codebuild/project:Project"
_DOCKER_BUILD = re.compile(r"\bdocker\s+(buildx\s+)?build\b")


def codebuild_logging(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CODEBUILD_PROJECT:
        return []
    logs = _get(props, "logsConfig")
    if _get(logs, "cloudwatchLogs", "status") == "ENABLED" or _get(logs, "s3Logs", "status") == "ENABLED":
        return []
    return ["CodeBuild project has no logsConfig with cloudwatchLogs or s3Logs status 'ENABLED': build output would not be kept where you choose"]


def codebuild_kms_key(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CODEBUILD_PROJECT or _get(props, "encryptionKey"):
        return []
    return ["CodeBuild project has no encryptionKey: build artifacts would use the AWS managed aws/s3 key; set a customer managed KMS key ARN"]


_AWS_CREDENTIAL_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_ACCESS_KEY_VALUE = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


def codebuild_no_plaintext_credentials(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CODEBUILD_PROJECT:
        return []
    found = []
    for var in _items(_get(props, "environment", "environmentVariables")):
        if (_get(var, "type") or "PLAINTEXT") != "PLAINTEXT":
            continue
        name, value = _get(var, "name"), _get(var, "value")
        if name in _AWS_CREDENTIAL_NAMES or (isinstance(value, str) and _ACCESS_KEY_VALUE.search(value)):
            found.append(
                f"CodeBuild environment variable {name} holds AWS credentials in PLAINTEXT: "
                "use the project's service role, or type SECRETS_MANAGER/PARAMETER_STORE"
            )
    return found


def codebuild_privileged_only_for_docker(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Privileged mode gives the build container root on its host, so it is refused, with ONE deliberate
    exception: building container images with the Docker daemon needs it (CodeBuild docs, "Docker in custom
    image"). A project may run privileged only when its inline buildspec runs `docker build`/`docker buildx
    build`; a buildspec read from the source repository cannot be checked here and is refused."""
    if type_ != CODEBUILD_PROJECT or not _true(_get(props, "environment", "privilegedMode")):
        return []
    buildspec = _get(props, "source", "buildspec")
    if isinstance(buildspec, str) and _DOCKER_BUILD.search(buildspec):
        return []
    return ["CodeBuild project runs in privilegedMode but its inline buildspec runs no `docker build`: turn privilegedMode off"]


# ----------------------------------------------------------------------------------------------
# CodePipeline

CODEPIPELINE = "aws:codepipeline/pipeline:Pipeline"


def codepipeline_artifacts_kms(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CODEPIPELINE:
        return []
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


def codepipeline_rollback_mode(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CODEPIPELINE:
        return []
    stages = _rollback_stages(props)
    if not stages:
        return []
    found = []
    if (_get(props, "pipelineType") or "V1") != "V2":
        found.append(f"CodePipeline rolls back stage(s) {', '.join(stages)} but pipelineType is not 'V2': set pipelineType 'V2'")
    if _get(props, "executionMode") == "PARALLEL":
        found.append(f"CodePipeline rolls back stage(s) {', '.join(stages)} in executionMode 'PARALLEL', where rollback is not supported: use 'QUEUED' or 'SUPERSEDED'")
    return found


# ----------------------------------------------------------------------------------------------
# ECS

ECS_CLUSTER = "aws:ecs/cluster:Cluster"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECS_SERVICE = "aws:ecs/service:Service"
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL", re.IGNORECASE)


def _containers(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = _get(props, "containerDefinitions")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [c for c in _items(value) if _is_map(c)]


def ecs_container_insights(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECS_CLUSTER:
        return []
    values = [_get(s, "value") for s in _items(_get(props, "settings")) if _get(s, "name") == "containerInsights"]
    if values and values[-1] in ("enabled", "enhanced"):
        return []
    return ["ECS cluster has Container Insights off: add settings [{name: 'containerInsights', value: 'enabled'}]"]


def ecs_awslogs(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECS_TASK_DEFINITION:
        return []
    return [
        f"ECS container {c.get('name')!r} has log driver {_get(c, 'logConfiguration', 'logDriver')!r}: set logConfiguration.logDriver 'awslogs'"
        for c in _containers(props)
        if _get(c, "logConfiguration", "logDriver") != "awslogs"
    ]


def ecs_no_privileged(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECS_TASK_DEFINITION:
        return []
    return [f"ECS container {c.get('name')!r} is privileged: remove privileged: true" for c in _containers(props) if _true(c.get("privileged"))]


def ecs_separate_roles(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECS_TASK_DEFINITION:
        return []
    execution, task = _get(props, "executionRoleArn"), _get(props, "taskRoleArn")
    if execution and execution == task:
        return [f"ECS task definition uses {execution} as both execution and task role: give the app its own task role"]
    return []


def ecs_no_plain_secrets(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECS_TASK_DEFINITION:
        return []
    found = []
    for c in _containers(props):
        for var in _items(c.get("environment")):
            name, value = _get(var, "name"), _get(var, "value")
            if (isinstance(name, str) and _SECRET_NAME.search(name)) or (isinstance(value, str) and _ACCESS_KEY_VALUE.search(value)):
                found.append(f"ECS container {c.get('name')!r} passes {name} as a plain environment variable: move it to secrets (valueFrom Secrets Manager or SSM)")
    return found


def ecs_no_public_ip(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != ECS_SERVICE or not _true(_get(props, "networkConfiguration", "assignPublicIp")):
        return []
    return ["ECS service assigns public IPs to its tasks: set networkConfiguration.assignPublicIp false and reach the internet through a NAT gateway"]


def ecs_circuit_breaker(type_: str, props: Mapping[str, Any]) -> list[str]:
    """The circuit breaker belongs to the ECS (rolling update) deployment controller; services deployed by
    CodeDeploy or an EXTERNAL controller roll back there instead and are not checked."""
    if type_ != ECS_SERVICE or _get(props, "deploymentController", "type") in ("CODE_DEPLOY", "EXTERNAL"):
        return []
    breaker = _get(props, "deploymentCircuitBreaker")
    if _true(_get(breaker, "enable")) and _true(_get(breaker, "rollback")):
        return []
    return ["ECS service has no deployment circuit breaker with rollback: set deploymentCircuitBreaker {enable: true, rollback: true}"]


# ----------------------------------------------------------------------------------------------
# EKS: the aws:eks/cluster:Cluster resource's inputs

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
_OPEN = ("0.0.0.0/0", "::/0")


def eks_control_plane_logs(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != EKS_CLUSTER:
        return []
    enabled = set(_items(_get(props, "enabledClusterLogTypes")))
    missing = [t for t in EKS_LOG_TYPES if t not in enabled]
    if not missing:
        return []
    return [f"EKS cluster does not log control-plane types {', '.join(missing)}: set enabledClusterLogTypes to all of {', '.join(EKS_LOG_TYPES)}"]


def eks_secrets_encryption(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != EKS_CLUSTER:
        return []
    config = _get(props, "encryptionConfig")
    if "secrets" in _items(_get(config, "resources")) and _get(config, "provider", "keyArn"):
        return []
    return ["EKS cluster does not encrypt Kubernetes secrets with KMS: set encryptionConfig {resources: ['secrets'], provider: {keyArn}}"]


def eks_public_endpoint(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != EKS_CLUSTER:
        return []
    endpoint = _get(props, "vpcConfig") or {}
    public = _get(endpoint, "endpointPublicAccess")
    if public is not None and not _true(public):
        return []
    # The EKS API defaults to a public endpoint open to 0.0.0.0/0.
    cidrs = _items(_get(endpoint, "publicAccessCidrs")) or ["0.0.0.0/0 (the default)"]
    open_ = [c for c in cidrs if c.split(" ")[0] in _OPEN]
    if not open_:
        return []
    return [f"EKS API endpoint is public to {', '.join(open_)}: set vpcConfig.endpointPublicAccess false, or vpcConfig.publicAccessCidrs to your networks"]


# ----------------------------------------------------------------------------------------------
# IAM

IAM_DOCUMENT_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
IAM_ROLE = "aws:iam/role:Role"
IAM_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
_ADMIN_POLICY = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/AdministratorAccess$")


def identity_policies(type_: str, props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, document) for every identity policy document a resource carries."""
    if type_ in IAM_DOCUMENT_TYPES:
        doc = _document(_get(props, "policy"))
        return [("policy", doc)] if doc is not None else []
    if type_ == IAM_ROLE:
        found = []
        for i, inline in enumerate(_items(_get(props, "inlinePolicies"))):
            doc = _document(_get(inline, "policy"))
            if doc is not None:
                found.append((f"inlinePolicies[{i}] {_get(inline, 'name') or ''}".rstrip(), doc))
        return found
    return []


def _allow_statements(type_: str, props: Mapping[str, Any]) -> Iterable[tuple[str, str, Mapping[str, Any], list[str], list[str]]]:
    for where, doc in identity_policies(type_, props):
        for i, st in enumerate(_statements(doc)):
            if st.get("Effect") == "Allow":
                actions = [a for a in _items(st.get("Action")) if isinstance(a, str)]
                resources = [r for r in _items(st.get("Resource")) if isinstance(r, str)]
                yield where, _sid(st, i), st, actions, resources


def iam_no_wildcard_actions(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    for where, sid, st, actions, _ in _allow_statements(type_, props):
        wild = [a for a in actions if a == "*" or a.endswith(":*")]
        if wild:
            found.append(f"IAM {where} {sid} allows wildcard action(s) {', '.join(wild)}: list the actions it needs")
        if "NotAction" in st:
            found.append(f"IAM {where} {sid} is Allow with NotAction, which grants every other action: list the actions it needs")
    return found


def iam_no_admin(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = [
        f"IAM {where} {sid} allows '*' on '*' (full administrator): list the actions and resources it needs"
        for where, sid, _, actions, resources in _allow_statements(type_, props)
        if {"*", "*:*"} & set(actions) and "*" in resources
    ]
    arns = []
    if type_ in IAM_ATTACHMENTS:
        arns = [_get(props, "policyArn")]
    elif type_ == IAM_ROLE:
        arns = _items(_get(props, "managedPolicyArns"))
    found += [f"IAM attaches {arn}: grant the actions it needs instead" for arn in arns if isinstance(arn, str) and _ADMIN_POLICY.match(arn)]
    return found


def iam_passrole_not_wildcard(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    for where, sid, _, actions, resources in _allow_statements(type_, props):
        passes = any(fnmatch.fnmatchcase("iam:passrole", a.lower()) for a in actions)
        wide = [r for r in resources if r == "*" or r.endswith(":role/*") or r.endswith(":*")]
        if passes and wide:
            found.append(f"IAM {where} {sid} allows iam:PassRole on {', '.join(wide)}: name the role ARNs it may pass (and add iam:PassedToService)")
    return found


# ----------------------------------------------------------------------------------------------
# SNS, CloudTrail, CloudWatch Logs, KMS

SNS_TOPIC = "aws:sns/topic:Topic"
CLOUDTRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"


def sns_kms(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != SNS_TOPIC or _get(props, "kmsMasterKeyId"):
        return []
    return ["SNS topic is not encrypted: set kmsMasterKeyId to a customer managed KMS key"]


def cloudtrail_log_validation(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CLOUDTRAIL or _true(_get(props, "enableLogFileValidation")):
        return []
    return ["CloudTrail trail has log file validation off: set enableLogFileValidation true"]


def cloudtrail_kms(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != CLOUDTRAIL or _get(props, "kmsKeyId"):
        return []
    return ["CloudTrail trail logs are not encrypted with KMS: set kmsKeyId to a customer managed key ARN"]


def log_group_retention(type_: str, props: Mapping[str, Any]) -> list[str]:
    if type_ != LOG_GROUP:
        return []
    days = _get(props, "retentionInDays")
    if isinstance(days, (int, float)) and not isinstance(days, bool) and days > 0:
        return []
    name = _get(props, "name") or _get(props, "namePrefix") or ""
    return [f"CloudWatch log group {name} keeps logs forever: set retentionInDays".replace("  ", " ")]


def kms_rotation(type_: str, props: Mapping[str, Any]) -> list[str]:
    """AWS rotates only symmetric encryption keys; asymmetric and HMAC keys are not checked."""
    if type_ != KMS_KEY:
        return []
    spec = _get(props, "customerMasterKeySpec") or _get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    usage = _get(props, "keyUsage") or "ENCRYPT_DECRYPT"
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT" or _true(_get(props, "enableKeyRotation")):
        return []
    return ["KMS key has automatic rotation off: set enableKeyRotation true"]


# ----------------------------------------------------------------------------------------------
# The pack

RULES: tuple[Rule, ...] = (
    Rule("ecr-image-scanning", "ECR repositories scan images on push, or enhanced scanning covers them (checkov CKV_AWS_163).",
         (ECR_REPOSITORY, ECR_REGISTRY_SCANNING), stack_check=ecr_image_scanning),
    Rule("ecr-immutable-tags", "ECR repositories have immutable image tags (checkov CKV_AWS_51).", (ECR_REPOSITORY,), ecr_immutable_tags),
    Rule("ecr-kms-encryption", "ECR repositories are encrypted with KMS (checkov CKV_AWS_136).", (ECR_REPOSITORY,), ecr_kms_encryption),
    Rule("ecr-no-public-policy", "ECR repository policies do not open the repository to everyone (checkov CKV_AWS_32, cdk-nag AwsSolutions-ECR1).",
         (ECR_REPOSITORY_POLICY, ECR_PUBLIC_REPOSITORY), ecr_no_public_policy),
    Rule("s3-public-access-blocked", "S3 buckets have a public access block with all four settings on (checkov CKV2_AWS_6, cdk-nag AwsSolutions-S2).",
         (*S3_BUCKETS, *S3_PUBLIC_ACCESS_BLOCK), stack_check=s3_public_access_blocked),
    Rule("s3-kms-encryption", "S3 buckets use server-side encryption with KMS by default (checkov CKV_AWS_145).",
         (*S3_BUCKETS, *S3_ENCRYPTION), stack_check=s3_kms_encryption),
    Rule("s3-versioning", "S3 buckets have versioning enabled (checkov CKV_AWS_21).", (*S3_BUCKETS, *S3_VERSIONING), stack_check=s3_versioning),
    Rule("s3-tls-only", "S3 bucket policies deny requests without TLS (cdk-nag AwsSolutions-S10).", (*S3_BUCKETS, *S3_POLICY), stack_check=s3_tls_only),
    Rule("codebuild-logging", "CodeBuild projects configure CloudWatch or S3 logging (checkov CKV_AWS_314).", (CODEBUILD_PROJECT,), codebuild_logging),
    Rule("codebuild-kms-key", "CodeBuild projects encrypt artifacts with a customer managed KMS key (checkov CKV_AWS_147, cdk-nag AwsSolutions-CB4).",
         (CODEBUILD_PROJECT,), codebuild_kms_key),
    Rule("codebuild-no-plaintext-credentials",
         "CodeBuild environment variables hold no plaintext AWS credentials (AWS Config codebuild-project-envvar-awscred-check; "
         "cdk-nag NIST.800.53.R5-CodeBuildProjectEnvVarAwsCred).", (CODEBUILD_PROJECT,), codebuild_no_plaintext_credentials),
    Rule("codebuild-privileged-only-for-docker",
         "CodeBuild privileged mode only for projects that build images with Docker, the documented exception (checkov CKV_AWS_316, "
         "cdk-nag AwsSolutions-CB3 which this pack relaxes for docker builds).", (CODEBUILD_PROJECT,), codebuild_privileged_only_for_docker),
    Rule("codepipeline-artifacts-kms", "CodePipeline artifact stores are encrypted with a KMS key (checkov CKV_AWS_219).", (CODEPIPELINE,),
         codepipeline_artifacts_kms),
    Rule("codepipeline-rollback-mode", "Pipelines that roll back stages are V2 and not in PARALLEL execution mode (no checkov/cdk-nag equivalent).",
         (CODEPIPELINE,), codepipeline_rollback_mode),
    Rule("ecs-container-insights", "ECS clusters have Container Insights on (checkov CKV_AWS_65, cdk-nag AwsSolutions-ECS4).", (ECS_CLUSTER,),
         ecs_container_insights),
    Rule("ecs-awslogs", "Every ECS container logs with the awslogs driver (cdk-nag AwsSolutions-ECS7).", (ECS_TASK_DEFINITION,), ecs_awslogs),
    Rule("ecs-no-privileged", "No ECS container runs privileged (checkov CKV_AWS_334).", (ECS_TASK_DEFINITION,), ecs_no_privileged),
    Rule("ecs-separate-roles", "ECS task execution role differs from the task role (checkov CKV_AWS_249).", (ECS_TASK_DEFINITION,), ecs_separate_roles),
    Rule("ecs-no-plain-secrets",
         "ECS containers pass no secret-looking values as plain environment variables (cdk-nag AwsSolutions-ECS2, which flags every variable; "
         "this rule flags names like PASSWORD/SECRET/TOKEN/API_KEY and AWS access key values).", (ECS_TASK_DEFINITION,), ecs_no_plain_secrets),
    Rule("ecs-no-public-ip", "ECS services assign no public IP to tasks (checkov CKV_AWS_333).", (ECS_SERVICE,), ecs_no_public_ip),
    Rule("ecs-circuit-breaker", "ECS services deployed by ECS roll back failed deployments with the circuit breaker (no checkov/cdk-nag equivalent).",
         (ECS_SERVICE,), ecs_circuit_breaker),
    Rule("eks-control-plane-logs", "EKS clusters log all control-plane log types (checkov CKV_AWS_37, cdk-nag AwsSolutions-EKS2).",
         (EKS_CLUSTER,), eks_control_plane_logs),
    Rule("eks-secrets-encryption", "EKS clusters encrypt Kubernetes secrets with KMS (checkov CKV_AWS_58).", (EKS_CLUSTER,),
         eks_secrets_encryption),
    Rule("eks-public-endpoint", "EKS API endpoints are not public to 0.0.0.0/0 (checkov CKV_AWS_38, cdk-nag AwsSolutions-EKS1).",
         (EKS_CLUSTER,), eks_public_endpoint),
    Rule("iam-no-wildcard-actions", "IAM policies allow no '*' or 'service:*' actions (checkov CKV_AWS_63, cdk-nag AwsSolutions-IAM5).",
         (*IAM_DOCUMENT_TYPES, IAM_ROLE), iam_no_wildcard_actions),
    Rule("iam-no-admin", "IAM policies grant no full administrator access (checkov CKV_AWS_62, cdk-nag NIST.800.53.R5-IAMPolicyNoStatementsWithAdminAccess).",
         (*IAM_DOCUMENT_TYPES, IAM_ROLE, *IAM_ATTACHMENTS), iam_no_admin),
    Rule("iam-passrole-not-wildcard", "IAM policies never allow iam:PassRole on '*' (no checkov/cdk-nag equivalent).", (*IAM_DOCUMENT_TYPES, IAM_ROLE),
         iam_passrole_not_wildcard),
    Rule("sns-kms", "SNS topics are encrypted with KMS (checkov CKV_AWS_26, cdk-nag AwsSolutions-SNS2).", (SNS_TOPIC,), sns_kms),
    Rule("cloudtrail-log-validation", "CloudTrail trails validate log files (checkov CKV_AWS_36, cdk-nag NIST.800.53.R5-CloudTrailLogFileValidationEnabled).",
         (CLOUDTRAIL,), cloudtrail_log_validation),
    Rule("cloudtrail-kms", "CloudTrail trails encrypt logs with KMS (checkov CKV_AWS_35, cdk-nag NIST.800.53.R5-CloudTrailEncryptionEnabled).",
         (CLOUDTRAIL,), cloudtrail_kms),
    Rule("log-group-retention", "CloudWatch log groups have a retention period (checkov CKV_AWS_66, cdk-nag NIST.800.53.R5-CloudWatchLogGroupRetentionPeriod).",
         (LOG_GROUP,), log_group_retention),
    Rule("kms-rotation", "Symmetric KMS keys rotate automatically (checkov CKV_AWS_7, cdk-nag AwsSolutions-KMS5).", (KMS_KEY,), kms_rotation),
)


@dataclass(frozen=True)
class Violation:
    rule: str
    resource_type: str
    resource_name: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource_type} {self.resource_name}: {self.message}"


def run_rules(resources: Sequence[Subject], rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Every violation of `rules` in a stack: what the engine would report, in rule order."""
    by_urn = {r.urn: r for r in resources}
    found = []
    for rule in rules:
        if rule.check is not None:
            for r in resources:
                found += [Violation(rule.name, r.type, r.name, r.urn, m) for m in rule.check(r.type, r.props)]
        if rule.stack_check is not None:
            for urn, message in rule.stack_check(resources):
                r = by_urn.get(urn)
                found.append(Violation(rule.name, r.type if r else "", r.name if r else "", urn, message))
    return found


def subjects(resources: Iterable[Any]) -> list[Subject]:
    """Subjects from offline.mocks.Resource records: inputs as props (what the engine validates per
    resource), the mock monitor's URNs so dependencies and parents resolve."""
    return [Subject(r.type, r.name, r.ref or r.urn, r.inputs, tuple(r.depends_on)) for r in resources]
