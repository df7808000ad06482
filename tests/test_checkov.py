"""checkov over the evaluated stacks: the Terraform-plan conversion (offline/tfplan.py), the scan and its
exceptions (offline/checkov_scan.py, policy/checkov-exceptions.yaml), and flips that show the conversion
carries what checkov reads: change one Pulumi input and the check's verdict changes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from offline import checkov_scan, tfplan
from offline.mocks import Resource, StackResult

# The stacks CI plans (.ci/run): dev (ECS), prod (EKS), dev on EKS, and dev deploying as a canary (the
# resources of ECS's traffic-shifting strategies: a second target group, listener rules, the test listener,
# the smoke-test hook).
STACKS = {"dev": ("dev", {}), "prod": ("prod", {}), "dev-eks": ("dev", {"deployTarget": "eks"}), "dev-canary": ("dev", {"deploymentStrategy": "canary"})}

# Every aws: type the three stacks register, with the Terraform type the bridge maps it to.
EXPECTED_TYPES = {
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "aws_cloudwatch_composite_alarm",
    "aws:cloudwatch/dashboard:Dashboard": "aws_cloudwatch_dashboard",
    "aws:cloudwatch/eventRule:EventRule": "aws_cloudwatch_event_rule",
    "aws:cloudwatch/eventTarget:EventTarget": "aws_cloudwatch_event_target",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:codebuild/project:Project": "aws_codebuild_project",
    "aws:codebuild/reportGroup:ReportGroup": "aws_codebuild_report_group",
    "aws:codecommit/repository:Repository": "aws_codecommit_repository",
    "aws:codepipeline/pipeline:Pipeline": "aws_codepipeline",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:codecommit/approvalRuleTemplate:ApprovalRuleTemplate": "aws_codecommit_approval_rule_template",
    "aws:codecommit/approvalRuleTemplateAssociation:ApprovalRuleTemplateAssociation": "aws_codecommit_approval_rule_template_association",
    "aws:wafv2/webAcl:WebAcl": "aws_wafv2_web_acl",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "aws_wafv2_web_acl_association",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:ecs/cluster:Cluster": "aws_ecs_cluster",
    "aws:ecs/service:Service": "aws_ecs_service",
    "aws:ecs/taskDefinition:TaskDefinition": "aws_ecs_task_definition",
    "aws:eks/accessEntry:AccessEntry": "aws_eks_access_entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "aws_eks_access_policy_association",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/cluster:Cluster": "aws_eks_cluster",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lambda/function:Function": "aws_lambda_function",
    "aws:lambda/permission:Permission": "aws_lambda_permission",
    "aws:lb/listenerRule:ListenerRule": "aws_lb_listener_rule",
    "aws:lb/listener:Listener": "aws_lb_listener",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:lb/targetGroup:TargetGroup": "aws_lb_target_group",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketNotification:BucketNotification": "aws_s3_bucket_notification",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "aws_s3_bucket_server_side_encryption_configuration",
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:ssm/parameter:Parameter": "aws_ssm_parameter",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "aws_vpc_security_group_egress_rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
}


@pytest.fixture(scope="module")
def stacks(evaluate) -> dict[str, StackResult]:
    return {label: evaluate(stack, **overrides) for label, (stack, overrides) in STACKS.items()}


@pytest.fixture(scope="module")
def scans(stacks) -> dict[str, checkov_scan.ScanResult]:
    """The full checkov scan of each stack, once per session (about 3 s each)."""
    return {label: checkov_scan.scan(result) for label, result in stacks.items()}


def _values(result: StackResult, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(address, planned values, configuration expressions) of the resource `name` in the stack's plan."""
    plan = tfplan.to_plan(result)
    [resource] = [r for r in result.resources if r.name == name and r.custom]
    address = tfplan.addresses(result.resources)[resource.urn]
    [values] = [r["values"] for r in plan["planned_values"]["root_module"]["resources"] if r["address"] == address]
    [expressions] = [r["expressions"] for r in plan["configuration"]["root_module"]["resources"] if r["address"] == address]
    return address, values, expressions


# ----------------------------------------------------------------------------------------------
# Conversion


def test_every_registered_aws_type_has_its_terraform_type(stacks):
    used = {r.type for result in stacks.values() for r in result.resources if tfplan.convertible(r)}
    assert used == set(EXPECTED_TYPES)
    assert {t: tfplan.tf_type(t) for t in sorted(used)} == EXPECTED_TYPES


def test_only_aws_custom_resources_are_converted(stacks):
    for result in stacks.values():
        plan = tfplan.to_plan(result)
        converted = plan["planned_values"]["root_module"]["resources"]
        assert len(converted) == sum(1 for r in result.resources if r.custom and r.type.startswith("aws:"))
        assert len({r["address"] for r in converted}) == len(converted)
        assert all(r["mode"] == "managed" and r["address"] == f"{r['type']}.{r['name']}" for r in converted)


def test_a_token_outside_pulumi_aws_is_refused():
    with pytest.raises(ValueError, match=r"'kubernetes:apps/v1:Deployment' is not a pulumi-aws resource token"):
        tfplan.tf_type("kubernetes:apps/v1:Deployment")


def test_names_blocks_and_maps_follow_terraform(dev):
    address, values, _ = _values(dev, "registry-repo")
    assert address == "aws_ecr_repository.registry-repo"
    # MaxItems-1 block flattened by the bridge -> one-element list; pluralised list block -> singular name.
    assert values["image_scanning_configuration"] == [{"scan_on_push": True}]
    assert values["encryption_configuration"] == [{"encryption_type": "KMS"}]
    assert values["image_tag_mutability"] == "IMMUTABLE"
    # A map keeps its keys as written.
    assert values["tags"]["managed-by"] == "pulumi"


def test_an_input_equal_to_another_resources_id_becomes_a_reference(dev):
    _, values, expressions = _values(dev, "artifacts-versioning")
    bucket_id = dev.named("artifacts-bucket").id
    assert values["bucket"] == bucket_id
    assert expressions["bucket"] == {"references": ["aws_s3_bucket.artifacts-bucket.id", "aws_s3_bucket.artifacts-bucket"]}
    assert expressions["versioning_configuration"] == [{"status": {"constant_value": "Enabled"}}]


def test_the_plan_json_is_deterministic(dev):
    assert tfplan.to_plan_json(dev) == tfplan.to_plan_json(copy.deepcopy(dev))
    assert json.loads(tfplan.to_plan_json(dev))["format_version"] == tfplan.FORMAT_VERSION


# ----------------------------------------------------------------------------------------------
# Flips: one Pulumi input changed, checkov's verdict changes


def _check_result(result: StackResult, name: str, check_module: str, tmp_path) -> str:
    """One checkov resource check over the resource `name`, parsed from our plan JSON by checkov's own
    terraform_plan parser (what the full scan feeds the check)."""
    import importlib

    from checkov.terraform.plan_parser import parse_tf_plan

    [resource] = [r for r in result.resources if r.name == name and r.custom]
    # A plan of the one resource: a resource check reads nothing else, and parsing stays fast.
    alone = StackResult(result.stack, result.config, [resource], {}, [])
    path = tmp_path / "plan.json"
    path.write_text(tfplan.to_plan_json(alone))
    definitions, _ = parse_tf_plan(str(path), {})
    type_, _, tf_name = tfplan.addresses([resource])[resource.urn].partition(".")
    [conf] = [block[type_][tf_name] for block in definitions["resource"] if type_ in block and tf_name in block[type_]]
    check = importlib.import_module(f"checkov.terraform.checks.resource.aws.{check_module}").check
    return check.scan_resource_conf(conf).name


def _set(path: str, value: Any) -> Callable[[Resource], None]:
    def apply(r: Resource) -> None:
        *parents, last = path.split(".")
        target = r.inputs
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    return apply


FLIPS = [
    # (check id, checkov module, stack, resource, change, verdict before, verdict after)
    ("CKV_AWS_51", "ECRImmutableTags", "dev", "registry-repo", _set("imageTagMutability", "MUTABLE"), "PASSED", "FAILED"),
    ("CKV_AWS_163", "ECRImageScanning", "dev", "registry-repo", _set("imageScanningConfiguration.scanOnPush", False), "PASSED", "FAILED"),
    ("CKV_AWS_78", "CodeBuildProjectEncryption", "dev", "build-project", _set("artifacts.encryptionDisabled", True), "PASSED", "FAILED"),
    ("CKV_AWS_316", "CodeBuildPrivilegedMode", "dev", "build-project", _set("environment.privilegedMode", False), "FAILED", "PASSED"),
    ("CKV_AWS_131", "ALBDropHttpHeaders", "dev", "deploy-lb-alb", _set("dropInvalidHeaderFields", False), "PASSED", "FAILED"),
    ("CKV_AWS_150", "LBDeletionProtection", "dev", "deploy-lb-alb", _set("enableDeletionProtection", True), "FAILED", "PASSED"),
    ("CKV_AWS_158", "CloudWatchLogGroupKMSKey", "dev", "build-logs", _set("kmsKeyId", None), "PASSED", "FAILED"),
]


@pytest.mark.parametrize(("check_id", "module", "stack", "name", "change", "before", "after"), FLIPS, ids=[f[0] for f in FLIPS])
def test_one_pulumi_input_flips_the_checks_verdict(stacks, tmp_path, check_id, module, stack, name, change, before, after):
    result = stacks[stack]
    assert _check_result(result, name, module, tmp_path) == before
    flipped = copy.deepcopy(result)
    change(flipped.named(name))
    assert _check_result(flipped, name, module, tmp_path) == after


def test_a_connection_check_sees_the_separate_versioning_resource(stacks, scans):
    """CKV_AWS_21 (S3 versioning) passes on the bucket only through the reference from its
    aws_s3_bucket_versioning resource; without that resource the full scan fails the bucket."""
    address = "aws_s3_bucket.artifacts-bucket"
    assert all(f.resource != address for f in scans["dev"].failed if f.check_id == "CKV_AWS_21")
    flipped = copy.deepcopy(stacks["dev"])
    flipped.resources = [r for r in flipped.resources if r.type != "aws:s3/bucketVersioning:BucketVersioning"]
    _, failed, _ = checkov_scan.run_checkov(tfplan.to_plan(flipped))
    assert any(f.check_id == "CKV_AWS_21" and f.resource == address for f in failed)


def test_the_audit_bucket_passes_access_logging_through_its_bucket_logging_resource(stacks, scans):
    """CKV_AWS_18 (S3 access logging) passes on the audit bucket only through the reference from its
    aws_s3_bucket_logging resource; without that resource the full scan fails the bucket, and no
    exception covers it."""
    address = "aws_s3_bucket.audit-bucket"
    assert all(f.resource != address for f in scans["prod"].failed if f.check_id == "CKV_AWS_18")
    flipped = copy.deepcopy(stacks["prod"])
    flipped.resources = [r for r in flipped.resources if r.type != "aws:s3/bucketLogging:BucketLogging"]
    _, failed, _ = checkov_scan.run_checkov(tfplan.to_plan(flipped))
    [finding] = [f for f in failed if f.check_id == "CKV_AWS_18" and f.resource == address]
    assert not any(e.matches(finding, "prod") for e in checkov_scan.load_exceptions())


# ----------------------------------------------------------------------------------------------
# Exceptions


@pytest.mark.parametrize("label", list(STACKS))
def test_every_checkov_failure_is_fixed_or_excepted(scans, label):
    scan = scans[label]
    assert scan.passed > 100 and scan.failed
    assert [f"{f.check_id} {f.resource}: {f.check_name}" for f in scan.unexcepted] == []


def test_no_exception_is_stale(scans):
    """An entry that matches no failure of dev, prod or dev-on-EKS was fixed: remove it from the file."""
    stale = checkov_scan.stale_exceptions(checkov_scan.load_exceptions(), list(scans.values()))
    assert [f"{e.check_id} {e.resource}" for e in stale] == []


def test_every_exception_has_a_reason_and_a_known_stack():
    exceptions = checkov_scan.load_exceptions()
    assert exceptions
    for e in exceptions:
        assert len(e.reason) > 30, e
        assert set(e.stacks) <= {"dev", "prod"}, e


def test_docs_policy_shows_every_exception():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "policy.md").read_text()
    table = docs.split("### Exceptions\n", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| CKV")]
    assert rows == [f"| {e.check_id} | `{e.resource}` | {', '.join(e.stacks) or 'all'} | {e.reason} |" for e in checkov_scan.load_exceptions()]


def test_an_exception_without_a_reason_is_refused(tmp_path):
    path = tmp_path / "exceptions.yaml"
    path.write_text("exceptions:\n  - check: CKV_AWS_2\n    resource: aws_lb_listener.*\n")
    with pytest.raises(ValueError, match=r"exception #1 .* lacks reason; every entry needs check, resource and reason"):
        checkov_scan.load_exceptions(path)


def test_an_exception_matches_check_resource_glob_and_stack():
    finding = checkov_scan.Finding("CKV_AWS_150", "aws_lb.deploy-lb-alb", "deletion protection")
    only_dev = checkov_scan.Exception_("CKV_AWS_150", "aws_lb.*", ("dev",), "dev is destroyed freely")
    assert only_dev.matches(finding, "dev")
    assert not only_dev.matches(finding, "prod")
    assert not only_dev.matches(checkov_scan.Finding("CKV_AWS_91", "aws_lb.deploy-lb-alb", "logs"), "dev")
    judged = checkov_scan.judge("prod", 10, [finding], [only_dev])
    assert judged.unexcepted == [finding] and judged.excepted == []


# ----------------------------------------------------------------------------------------------
# The offline plan


def test_the_plan_reports_checkov_and_fails_on_a_failure_not_excepted(monkeypatch, evaluate, tmp_path, capsys):
    from offline import plan

    monkeypatch.setattr(plan, "evaluate_stack", lambda stack, overrides: evaluate(stack, **overrides))
    assert plan.main(["dev", "--out", str(tmp_path)]) == plan.EXIT_OK
    report = (tmp_path / "plan.md").read_text()
    section = report.split("## checkov\n", 1)[1].split("\n## ", 1)[0]
    assert "**PASS**" in section and "| `CKV_AWS_316` | `aws_codebuild_project.build-project` | The build project runs `docker build`" in section
    assert "- checkov: PASS" in report
    assert "checkov: PASS;" in capsys.readouterr().out

    monkeypatch.setattr(checkov_scan, "load_exceptions", lambda path=None: [])
    assert plan.main(["dev", "--out", str(tmp_path)]) == plan.EXIT_POLICY_VIOLATIONS
    err = capsys.readouterr().err
    assert "neither fixed nor excepted in policy/checkov-exceptions.yaml" in err
    assert "CKV_AWS_316 aws_codebuild_project.build-project" in err
    assert "Failures not excepted" in (tmp_path / "plan.md").read_text()
