"""checkov over the evaluated stacks: the Terraform-plan conversion (offline/tfplan.py), the scan and its
exceptions (offline/checkov_scan.py, policy/checkov-exceptions.yaml), and flips that show the conversion
carries what checkov reads: change one Pulumi input and the check's verdict changes."""

from __future__ import annotations

import copy
import json
import re
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
    "aws:signer/signingProfile:SigningProfile": "aws_signer_signing_profile",
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


@pytest.fixture(scope="module")
def services_scan() -> checkov_scan.ScanResult:
    """The full scan of examples/Pulumi.services.yaml (three services on a CodeCommit monorepo, as CI plans it): the
    resources only a stack with `services` has (the path router, each service's own copies)."""
    from tests.test_examples import example

    return checkov_scan.scan(example("services"))


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
    # A whole number as Terraform writes it: as the engine's float (14.0) checkov cannot judge it.
    ("CKV_AWS_338", "CloudWatchLogGroupRetentionYear", "dev", "build-logs", _set("retentionInDays", 365), "FAILED", "PASSED"),
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
    assert not any(e.matches(finding, checkov_scan.stack_settings(stacks["prod"])) for e in checkov_scan.load_exceptions())


def test_the_trail_reaches_its_log_group_through_the_stream_wildcard_arn(stacks, scans):
    """CKV2_AWS_10 (CloudTrail to CloudWatch Logs) passes only through the reference from the trail's
    `<log group ARN>:*` to the log group; without the log group the full scan fails the trail."""
    _, _, expressions = _values(stacks["prod"], "audit-trail")
    assert expressions["cloud_watch_logs_group_arn"] == {"references": ["aws_cloudwatch_log_group.audit-logs.arn", "aws_cloudwatch_log_group.audit-logs"]}
    assert all(f.check_id != "CKV2_AWS_10" for f in scans["prod"].failed)
    flipped = copy.deepcopy(stacks["prod"])
    flipped.resources = [r for r in flipped.resources if r.name != "audit-logs"]
    _, failed, _ = checkov_scan.run_checkov(tfplan.to_plan(flipped))
    assert [f.resource for f in failed if f.check_id == "CKV2_AWS_10"] == ["aws_cloudtrail.audit-trail"]


# ----------------------------------------------------------------------------------------------
# Exceptions


@pytest.mark.parametrize("label", list(STACKS))
def test_every_checkov_failure_is_fixed_or_excepted(scans, label):
    scan = scans[label]
    assert scan.passed > 100 and scan.failed
    assert [f"{f.check_id} {f.resource}: {f.check_name}" for f in scan.unexcepted] == []


def test_every_checkov_failure_of_a_stack_with_services_is_fixed_or_excepted(services_scan):
    """Each service's own resources (`api-deploy-verify-function`) are excepted as a one-service stack's are, and the
    path router has its own entries: CI's plan of the services example exits 0."""
    assert services_scan.passed > 100 and services_scan.failed
    assert any(f.resource == "aws_lambda_function.api-deploy-verify-function" for f, _ in services_scan.excepted)
    assert [f"{f.check_id} {f.resource}: {f.check_name}" for f in services_scan.unexcepted] == []


def test_a_services_resource_is_judged_as_its_service_never_by_a_shorter_name():
    """`api-v2-...` belongs to api-v2, not api; a shared resource is judged under the stack's settings."""
    settings = _settings(services=json.dumps([{"name": "api", "paths": ["/api/*"]}, {"name": "api-v2", "paths": ["/v2/*"], "ecsCpu": 512, "ecsMemory": 1024}]))
    finding = checkov_scan.Finding("CKV_AWS_50", "aws_lambda_function.api-v2-deploy-verify-function", "x")
    judged, service = checkov_scan.as_judged(finding, settings)
    assert judged.resource == "aws_lambda_function.deploy-verify-function" and service.service_name == "api-v2" and service.ecs is not None and service.ecs.cpu == 512
    shared = checkov_scan.Finding("CKV_AWS_150", "aws_lb.deploy-lb-alb", "x")
    assert checkov_scan.as_judged(shared, settings) == (shared, settings)
    # Only a named service's prefix is removed: a one-service stack's names are judged as they are.
    assert checkov_scan.as_judged(finding, _settings()) == (finding, _settings())


def test_no_exception_is_stale(scans, services_scan):
    """An entry that matches no failure of dev, prod, dev-on-EKS, dev-canary or the services example was fixed:
    remove it from the file."""
    stale = checkov_scan.stale_exceptions(checkov_scan.load_exceptions(), [*scans.values(), services_scan])
    assert [f"{e.check_id} {e.resource}" for e in stale] == []


def test_every_exception_has_a_reason_and_no_stack_names():
    exceptions = checkov_scan.load_exceptions()
    assert exceptions
    for e in exceptions:
        assert len(e.reason) > 30, e
    assert "stacks:" not in checkov_scan.EXCEPTIONS_FILE.read_text()


def test_docs_policy_shows_every_exception():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "policy.md").read_text()
    table = docs.split("### Exceptions\n", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| CKV")]
    assert rows == [f"| {e.check_id} | `{e.resource}` | {e.when_text or 'always'} | {e.reason} |" for e in checkov_scan.load_exceptions()]


def test_docs_policy_numbers_are_the_codes(stacks, scans):
    """Every number docs/policy.md states about the pack and the scan."""
    from pathlib import Path

    from components.safety.audit import ABORT_INCOMPLETE_UPLOAD_DAYS
    from components.settings import KEYS
    from offline import cost
    from policy.rules import RULES

    # Inline facts (`<!-- fact:NAME -->value<!-- /fact -->`, offline/doc_numbers.py) read as their value.
    docs = re.sub(r"<!-- /?fact(?::[\w-]+)? -->", "", (Path(__file__).resolve().parent.parent / "docs" / "policy.md").read_text())
    assert f"policy pack: {len(RULES)} mandatory rules" in docs
    dev = scans["dev"]
    assert f"the same result, {dev.passed} passed and {len(dev.failed)} failed for dev," in docs
    minor = ".".join(dev.checkov_version.split(".")[:2])
    assert f"runs [checkov](https://www.checkov.io/) {minor} (a dev requirement)" in docs and f"checkov {minor}'s list" in docs
    version = KEYS["eksKubernetesVersion"].default
    assert f"ends before our {version} (CKV_AWS_339" in docs and f"The cluster version ({version}) is newer" in docs
    [acl] = stacks["prod"].of_type("aws:wafv2/webAcl:WebAcl")
    rules = len(json.loads(acl.inputs["ruleJson"]))
    assert f"costs about ${cost.WAF_WEB_ACL_MONTH + cost.WAF_RULE_MONTH * rules:.0f} a month" in docs
    assert f"after 1 day; {ABORT_INCOMPLETE_UPLOAD_DAYS} days on the audit" in docs


def test_an_exception_without_a_reason_is_refused(tmp_path):
    path = tmp_path / "exceptions.yaml"
    path.write_text("exceptions:\n  - check: CKV_AWS_2\n    resource: aws_lb_listener.*\n")
    with pytest.raises(ValueError, match=r"exception #1 .* lacks reason; every entry needs check, resource and reason"):
        checkov_scan.load_exceptions(path)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("stacks: [dev]", "exception #1 (CKV_AWS_150 aws_lb.*): unknown key 'stacks'; scope it by what the stack is, e.g. `when: {production: false}`"),
        ("scope: dev", "exception #1 (CKV_AWS_150 aws_lb.*): unknown key 'scope'; use only check, resource, when, reason"),
        ("when: dev", "exception #1 (CKV_AWS_150 aws_lb.*): when is 'dev'; write settings and their values, e.g. `when: {production: false}`"),
        ("when: {prod: false}", "when: 'prod' is not a setting; Settings has artifact_expiry_days, build, deploy_target, "),
        ("when: {network.wafs: false}", "when: 'network.wafs' is not a setting; network has alb_access_logs, alb_deletion_protection, "),
        ("when: {production: 'no'}", "when: production is true or false, not 'no'"),
        ("when: {production: null}", "when: production is never null"),
        ("when: {deploy_target: fargate}", "when: deploy_target is one of 'ecs', 'eks', not 'fargate'"),
        ("when: {network: false}", "when: network is a group or a list of settings; name one setting of it"),
        ("when: {ecs.cpu: big}", "when: ecs.cpu is a number, not 'big'"),
    ],
)
def test_an_exception_scoped_by_anything_but_a_setting_and_its_value_is_refused(tmp_path, entry, message):
    path = tmp_path / "exceptions.yaml"
    path.write_text(f"exceptions:\n  - check: CKV_AWS_150\n    resource: aws_lb.*\n    {entry}\n    reason: a reason long enough to read\n")
    with pytest.raises(ValueError) as raised:
        checkov_scan.load_exceptions(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith("exceptions.yaml: ")


def _settings(stack: str = "dev", **raw):
    from components.settings import PROJECT, parse_settings

    return parse_settings(raw, PROJECT, stack)


def test_an_exception_matches_check_resource_glob_and_settings_never_the_name():
    finding = checkov_scan.Finding("CKV_AWS_150", "aws_lb.deploy-lb-alb", "deletion protection")
    outside_production = checkov_scan.Exception_("CKV_AWS_150", "aws_lb.*", (("production", False),), "a stack outside production is destroyed freely")
    for name in ("dev", "staging", "prod", "gh"):
        assert outside_production.matches(finding, _settings(name))
        assert not outside_production.matches(finding, _settings(name, production=True, allowPlainHttp=True))
    assert not outside_production.matches(checkov_scan.Finding("CKV_AWS_91", "aws_lb.deploy-lb-alb", "logs"), _settings())
    judged = checkov_scan.judge(_settings("prod", production=True, allowPlainHttp=True), 10, [finding], [outside_production])
    assert judged.stack == "prod" and judged.unexcepted == [finding] and judged.excepted == []
    # Every condition must hold; an enum setting compares by its config spelling, a missing one as null.
    both = checkov_scan.Exception_("CKV_AWS_150", "aws_lb.*", (("production", False), ("deploy_target", "eks"), ("network.certificate_arn", None)), "x" * 40)
    assert both.matches(finding, _settings(deployTarget="eks")) and not both.matches(finding, _settings())
    assert checkov_scan.setting_value(_settings(deployTarget="eks"), "ecs.cpu") is None


def test_a_stack_of_any_name_configured_like_dev_is_judged_like_dev(scans):
    """The plan of a copy of dev under another name (`cp Pulumi.dev.yaml Pulumi.staging.yaml`) excepts
    exactly what dev's does: the same failures, judged by the same settings."""
    from offline.stackfile import stack_config

    dev = scans["dev"]
    raw = {k.split(":", 1)[1]: v for k, v in stack_config("dev").items() if k.startswith("container-cicd:")}
    staging = checkov_scan.judge(_settings("staging", **raw), dev.passed, dev.failed, checkov_scan.load_exceptions())
    assert staging.stack == "staging" and staging.unexcepted == [] and staging.excepted == dev.excepted


@pytest.mark.parametrize(("setting", "check"), [("waf", "CKV2_AWS_28"), ("albAccessLogs", "CKV_AWS_91"), ("albDeletionProtection", "CKV_AWS_150")])
def test_a_production_stack_that_turns_off_what_production_turns_on_fails_the_plan(setting, check):
    """Outside production the load balancer's extras are a cost choice (excepted); a production stack that
    turns one off is not excepted, so its plan exits 3."""
    finding = checkov_scan.Finding(check, "aws_lb.deploy-lb-alb", "")
    exceptions = checkov_scan.load_exceptions()
    assert checkov_scan.judge(_settings(**{setting: "off"}), 1, [finding], exceptions).unexcepted == []
    production = _settings("prod", production=True, allowPlainHttp=True, **{setting: "off"})
    assert checkov_scan.judge(production, 1, [finding], exceptions).unexcepted == [finding]


def test_ci_plans_the_stacks_scanned_here_a_renamed_dev_and_every_example():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = (root / ".ci" / "run").read_text()
    plans = re.findall(r"^\s*\.venv/bin/python -m offline\.plan (.+)$", run, re.MULTILINE)
    scanned = [
        stack + "".join(f" --set {k}={v}" for k, v in overrides.items()) + ("" if label == stack else f" --out plan-out/{label}") for label, (stack, overrides) in STACKS.items()
    ]
    assert plans == [*scanned, '"$stack" --out "plan-out/$stack"']
    assert "for source in examples/Pulumi.*.yaml Pulumi.dev.yaml; do" in run and "stack=ci-staging" in run
    docs = (root / "docs" / "plan.md").read_text()
    for stack, overrides in STACKS.values():
        assert f"`{stack}" + "".join(f" --set {k}={v}" for k, v in overrides.items()) + "`" in docs
    assert "a copy of dev under another stack name\n(`ci-staging`) and a copy of every file in `examples/`" in docs


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
