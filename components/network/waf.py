"""The ALB's WAFv2 web ACL: AWS managed rule groups and a per-IP rate limit, in front of the service."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# AWS managed rule groups with no subscription fee (each is one rule of the web ACL): the common
# (OWASP-style) rules, known bad inputs (e.g. Log4j lookups), and Amazon's IP reputation list.
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList")
# Requests one client IP may send in WAF's default 5-minute evaluation window before it is blocked.
RATE_LIMIT_PER_5_MINUTES = 2000


def web_acl_rules(metric_prefix: str) -> list[dict]:
    """The web ACL's rules in the WAFv2 API's shape (PascalCase, as the provider's rule_json takes them)."""
    rules: list[dict] = [
        {
            "Name": group,
            "Priority": priority,
            "OverrideAction": {"None": {}},
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": group}},
            "VisibilityConfig": visibility(f"{metric_prefix}-{group}"),
        }
        for priority, group in enumerate(MANAGED_RULE_GROUPS)
    ]
    rules.append(
        {
            "Name": "RateLimitPerIp",
            "Priority": len(MANAGED_RULE_GROUPS),
            "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": {"Limit": RATE_LIMIT_PER_5_MINUTES, "AggregateKeyType": "IP"}},
            "VisibilityConfig": visibility(f"{metric_prefix}-rate-limit"),
        }
    )
    return rules


def visibility(metric: str) -> dict:
    """CloudWatch metrics and sampled requests for one rule or the whole web ACL."""
    return {"CloudWatchMetricsEnabled": True, "MetricName": metric, "SampledRequestsEnabled": True}


def web_acl(name: str, *, metric_prefix: str, load_balancer_arn: pulumi.Input[str], parent: pulumi.Resource, tags: dict[str, str]) -> aws.wafv2.WebAcl:
    """A regional web ACL named `metric_prefix` that allows what no rule blocks, associated with the load balancer."""
    acl = aws.wafv2.WebAcl(
        f"{name}-waf",
        name=metric_prefix,
        scope="REGIONAL",
        default_action={"allow": {}},
        rule_json=pulumi.Output.json_dumps(web_acl_rules(metric_prefix)),
        visibility_config={"cloudwatch_metrics_enabled": True, "metric_name": metric_prefix, "sampled_requests_enabled": True},
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.wafv2.WebAclAssociation(
        f"{name}-waf-association",
        resource_arn=load_balancer_arn,
        web_acl_arn=acl.arn,
        opts=pulumi.ResourceOptions(parent=acl),
    )
    return acl
