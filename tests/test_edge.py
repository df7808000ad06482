"""The service's edge: HTTPS or plain HTTP opted into by name, ALB access logs, the WAF web ACL; dev stays cheap."""

from __future__ import annotations

import json
import re

import pytest

from components.network.access_logs import ELB_ACCOUNTS, LOG_DELIVERY_SERVICE, log_writer
from components.network.loadbalancer import TLS_POLICY
from components.network.waf import MANAGED_RULE_GROUPS, RATE_LIMIT_PER_5_MINUTES, web_acl_rules
from components.settings import SettingsError, parse_settings
from policy import rules
from policy.rules import Subject, subjects
from tests.aws_models import assert_valid, validate

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
DOMAIN = "app.example.com"
BUCKET = "aws:s3/bucket:Bucket"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"


def parse(**raw):
    return parse_settings(raw, "container-cicd", "prod", "us-east-1")


def _children(result, parent):
    return [r for r in result.resources if r.parent_urn == parent.ref]


def _log_bucket(result):
    return result.named("deploy-lb-access-logs")


# ------------------------------------------------------------------------------------------
# HTTPS or plain HTTP by name
# ------------------------------------------------------------------------------------------


def test_production_without_a_certificate_is_refused():
    with pytest.raises(SettingsError) as refused:
        parse(production=True)
    assert str(refused.value) == (
        "certificateArn: '' is not valid; a production stack serves HTTPS, which needs an ACM certificate. "
        "Fix: set certificateArn to an ACM certificate in the stack's region, or allowPlainHttp: true to accept plain HTTP"
    )


def test_production_with_a_certificate_or_plain_http_opted_into_is_accepted():
    assert parse(production=True, certificateArn=CERTIFICATE, serviceDomain=DOMAIN).network.certificate_arn == CERTIFICATE
    assert parse(production=True, allowPlainHttp=True).network.certificate_arn is None


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({}, "only production stacks refuse plain HTTP"),
        ({"production": True, "certificateArn": CERTIFICATE, "serviceDomain": DOMAIN}, "with certificateArn, HTTP already redirects to HTTPS"),
    ],
)
def test_allow_plain_http_where_it_has_no_effect_is_refused(raw, why):
    with pytest.raises(SettingsError) as refused:
        parse(allowPlainHttp=True, **raw)
    assert str(refused.value) == f"allowPlainHttp: true is not valid; it has no effect here: {why}. Fix: remove allowPlainHttp (`pulumi config rm allowPlainHttp`)"


def test_the_shipped_prod_stack_opts_into_plain_http_by_name(prod):
    assert prod.config["container-cicd:allowPlainHttp"] is True
    listeners = prod.of_type(LISTENER)
    assert [(r.inputs["port"], r.inputs["protocol"]) for r in listeners] == [(80, "HTTP")]
    assert prod.outputs["serviceUrl"].startswith("http://")


def test_with_a_certificate_https_uses_the_tls_policy_and_http_redirects(evaluate):
    result = evaluate("prod", certificateArn=CERTIFICATE, serviceDomain=DOMAIN, allowPlainHttp=False)
    listeners = {r.inputs["port"]: r.inputs for r in result.of_type(LISTENER)}
    assert sorted(listeners) == [80, 443]
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["sslPolicy"] == TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[443]["certificateArn"] == CERTIFICATE
    assert listeners[80]["defaultActions"] == [{"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}}]
    assert result.outputs["serviceUrl"] == "https://app.example.com"


# ------------------------------------------------------------------------------------------
# Access logs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "production", "on"), [("auto", False, False), ("auto", True, True), ("on", False, True), ("off", True, False)])
def test_access_logs_follow_production_unless_set(value, production, on):
    extra = {"production": True, "allowPlainHttp": True} if production else {}
    assert parse(albAccessLogs=value, **extra).network.alb_access_logs is on


def test_production_alb_writes_access_logs_after_the_bucket_policy(prod):
    alb = prod.one(ALB)
    bucket = _log_bucket(prod)
    policy = prod.named("deploy-lb-access-logs-policy")
    assert alb.inputs["accessLogs"] == {"bucket": bucket.outputs["bucket"], "prefix": "alb", "enabled": True}
    # ELB checks it may write to the bucket when logging is enabled: the policy must exist first.
    assert policy.ref in alb.depends_on


def test_access_log_bucket_is_private_sse_s3_tls_only_and_expires(prod):
    bucket = _log_bucket(prod)
    assert bucket.protect is True and bucket.inputs["forceDestroy"] is False
    children = {r.type.rsplit(":", 1)[1]: r.inputs for r in _children(prod, bucket)}
    assert sorted(children) == [
        "BucketLifecycleConfiguration",
        "BucketOwnershipControls",
        "BucketPolicy",
        "BucketPublicAccessBlock",
        "BucketServerSideEncryptionConfiguration",
        "BucketVersioning",
    ]
    assert all(children["BucketPublicAccessBlock"][flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert children["BucketOwnershipControls"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    # SSE-S3: the only encryption ELB access logs support.
    assert children["BucketServerSideEncryptionConfiguration"]["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    [rule] = children["BucketLifecycleConfiguration"]["rules"]
    assert rule["status"] == "Enabled" and rule["expiration"] == {"days": 90}  # prod's logRetentionDays
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 1}


def test_access_log_bucket_policy_denies_plain_http_and_lets_only_elb_write(prod):
    bucket = _log_bucket(prod)
    document = json.loads(prod.named("deploy-lb-access-logs-policy").inputs["policy"])
    deny, write = document["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert write == {
        "Sid": "ElbAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::127311923021:root"},  # us-east-1's ELB account
        "Action": "s3:PutObject",
        "Resource": f"{bucket.outputs['arn']}/alb/AWSLogs/123456789012/*",
    }


def test_a_region_without_an_elb_account_grants_the_log_delivery_service(evaluate):
    # Building: prod promotes from dev, which runs in us-east-1, and a promotion stays in one region.
    result = evaluate("prod", promoteFrom=None, **{"aws:region": "ap-southeast-7"})
    document = json.loads(result.named("deploy-lb-access-logs-policy").inputs["policy"])
    assert document["Statement"][1]["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def test_log_writer_picks_the_regional_account_else_the_service():
    assert log_writer("127311923021", "arn:aws:iam::127311923021:root") == {"AWS": "arn:aws:iam::127311923021:root"}
    assert log_writer("", "") == {"Service": LOG_DELIVERY_SERVICE}
    assert ELB_ACCOUNTS["us-east-1"] == "127311923021"
    assert all(re.fullmatch(r"\d{12}", a) for a in ELB_ACCOUNTS.values())


def test_dev_access_logs_on_request_are_not_protected(evaluate):
    result = evaluate("dev", albAccessLogs="on")
    assert _log_bucket(result).protect is False and _log_bucket(result).inputs["forceDestroy"] is False
    assert result.one(ALB).inputs["accessLogs"]["enabled"] is True


def test_policy_exempts_only_an_alb_access_log_bucket_from_kms(prod):
    stack = subjects(prod.resources)
    assert rules.s3_kms_encryption(stack) == []
    without_alb = [s for s in stack if s.type != ALB]
    assert [urn for urn, _ in rules.s3_kms_encryption(without_alb)] == [_log_bucket(prod).urn]
    other = Subject(BUCKET, "other", "urn:other", {"bucket": "other"})
    other_sse = Subject(rules.S3_ENCRYPTION[0], "other-sse", "urn:other-sse", {"bucket": "other", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]})
    assert [urn for urn, _ in rules.s3_kms_encryption([*stack, other, other_sse])] == ["urn:other"]


# ------------------------------------------------------------------------------------------
# WAF
# ------------------------------------------------------------------------------------------


def test_production_alb_has_a_waf_web_acl(prod):
    acl = prod.one(WEB_ACL)
    assert acl.inputs["scope"] == "REGIONAL" and acl.inputs["defaultAction"] == {"allow": {}}
    assert acl.inputs["name"] == "container-cicd-prod-app-waf"
    managed = [r for r in json.loads(acl.inputs["ruleJson"]) if "ManagedRuleGroupStatement" in r["Statement"]]
    assert [r["Statement"]["ManagedRuleGroupStatement"] for r in managed] == [{"VendorName": "AWS", "Name": group} for group in MANAGED_RULE_GROUPS]
    assert set(MANAGED_RULE_GROUPS) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"}
    association = prod.one(ASSOCIATION)
    assert association.inputs == {"resourceArn": prod.one(ALB).outputs["arn"], "webAclArn": acl.outputs["arn"]}


def test_web_acl_rules_block_by_rate_and_keep_managed_rule_actions():
    by_name = {r["Name"]: r for r in web_acl_rules("p")}
    assert by_name["RateLimitPerIp"]["Action"] == {"Block": {}}
    assert by_name["RateLimitPerIp"]["Statement"] == {"RateBasedStatement": {"Limit": RATE_LIMIT_PER_5_MINUTES, "AggregateKeyType": "IP"}}
    assert all(by_name[g]["OverrideAction"] == {"None": {}} for g in MANAGED_RULE_GROUPS)
    assert sorted(r["Priority"] for r in by_name.values()) == [0, 1, 2, 3]


def _create_web_acl_request(acl) -> dict:
    visibility = acl.inputs["visibilityConfig"]
    return {
        "Name": acl.inputs["name"],
        "Scope": acl.inputs["scope"],
        "DefaultAction": {"Allow": {}},
        "Rules": json.loads(acl.inputs["ruleJson"]),
        "VisibilityConfig": {
            "SampledRequestsEnabled": visibility["sampledRequestsEnabled"],
            "CloudWatchMetricsEnabled": visibility["cloudwatchMetricsEnabled"],
            "MetricName": visibility["metricName"],
        },
    }


def test_web_acl_is_a_valid_create_web_acl_request(prod):
    assert_valid("wafv2", "CreateWebACL", _create_web_acl_request(prod.one(WEB_ACL)))


def test_the_model_check_would_catch_a_bad_rule(prod):
    request = _create_web_acl_request(prod.one(WEB_ACL))
    request["Rules"][-1]["Statement"]["RateBasedStatement"]["AggregateKeyType"] = "EVERYONE"
    request["Rules"][-1]["Statement"]["RateBasedStatement"]["Limit"] = 1
    assert len(validate("wafv2", "CreateWebACL", request)) >= 2


@pytest.mark.parametrize(("value", "production", "on"), [("auto", False, False), ("auto", True, True), ("on", False, True), ("off", True, False)])
def test_waf_follows_production_unless_set(value, production, on):
    extra = {"production": True, "allowPlainHttp": True} if production else {}
    assert parse(waf=value, **extra).network.waf is on


def test_prod_can_turn_the_edge_extras_off(evaluate):
    result = evaluate("prod", waf="off", albAccessLogs="off", albDeletionProtection="off")
    assert result.of_type(WEB_ACL) == [] and result.of_type(ASSOCIATION) == []
    assert "accessLogs" not in result.one(ALB).inputs
    assert result.one(ALB).inputs["enableDeletionProtection"] is False


# ------------------------------------------------------------------------------------------
# Deletion protection
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "production", "on"), [("auto", False, False), ("auto", True, True), ("on", False, True), ("off", True, False)])
def test_deletion_protection_follows_production_unless_set(value, production, on):
    extra = {"production": True, "allowPlainHttp": True} if production else {}
    assert parse(albDeletionProtection=value, **extra).network.alb_deletion_protection is on


def test_deletion_protection_outside_production_on_request(evaluate, dev, prod):
    assert dev.one(ALB).inputs["enableDeletionProtection"] is False and prod.one(ALB).inputs["enableDeletionProtection"] is True
    result = evaluate("dev", albDeletionProtection="on")
    assert result.one(ALB).inputs["enableDeletionProtection"] is True
    # Only the load balancer: dev's registry, buckets and log groups stay unprotected.
    assert [r.name for r in result.resources if r.protect] == []


def test_deletion_protection_takes_only_auto_on_or_off():
    with pytest.raises(SettingsError, match=r"albDeletionProtection: 'yes' is not supported; use 'auto', 'on' or 'off'"):
        parse(albDeletionProtection="yes")


# ------------------------------------------------------------------------------------------
# Dev stays cheap
# ------------------------------------------------------------------------------------------


def test_dev_has_no_waf_and_no_access_log_bucket(dev):
    assert dev.of_type(WEB_ACL) == [] and dev.of_type(ASSOCIATION) == []
    assert "accessLogs" not in dev.one(ALB).inputs
    assert not [r for r in dev.of_type(BUCKET) if "access-logs" in r.name]


def test_dev_waf_on_request(evaluate):
    result = evaluate("dev", waf="on")
    assert len(result.of_type(WEB_ACL)) == 1 and len(result.of_type(ASSOCIATION)) == 1


def test_the_web_acl_costs_five_dollars_and_one_per_rule(prod, dev, evaluate):
    from offline.cost import estimate

    lines = {line.item: line.monthly for line in estimate(prod).lines}
    assert lines["WAF web ACL (4 rules)"] == 9.00
    notes = estimate(prod).notes
    assert "WAF requests: $0.60 per million inspected" in notes
    assert "ALB access logs: S3 storage only ($0.023 per GB-month), delivery is free" in notes
    assert not [item for item in (line.item for line in estimate(dev).lines) if item.startswith("WAF")]
    assert not [n for n in estimate(dev).notes if n.startswith(("WAF", "ALB access logs"))]
