"""The policy pack: the stacks comply, every rule fires on a violating resource, the adapter is faithful."""

from __future__ import annotations

import copy
import importlib
import json
import re

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policy import rules
from policy.rules import RULES, Subject, run_rules, subjects
from program.targets import TARGETS

TARGET_NAMES = sorted(str(getattr(t, "value", t)) for t in TARGETS)
RULE_NAMES = [r.name for r in RULES]


# ---------------------------------------------------------------- the stacks comply


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_have_no_violations(stack, evaluate):
    result = evaluate(stack)
    assert run_rules(subjects(result.resources)) == []


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_every_deploy_target_has_no_violations(target, evaluate):
    """dev carries no target-specific keys, so it evaluates with every registered deploy target."""
    result = evaluate("dev", deployTarget=target)
    assert run_rules(subjects(result.resources)) == []


def _applicable(result) -> set[str]:
    types = {r.type for r in result.resources}
    return {rule.name for rule in RULES if types & set(rule.resource_types)}


def test_the_pack_really_checks_the_stack(dev):
    """Zero violations must mean 'checked', not 'nothing to check': the core rules meet their resources."""
    assert _applicable(dev) >= {
        "ecr-image-scanning",
        "ecr-immutable-tags",
        "ecr-kms-encryption",
        "s3-public-access-blocked",
        "s3-kms-encryption",
        "s3-versioning",
        "s3-tls-only",
        "codebuild-logging",
        "codebuild-kms-key",
        "codebuild-no-plaintext-credentials",
        "codebuild-privileged-only-for-docker",
        "codepipeline-artifacts-kms",
        "codepipeline-rollback-mode",
        "ecs-container-insights",
        "ecs-awslogs",
        "ecs-no-privileged",
        "ecs-separate-roles",
        "ecs-no-plain-secrets",
        "ecs-no-public-ip",
        "ecs-circuit-breaker",
        "iam-no-wildcard-actions",
        "iam-no-admin",
        "iam-passrole-not-wildcard",
        "log-group-retention",
        "kms-rotation",
    }


@pytest.mark.skipif("eks" not in TARGET_NAMES, reason="the EKS deploy target is not registered in components.deploy.TARGETS yet")
def test_eks_target_meets_the_eks_rules(evaluate):
    result = evaluate("dev", deployTarget="eks")
    assert {"eks-control-plane-logs", "eks-secrets-encryption", "eks-public-endpoint"} <= _applicable(result)
    assert run_rules(subjects(result.resources)) == []


# ---------------------------------------------------------------- each rule fires


def _props(result, type_: str, name: str | None = None) -> dict:
    """A copy of the inputs of the stack's one resource of `type_` (or of the one called `name`):
    never "the first", whose choice would depend on registration order."""
    resource = result.named(name) if name else result.one(type_)
    assert resource.type == type_
    return copy.deepcopy(resource.inputs)


def _check(rule_name: str, type_: str, props) -> list[str]:
    rule = next(r for r in RULES if r.name == rule_name)
    return rule.check(type_, props)


def test_ecr_rules_fire(dev):
    repo = _props(dev, rules.ECR_REPOSITORY)
    repo.pop("imageTagMutability")
    assert _check("ecr-immutable-tags", rules.ECR_REPOSITORY, repo) == [
        "ECR repository has imageTagMutability 'MUTABLE': set 'IMMUTABLE' so a pushed tag always names the same image"
    ]
    repo["encryptionConfigurations"] = [{"encryptionType": "AES256"}]
    assert _check("ecr-kms-encryption", rules.ECR_REPOSITORY, repo) == ["ECR repository is encrypted with AES256: set encryptionConfigurations=[{encryptionType: 'KMS'}]"]
    repo.pop("encryptionConfigurations")
    assert _check("ecr-kms-encryption", rules.ECR_REPOSITORY, repo) == [
        "ECR repository is encrypted with AES256 (the default): set encryptionConfigurations=[{encryptionType: 'KMS'}]"
    ]


def test_ecr_public_policy_fires_and_conditioned_grants_pass():
    public = {"Version": "2012-10-17", "Statement": [{"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"}]}
    assert _check("ecr-no-public-policy", rules.ECR_REPOSITORY_POLICY, {"policy": json.dumps(public)}) == [
        "ECR repository policy statement 'Pull' allows Principal '*' without a Condition: name the accounts or add a condition"
    ]
    public["Statement"][0]["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    assert _check("ecr-no-public-policy", rules.ECR_REPOSITORY_POLICY, {"policy": json.dumps(public)}) == []
    assert _check("ecr-no-public-policy", rules.ECR_PUBLIC_REPOSITORY, {"repositoryName": "x"}) == [
        "ECR Public repository: every image is world-readable; use a private aws:ecr/repository:Repository"
    ]


def _stack(result) -> list[Subject]:
    """The stack's subjects, its one bucket the artifact bucket: the records bucket (built by the same function,
    components/buckets.py) is left out so that each rule's finding names one bucket."""
    return [s for s in subjects(result.resources) if "container-cicd:supply:Records" not in s.urn]


def _replace(items: list[Subject], type_: str, **props) -> list[Subject]:
    out = []
    for s in items:
        if s.type == type_:
            s = Subject(s.type, s.name, s.urn, {**copy.deepcopy(dict(s.props)), **props}, s.dependencies)
        out.append(s)
    return out


def test_ecr_scanning_fires_unless_enhanced_scanning_covers_the_repository(dev):
    stack = _replace(_stack(dev), rules.ECR_REPOSITORY, imageScanningConfiguration={"scanOnPush": False})
    repo = next(s for s in stack if s.type == rules.ECR_REPOSITORY)
    expected = [
        (
            repo.urn,
            (
                "ECR repository registry-repo scans no image: set imageScanningConfiguration.scanOnPush=true, "
                "or cover the repository with an ENHANCED aws:ecr/registryScanningConfiguration rule"
            ),
        )
    ]
    assert rules.ecr_image_scanning(stack) == expected
    enhanced = Subject(
        rules.ECR_REGISTRY_SCANNING,
        "scan",
        "urn:scan",
        {
            "scanType": "ENHANCED",
            "rules": [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "container-cicd-*", "filterType": "WILDCARD"}]}],
        },
    )
    assert rules.ecr_image_scanning([*stack, enhanced]) == []
    basic = Subject(rules.ECR_REGISTRY_SCANNING, "scan", "urn:scan", {**enhanced.props, "scanType": "BASIC"})
    assert rules.ecr_image_scanning([*stack, basic]) == expected


def _one_bucket(result) -> list[Subject]:
    """The stack without its records bucket, which private_bucket builds as it builds the artifact bucket: the S3
    rules' tests break the artifact bucket's companions and expect that bucket alone to be named."""
    return [s for s in _stack(result) if "container-cicd:supply:Records" not in s.urn]


def _bucket(stack: list[Subject]) -> Subject:
    return next(s for s in stack if s.type == "aws:s3/bucket:Bucket")


def _without(stack: list[Subject], type_: str) -> list[Subject]:
    return [s for s in stack if s.type != type_]


def test_s3_public_access_block_missing_or_partial_fires(dev):
    stack = _one_bucket(dev)
    bucket = _bucket(stack)
    assert rules.s3_public_access_blocked(_without(stack, rules.S3_PUBLIC_ACCESS_BLOCK[0])) == [
        (
            bucket.urn,
            (
                "S3 bucket artifacts-bucket has no aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock: add one with "
                "blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true"
            ),
        )
    ]
    partial = _replace(stack, rules.S3_PUBLIC_ACCESS_BLOCK[0], blockPublicPolicy=False, restrictPublicBuckets=False)
    assert rules.s3_public_access_blocked(partial) == [
        (bucket.urn, ("S3 bucket artifacts-bucket: public access block leaves blockPublicPolicy, restrictPublicBuckets off; set all four to true"))
    ]


def test_s3_public_access_block_of_another_bucket_does_not_count(dev):
    stack = _stack(dev)
    other = Subject("aws:s3/bucket:Bucket", "other", "urn:other", {"bucket": "other"})
    found = rules.s3_public_access_blocked([*stack, other])
    assert [urn for urn, _ in found] == ["urn:other"]


def test_s3_encryption_fires_without_kms(dev):
    stack = _one_bucket(dev)
    bucket = _bucket(stack)
    sse = rules.S3_ENCRYPTION[0]
    aes = _replace(stack, sse, rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}])
    assert rules.s3_kms_encryption(aes) == [
        (bucket.urn, ("S3 bucket artifacts-bucket is encrypted with AES256: add a BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and a KMS key"))
    ]
    assert rules.s3_kms_encryption(_without(stack, sse)) == [
        (
            bucket.urn,
            ("S3 bucket artifacts-bucket is encrypted with AES256 (the S3 default): add a BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and a KMS key"),
        )
    ]


AES256 = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]


def _aes_bucket(name: str) -> list[Subject]:
    """A bucket on SSE-S3 and its encryption configuration, linked by property dependency as the engine links them."""
    urn = f"urn:{name}"
    return [
        Subject(rules.S3_BUCKETS[0], name, urn, {"bucket": name}),
        Subject(rules.S3_ENCRYPTION[0], f"{name}-sse", f"{urn}-sse", {"bucket": name, "rules": AES256}, (urn,), {"bucket": (urn,)}),
    ]


def test_s3_encryption_exempts_the_target_of_server_access_logging_only(prod):
    stack = _stack(prod)
    log_bucket = next(s for s in stack if s.name == "audit-access-logs-bucket")
    assert rules.s3_kms_encryption(stack) == []
    # Without the BucketLogging, nothing writes server access logs to the SSE-S3 bucket: it must use KMS.
    assert rules.s3_kms_encryption(_without(stack, rules.S3_LOGGING[0])) == [
        (
            log_bucket.urn,
            "S3 bucket audit-access-logs-bucket is encrypted with AES256: add a BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and a KMS key",
        )
    ]
    # An SSE-S3 bucket no logging configuration targets still fails next to the exempt one.
    assert [urn for urn, _ in rules.s3_kms_encryption([*stack, *_aes_bucket("other")])] == ["urn:other"]


def test_s3_encryption_exemption_follows_target_bucket_not_the_logged_bucket():
    """The logged (source) bucket of a BucketLogging is no log target: on SSE-S3 it still fails, though the
    BucketLogging depends on it; the target passes by property dependency, or by name without one."""
    source, target = _aes_bucket("source"), _aes_bucket("target")
    by_dependency = Subject(
        rules.S3_LOGGING[0],
        "logging",
        "urn:logging",
        {"bucket": "source", "targetBucket": "target", "targetPrefix": "logs/"},
        ("urn:source", "urn:target"),
        {"bucket": ("urn:source",), "targetBucket": ("urn:target",)},
    )
    assert [urn for urn, _ in rules.s3_kms_encryption([*source, *target, by_dependency])] == ["urn:source"]
    by_name = Subject(rules.S3_LOGGING[0], "logging", "urn:logging", {"bucket": "source", "targetBucket": "target"}, ("urn:source", "urn:target"))
    assert [urn for urn, _ in rules.s3_kms_encryption([*source, *target, by_name])] == ["urn:source"]
    # A plain dependency alone names no target: both buckets fail.
    unnamed = Subject(rules.S3_LOGGING[1], "logging", "urn:logging", {"bucket": "source-id", "targetBucket": "target-id"}, ("urn:source", "urn:target"))
    assert [urn for urn, _ in rules.s3_kms_encryption([*source, *target, unnamed])] == ["urn:source", "urn:target"]
    # The property dependency wins over the name: a targetBucket from another resource is not this bucket.
    elsewhere = Subject(rules.S3_LOGGING[0], "logging", "urn:logging", {"bucket": "source", "targetBucket": "target"}, ("urn:x",), {"targetBucket": ("urn:x",)})
    assert [urn for urn, _ in rules.s3_kms_encryption([*source, *target, elsewhere])] == ["urn:source", "urn:target"]


def test_s3_encryption_exemption_of_a_log_target_needs_sse_s3_throughout():
    target = _aes_bucket("target")
    mixed = Subject(
        rules.S3_ENCRYPTION[0],
        "target-sse-2",
        "urn:target-sse-2",
        {"bucket": "target", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms:dsse"}}]},
        (),
        {"bucket": ("urn:target",)},
    )
    logging = Subject(rules.S3_LOGGING[0], "logging", "urn:logging", {"bucket": "source", "targetBucket": "target"}, (), {"targetBucket": ("urn:target",)})
    assert rules.s3_kms_encryption([*target, logging]) == []
    assert [urn for urn, _ in rules.s3_kms_encryption([*target, mixed, logging])] == ["urn:target"]


def test_s3_versioning_fires_when_suspended_or_absent(dev):
    stack = _one_bucket(dev)
    bucket = _bucket(stack)
    suspended = _replace(stack, rules.S3_VERSIONING[0], versioningConfiguration={"status": "Suspended"})
    assert rules.s3_versioning(suspended) == [
        (bucket.urn, ("S3 bucket artifacts-bucket versioning is Suspended: add a BucketVersioning with versioningConfiguration.status 'Enabled'"))
    ]
    assert rules.s3_versioning(_without(stack, rules.S3_VERSIONING[0]))[0][1].startswith("S3 bucket artifacts-bucket versioning is not configured")


def test_s3_tls_only_fires_without_the_deny_statement(dev):
    stack = _one_bucket(dev)
    bucket = _bucket(stack)
    message = "S3 bucket artifacts-bucket accepts plain HTTP: add a bucket policy statement Deny Principal '*' Action 's3:*' with Condition Bool aws:SecureTransport 'false'"
    assert rules.s3_tls_only(_without(stack, rules.S3_POLICY[0])) == [(bucket.urn, message)]
    policy = json.loads(next(s for s in stack if s.type == rules.S3_POLICY[0]).props["policy"])
    policy["Statement"][0]["Effect"] = "Allow"
    assert rules.s3_tls_only(_replace(stack, rules.S3_POLICY[0], policy=json.dumps(policy))) == [(bucket.urn, message)]


def test_codebuild_rules_fire(dev):
    project = _props(dev, rules.CODEBUILD_PROJECT, "build-project")
    project["logsConfig"] = {"cloudwatchLogs": {"status": "DISABLED"}, "s3Logs": {"status": "DISABLED"}}
    assert _check("codebuild-logging", rules.CODEBUILD_PROJECT, project) == [
        "CodeBuild project has no logsConfig with cloudwatchLogs or s3Logs status 'ENABLED': build output would not be kept where you choose"
    ]
    project.pop("encryptionKey")
    assert _check("codebuild-kms-key", rules.CODEBUILD_PROJECT, project) == [
        "CodeBuild project has no encryptionKey: build artifacts would use the AWS managed aws/s3 key; set a customer managed KMS key ARN"
    ]
    project["environment"]["environmentVariables"] = [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
        {"name": "DEPLOY_KEY", "value": "AKIAIOSFODNN7EXAMPLE", "type": "PLAINTEXT"},
        {"name": "AWS_ACCESS_KEY_ID", "value": "/ci/key-id", "type": "PARAMETER_STORE"},
    ]
    assert _check("codebuild-no-plaintext-credentials", rules.CODEBUILD_PROJECT, project) == [
        "CodeBuild environment variable AWS_SECRET_ACCESS_KEY holds AWS credentials in PLAINTEXT: use the project's service role, or type SECRETS_MANAGER/PARAMETER_STORE",
        "CodeBuild environment variable DEPLOY_KEY holds AWS credentials in PLAINTEXT: use the project's service role, or type SECRETS_MANAGER/PARAMETER_STORE",
    ]


def test_codebuild_privileged_mode_is_allowed_only_for_docker_builds(dev):
    project = _props(dev, rules.CODEBUILD_PROJECT, "build-project")
    assert project["environment"]["privilegedMode"] is True  # the documented exception, exercised by the real buildspec
    assert _check("codebuild-privileged-only-for-docker", rules.CODEBUILD_PROJECT, project) == []
    project["source"]["buildspec"] = "version: 0.2\nphases:\n  build:\n    commands:\n    - pytest\n"
    message = ["CodeBuild project runs in privilegedMode but its inline buildspec runs no `docker build`: turn privilegedMode off"]
    assert _check("codebuild-privileged-only-for-docker", rules.CODEBUILD_PROJECT, project) == message
    project["source"].pop("buildspec")  # buildspec.yml from the repository: not checkable, refused
    assert _check("codebuild-privileged-only-for-docker", rules.CODEBUILD_PROJECT, project) == message
    project["environment"]["privilegedMode"] = False
    assert _check("codebuild-privileged-only-for-docker", rules.CODEBUILD_PROJECT, project) == []


def test_codepipeline_rules_fire(dev):
    pipeline = _props(dev, rules.CODEPIPELINE)
    pipeline["artifactStores"][0].pop("encryptionKey")
    assert _check("codepipeline-artifacts-kms", rules.CODEPIPELINE, pipeline) == [
        "CodePipeline artifact store artifacts-bucket-mock has no encryptionKey {type: 'KMS', id: <key ARN>}: artifacts would use the AWS managed aws/s3 key"
    ]
    assert _check("codepipeline-rollback-mode", rules.CODEPIPELINE, pipeline) == []
    [deploy] = [s for s in pipeline["stages"] if s["name"] == "Deploy"]
    deploy["onFailure"] = {"result": "ROLLBACK"}
    assert _check("codepipeline-rollback-mode", rules.CODEPIPELINE, pipeline) == []  # V2, QUEUED
    pipeline["executionMode"] = "PARALLEL"
    pipeline["pipelineType"] = "V1"
    assert _check("codepipeline-rollback-mode", rules.CODEPIPELINE, pipeline) == [
        "CodePipeline rolls back stage(s) Deploy but pipelineType is not 'V2': set pipelineType 'V2'",
        "CodePipeline rolls back stage(s) Deploy in executionMode 'PARALLEL', where rollback is not supported: use 'QUEUED' or 'SUPERSEDED'",
    ]


def test_codepipeline_rollback_by_a_success_condition_counts_as_rollback(dev):
    pipeline = _props(dev, rules.CODEPIPELINE)
    [deploy] = [s for s in pipeline["stages"] if s["name"] == "Deploy"]
    deploy.pop("onFailure", None)
    deploy["onSuccess"] = {"condition": {"result": "ROLLBACK", "rules": [{"name": "BakeTime"}]}}
    pipeline["executionMode"] = "PARALLEL"
    assert _check("codepipeline-rollback-mode", rules.CODEPIPELINE, pipeline) == [
        "CodePipeline rolls back stage(s) Deploy in executionMode 'PARALLEL', where rollback is not supported: use 'QUEUED' or 'SUPERSEDED'",
    ]


def test_ecs_cluster_and_service_rules_fire(dev):
    cluster = _props(dev, rules.ECS_CLUSTER)
    cluster["settings"] = [{"name": "containerInsights", "value": "disabled"}]
    assert _check("ecs-container-insights", rules.ECS_CLUSTER, cluster) == ["ECS cluster has Container Insights off: add settings [{name: 'containerInsights', value: 'enabled'}]"]
    cluster["settings"] = [{"name": "containerInsights", "value": "enhanced"}]
    assert _check("ecs-container-insights", rules.ECS_CLUSTER, cluster) == []

    service = _props(dev, rules.ECS_SERVICE)
    service["networkConfiguration"]["assignPublicIp"] = True
    assert _check("ecs-no-public-ip", rules.ECS_SERVICE, service) == [
        "ECS service assigns public IPs to its tasks: set networkConfiguration.assignPublicIp false and reach the internet through a NAT gateway"
    ]
    service["deploymentCircuitBreaker"]["rollback"] = False
    breaker = ["ECS service has no deployment circuit breaker with rollback: set deploymentCircuitBreaker {enable: true, rollback: true}"]
    assert _check("ecs-circuit-breaker", rules.ECS_SERVICE, service) == breaker
    service.pop("deploymentCircuitBreaker")
    assert _check("ecs-circuit-breaker", rules.ECS_SERVICE, service) == breaker
    service["deploymentController"] = {"type": "CODE_DEPLOY"}  # CodeDeploy rolls back, not the circuit breaker
    assert _check("ecs-circuit-breaker", rules.ECS_SERVICE, service) == []


def test_ecs_task_definition_rules_fire(dev):
    task = _props(dev, rules.ECS_TASK_DEFINITION)
    containers = json.loads(task["containerDefinitions"])
    containers[0]["logConfiguration"] = {"logDriver": "json-file"}
    containers[0]["privileged"] = True
    containers[0]["environment"].append({"name": "DB_PASSWORD", "value": "hunter2"})
    task["containerDefinitions"] = json.dumps(containers)
    task["taskRoleArn"] = task["executionRoleArn"]
    assert _check("ecs-awslogs", rules.ECS_TASK_DEFINITION, task) == ["ECS container 'app' has log driver 'json-file': set logConfiguration.logDriver 'awslogs'"]
    assert _check("ecs-no-privileged", rules.ECS_TASK_DEFINITION, task) == ["ECS container 'app' is privileged: remove privileged: true"]
    assert _check("ecs-no-plain-secrets", rules.ECS_TASK_DEFINITION, task) == [
        "ECS container 'app' passes DB_PASSWORD as a plain environment variable: move it to secrets (valueFrom Secrets Manager or SSM)"
    ]
    assert _check("ecs-separate-roles", rules.ECS_TASK_DEFINITION, task) == [
        "ECS task definition uses arn:aws:iam::123456789012:role/deploy-execution-role-mock as both execution and task role: give the app its own task role"
    ]
    containers[0].pop("logConfiguration")
    task["containerDefinitions"] = json.dumps(containers)
    assert _check("ecs-awslogs", rules.ECS_TASK_DEFINITION, task) == ["ECS container 'app' has log driver None: set logConfiguration.logDriver 'awslogs'"]


EKS_OK_RESOURCE = {
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}},
    "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"], "subnetIds": ["s-1"]},
}


def test_eks_rules_pass_a_compliant_cluster():
    assert run_rules([Subject(rules.EKS_CLUSTER, "c", "urn:c", EKS_OK_RESOURCE)]) == []
    private = {**EKS_OK_RESOURCE, "vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True, "subnetIds": ["s-1"]}}
    assert run_rules([Subject(rules.EKS_CLUSTER, "c", "urn:c", private)]) == []


def test_eks_rules_fire_on_a_default_cluster():
    """The EKS API defaults to no control-plane logs, no secrets encryption and an open endpoint."""
    type_ = rules.EKS_CLUSTER
    assert [str(v) for v in run_rules([Subject(type_, "c", "urn:c", {"vpcConfig": {"subnetIds": ["s-1"]}})])] == [
        f"[eks-control-plane-logs] {type_} c: EKS cluster does not log control-plane types api, audit, authenticator, controllerManager, "
        "scheduler: set enabledClusterLogTypes to all of api, audit, authenticator, controllerManager, scheduler",
        f"[eks-secrets-encryption] {type_} c: EKS cluster does not encrypt Kubernetes secrets with KMS: set encryptionConfig {{resources: ['secrets'], provider: {{keyArn}}}}",
        f"[eks-public-endpoint] {type_} c: EKS API endpoint is public to 0.0.0.0/0 (the default): set vpcConfig.endpointPublicAccess false, "
        "or vpcConfig.publicAccessCidrs to your networks",
    ]


def test_eks_partial_logs_open_cidr_and_unencrypted_fire():
    props = {
        **EKS_OK_RESOURCE,
        "enabledClusterLogTypes": ["api", "audit"],
        "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8", "0.0.0.0/0"]},
        "encryptionConfig": {"resources": ["secrets"]},
    }
    assert _check("eks-control-plane-logs", rules.EKS_CLUSTER, props) == [
        "EKS cluster does not log control-plane types authenticator, controllerManager, scheduler: set enabledClusterLogTypes to all of "
        "api, audit, authenticator, controllerManager, scheduler"
    ]
    assert _check("eks-public-endpoint", rules.EKS_CLUSTER, props) == [
        "EKS API endpoint is public to 0.0.0.0/0: set vpcConfig.endpointPublicAccess false, or vpcConfig.publicAccessCidrs to your networks"
    ]
    assert _check("eks-secrets-encryption", rules.EKS_CLUSTER, props) == [
        "EKS cluster does not encrypt Kubernetes secrets with KMS: set encryptionConfig {resources: ['secrets'], provider: {keyArn}}"
    ]


def test_the_created_cluster_meets_the_eks_rules_with_the_inputs_it_sends(prod):
    """The rules read the real program's aws:eks/cluster:Cluster inputs (not a stand-in dict)."""
    [cluster] = prod.of_type(rules.EKS_CLUSTER)
    assert run_rules([Subject(rules.EKS_CLUSTER, cluster.name, cluster.urn, cluster.inputs)]) == []
    opened = {**cluster.inputs, "vpcConfig": {**cluster.inputs["vpcConfig"], "endpointPublicAccess": True}}
    assert [v.rule for v in run_rules([Subject(rules.EKS_CLUSTER, cluster.name, cluster.urn, opened)])] == ["eks-public-endpoint"]


def _doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_iam_wildcard_admin_and_passrole_fire_on_role_policies(dev):
    policy = _props(dev, "aws:iam/rolePolicy:RolePolicy", "build-role-policy")
    policy["policy"] = _doc(
        {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "AllEcr", "Effect": "Allow", "Action": ["ecr:*", "ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {"Sid": "DenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"},
    )
    assert _check("iam-no-wildcard-actions", "aws:iam/rolePolicy:RolePolicy", policy) == [
        "IAM policy statement 'Admin' allows wildcard action(s) *: list the actions it needs",
        "IAM policy statement 'AllEcr' allows wildcard action(s) ecr:*: list the actions it needs",
    ]
    assert _check("iam-no-admin", "aws:iam/rolePolicy:RolePolicy", policy) == [
        "IAM policy statement 'Admin' allows '*' on '*' (full administrator): list the actions and resources it needs"
    ]
    assert _check("iam-passrole-not-wildcard", "aws:iam/rolePolicy:RolePolicy", policy) == [
        "IAM policy statement 'Admin' allows iam:PassRole on *: name the role ARNs it may pass (and add iam:PassedToService)",
        "IAM policy statement 'Pass' allows iam:PassRole on *: name the role ARNs it may pass (and add iam:PassedToService)",
    ]


def test_iam_rules_read_managed_policies_role_inline_policies_and_attachments():
    admin = _doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, {"Effect": "Allow", "Action": "iam:Pass*", "Resource": "arn:aws:iam::123456789012:role/*"})
    assert _check("iam-no-wildcard-actions", "aws:iam/policy:Policy", {"policy": admin}) == [
        "IAM policy statement #0 is Allow with NotAction, which grants every other action: list the actions it needs"
    ]
    assert _check("iam-passrole-not-wildcard", "aws:iam/role:Role", {"inlinePolicies": [{"name": "deploy", "policy": admin}]}) == [
        "IAM inlinePolicies[0] deploy statement #1 allows iam:PassRole on arn:aws:iam::123456789012:role/*: name the role ARNs it may pass (and add iam:PassedToService)"
    ]
    admin_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert _check("iam-no-admin", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r", "policyArn": admin_arn}) == [
        f"IAM attaches {admin_arn}: grant the actions it needs instead"
    ]
    assert _check("iam-no-admin", "aws:iam/role:Role", {"managedPolicyArns": [admin_arn]}) == [f"IAM attaches {admin_arn}: grant the actions it needs instead"]


def test_sns_cloudtrail_log_group_and_kms_rules_fire(dev):
    assert _check("sns-kms", rules.SNS_TOPIC, {"name": "alerts"}) == ["SNS topic is not encrypted: set kmsMasterKeyId to a customer managed KMS key"]
    assert _check("sns-kms", rules.SNS_TOPIC, {"kmsMasterKeyId": "alias/alerts"}) == []
    trail = {"s3BucketName": "trail", "enableLogFileValidation": False}
    assert _check("cloudtrail-log-validation", rules.CLOUDTRAIL, trail) == ["CloudTrail trail has log file validation off: set enableLogFileValidation true"]
    assert _check("cloudtrail-kms", rules.CLOUDTRAIL, trail) == ["CloudTrail trail logs are not encrypted with KMS: set kmsKeyId to a customer managed key ARN"]
    logs = _props(dev, rules.LOG_GROUP, "build-logs")
    for days in (None, 0):
        logs["retentionInDays"] = days
        assert _check("log-group-retention", rules.LOG_GROUP, logs) == ["CloudWatch log group /aws/codebuild/container-cicd-dev-app-build keeps logs forever: set retentionInDays"]
    key = _props(dev, rules.KMS_KEY, "artifacts-key")
    key["enableKeyRotation"] = False
    assert _check("kms-rotation", rules.KMS_KEY, key) == ["KMS key has automatic rotation off: set enableKeyRotation true"]
    key["customerMasterKeySpec"] = "RSA_2048"  # AWS cannot rotate asymmetric keys
    key["keyUsage"] = "SIGN_VERIFY"
    assert _check("kms-rotation", rules.KMS_KEY, key) == []


# ---------------------------------------------------------------- silence and the engine's property form


def test_rules_are_silent_where_their_resource_type_is_absent():
    for rule in RULES:
        if rule.check:
            assert rule.check("aws:sqs/queue:Queue", {"name": "q"}) == [], rule.name
        if rule.stack_check:
            assert rule.stack_check([Subject("aws:sqs/queue:Queue", "q", "urn:q", {})]) == [], rule.name


def test_rules_read_the_engines_proxied_properties(dev):
    """The engine passes read-only proxies, not dicts; the rules must see through them."""
    task = _props(dev, rules.ECS_TASK_DEFINITION)
    task["taskRoleArn"] = task["executionRoleArn"]
    assert _check("ecs-separate-roles", rules.ECS_TASK_DEFINITION, unknown_checking_proxy(task)) == _check("ecs-separate-roles", rules.ECS_TASK_DEFINITION, task) != []
    service = _props(dev, rules.ECS_SERVICE)
    service["networkConfiguration"]["assignPublicIp"] = True
    assert len(_check("ecs-no-public-ip", rules.ECS_SERVICE, unknown_checking_proxy(service))) == 1


def test_an_unknown_value_is_not_a_pass():
    """In preview an unknown value raises, which the engine reports as 'can't run policy during preview'."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    with pytest.raises(UnknownValueError) as raised:
        _check("codebuild-kms-key", rules.CODEBUILD_PROJECT, unknown_checking_proxy({"encryptionKey": UNKNOWN_STRING_VALUE}))
    assert raised.value.message.endswith("value at .encryptionKey can't be known during preview")


# ---------------------------------------------------------------- the CrossGuard adapter


@pytest.fixture(scope="module")
def pack():
    # Imported under its package name, so the `if __name__ == "__main__"` guard keeps the analyzer server off.
    return importlib.import_module("policy.__main__")


def test_adapter_registers_one_mandatory_policy_per_rule(pack):
    policies = pack.build_policies()
    assert [p.name for p in policies] == RULE_NAMES
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)
    for policy, rule in zip(policies, RULES, strict=True):
        assert policy.enforcement_level == EnforcementLevel.MANDATORY
        assert policy.description == rule.description
        expected = ResourceValidationPolicy if rule.check else StackValidationPolicy
        assert type(policy) is expected, rule.name
    assert pack.ENFORCEMENT == EnforcementLevel.MANDATORY


def test_rule_descriptions_name_their_checkov_and_cdk_nag_ids():
    ids = {
        "ecr-image-scanning": ["CKV_AWS_163"],
        "ecr-immutable-tags": ["CKV_AWS_51"],
        "ecr-kms-encryption": ["CKV_AWS_136"],
        "ecr-no-public-policy": ["CKV_AWS_32", "AwsSolutions-ECR1"],
        "s3-public-access-blocked": ["CKV2_AWS_6", "AwsSolutions-S2"],
        "s3-kms-encryption": ["CKV_AWS_145"],
        "s3-versioning": ["CKV_AWS_21"],
        "s3-tls-only": ["AwsSolutions-S10"],
        "codebuild-logging": ["CKV_AWS_314"],
        "codebuild-kms-key": ["CKV_AWS_147", "AwsSolutions-CB4"],
        "codebuild-privileged-only-for-docker": ["CKV_AWS_316", "AwsSolutions-CB3"],
        "codepipeline-artifacts-kms": ["CKV_AWS_219"],
        "ecs-container-insights": ["CKV_AWS_65", "AwsSolutions-ECS4"],
        "ecs-awslogs": ["AwsSolutions-ECS7"],
        "ecs-no-privileged": ["CKV_AWS_334"],
        "ecs-separate-roles": ["CKV_AWS_249"],
        "ecs-no-plain-secrets": ["AwsSolutions-ECS2"],
        "ecs-no-public-ip": ["CKV_AWS_333"],
        "eks-control-plane-logs": ["CKV_AWS_37", "AwsSolutions-EKS2"],
        "eks-secrets-encryption": ["CKV_AWS_58"],
        "eks-public-endpoint": ["CKV_AWS_38", "AwsSolutions-EKS1"],
        "iam-no-wildcard-actions": ["CKV_AWS_63"],
        "iam-no-admin": ["CKV_AWS_62"],
        "sns-kms": ["CKV_AWS_26"],
        "cloudtrail-log-validation": ["CKV_AWS_36"],
        "cloudtrail-kms": ["CKV_AWS_35"],
        "log-group-retention": ["CKV_AWS_66"],
        "kms-rotation": ["CKV_AWS_7"],
    }
    descriptions = {r.name: r.description for r in RULES}
    for name, wanted in ids.items():
        for id_ in wanted:
            assert id_ in descriptions[name], (name, id_)


def test_resource_policy_reports_what_the_rule_finds(pack, dev):
    policy = next(p for p in pack.build_policies() if p.name == "ecs-no-public-ip")
    service = _props(dev, rules.ECS_SERVICE)
    service["networkConfiguration"]["assignPublicIp"] = True
    reported = []
    args = ResourceValidationArgs(rules.ECS_SERVICE, unknown_checking_proxy(service), "urn:svc", "svc", None, None)
    policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert reported == [(rules.ecs_no_public_ip(rules.ECS_SERVICE, service)[0], None)]


def test_stack_policy_reports_against_the_bucket_urn_using_property_dependencies(pack):
    policy = next(p for p in pack.build_policies() if p.name == "s3-public-access-blocked")
    opts = PolicyResourceOptions(False, [], None, [], None, [])
    bucket = PolicyResource("aws:s3/bucket:Bucket", {"bucket": "b-123"}, "urn:bucket", "data", opts, None, None, [], {})
    other = PolicyResource("aws:s3/bucket:Bucket", {"bucket": "o-456"}, "urn:other", "other", opts, None, None, [], {})
    block = PolicyResource(
        rules.S3_PUBLIC_ACCESS_BLOCK[0],
        {"bucket": "b-123", **dict.fromkeys(rules.PUBLIC_ACCESS_FLAGS, True)},
        "urn:block",
        "block",
        opts,
        None,
        None,
        [bucket],
        {"bucket": [bucket]},
    )
    reported = []
    policy.validate(StackValidationArgs([bucket, other, block]), lambda message, urn=None: reported.append((message, urn)))
    assert reported == [
        (
            "S3 bucket other has no aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock: add one with "
            "blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true",
            "urn:other",
        )
    ]


def test_docs_list_every_rule_with_its_ids():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "policy.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in doc.splitlines() if line.startswith("| `")}
    assert list(rows) == RULE_NAMES
    for rule in RULES:
        for id_ in re.findall(r"CKV2?_AWS_\d+|AwsSolutions-[A-Z0-9]+", rule.description):
            assert id_ in rows[rule.name], (rule.name, id_)


def test_the_pack_directory_starts_one_mandatory_pack_when_run_by_the_policy_runtime(monkeypatch):
    """pulumi.policy runs `runpy.run_path(<pack dir>, run_name="__main__")`; do the same with the server stubbed."""
    import runpy
    import sys
    from pathlib import Path

    import pulumi_policy

    started = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: started.append(kwargs))

    def forget_rules_package():  # the runtime imports policy/rules/ as the top-level package `rules`
        for module in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
            del sys.modules[module]

    forget_rules_package()
    try:
        runpy.run_path(str(Path(__file__).resolve().parent.parent / "policy"), run_name="__main__")
    finally:
        forget_rules_package()
    assert len(started) == 1
    assert started[0]["name"] == "container-cicd-baseline"
    assert started[0]["enforcement_level"] == EnforcementLevel.MANDATORY
    assert [p.name for p in started[0]["policies"]] == RULE_NAMES
