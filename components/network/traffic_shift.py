"""The load balancer's part of ECS blue/green, canary and linear deployments: a production listener rule
that ECS re-weights between the two target groups, and a test listener whose rule reaches the new revision
before production traffic does.

Required resources (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html):
a primary and an alternate target group of the same settings, a production listener rule and (for test
traffic) a test listener rule; the service names them in loadBalancers[].advancedConfiguration.

- The production rule is a rule of its own on the serving listener, not the listener's default rule. ECS
  can take either (its infrastructure policy may modify listeners and rules), but a listener's default rule
  is no resource Pulumi manages: it is the listener's `default_actions`, and ignoring ECS's changes to it
  would also hide a target group change of a rolling stack. The default workload's rule matches every path, so
  the default action behind it is never reached while it exists; a routed workload's rule carries its route's
  conditions and priority.
- ECS rewrites both rules' forward actions to weighted target groups on every deployment (observed: CDK
  aws/aws-cdk#36649, terraform-aws-modules/terraform-aws-alb#409), so `actions` is in `ignore_changes`: a
  `pulumi up` after a deployment must not send traffic back to the target group ECS drained.
- The test listener (one per load balancer) answers 404 by default and forwards through its rules only
  (terraform-aws-ecs's blue/green example has the same shape): each shifting workload's test rule has the
  conditions and priority of its production rule, so the smoke test of a host-routed workload sends its host
  in the Host header and that of a path-routed one requests under its path (`TrafficShift.test_host`,
  `test_url`). It speaks plain HTTP on `testListenerPort`, even with a certificate: the smoke-test hook requests
  it by the load balancer's DNS name, which no certificate of the service names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# Every request path: the rules carry all of their listener's traffic.
ALL_PATHS = "/*"
# Traffic ECS moves: the primary target group holds it all until the first deployment.
PRODUCTION_WEIGHTS = (100, 0)
# Test traffic goes to the alternate target group, where the first deployment's new revision registers.
TEST_WEIGHTS = (0, 100)
# What a listener answers when no rule matches and no workload is its default.
NOT_FOUND: aws.lb.ListenerDefaultActionArgsDict = {
    "type": "fixed-response",
    "fixed_response": {"content_type": "text/plain", "message_body": "Not found", "status_code": "404"},
}


@dataclass(frozen=True)
class TrafficShiftArgs:
    test_listener_port: int
    """Load-balancer port of the test listener (testListenerPort)."""
    test_listener_cidrs: tuple[str, ...]
    """Who may reach the test listener besides the smoke-test hook (testListenerCidrs)."""
    hook_source_ips: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Public addresses the smoke-test hook's requests leave the VPC from (the created VPC's NAT gateways,
    or those looked up in an existing VPC); the test port opens to each as a /32. An address known as a
    string names its rule, so a changed address is a new rule, created before the old one is deleted.
    Omitted: none."""


@dataclass(frozen=True)
class TrafficShift:
    """What the service names in its advancedConfiguration, and what the smoke test requests."""

    alternate_target_group: aws.lb.TargetGroup
    production_rule: aws.lb.ListenerRule
    test_listener: aws.lb.Listener
    test_rule: aws.lb.ListenerRule
    test_url: pulumi.Output[str]
    """http://<load balancer DNS name>:<test port>, the smoke test's TEST_BASE_URL."""
    test_host: str | None = None
    """The Host header the smoke test sends: a host-routed workload's host. None: the load balancer's DNS name."""
    test_path_prefix: str = ""
    """What every path the smoke test requests starts with: a path-routed workload's prefix. Empty: none."""


def _weighted(primary_arn: pulumi.Input[str], alternate_arn: pulumi.Input[str], weights: tuple[int, int]) -> list[aws.lb.ListenerRuleActionArgsDict]:
    return [
        {
            "type": "forward",
            "forward": {"target_groups": [{"arn": primary_arn, "weight": weights[0]}, {"arn": alternate_arn, "weight": weights[1]}]},
        }
    ]


def _hook_source(name: str, port: int, i: int, ip: pulumi.Input[str]) -> tuple[str, pulumi.Input[str], str]:
    """A created NAT gateway's address is unknown until it exists: its rule is named by position. A looked-up
    address names its own rule: when it changes, the next `pulumi up` creates the new address's rule and
    then deletes the old one, and an unchanged address keeps its rule (a rule renamed by position instead
    could be updated to a source another rule still holds, which EC2 refuses as a duplicate)."""
    if isinstance(ip, str):
        return (f"{name}-alb-in-test-hook-{ip.replace('.', '-')}", f"{ip}/32", f"Test port {port} from the smoke-test hook (NAT address {ip})")
    return (f"{name}-alb-in-test-hook-{i}", pulumi.Output.concat(ip, "/32"), f"Test port {port} from the smoke-test hook (NAT gateway {i})")


def test_listener(name: str, args: TrafficShiftArgs, *, alb: aws.lb.LoadBalancer, alb_sg: aws.ec2.SecurityGroup, tags: dict[str, str]) -> aws.lb.Listener:
    """The load balancer's one test listener (404 unless a test rule matches) and the test port's ingress rules on
    its security group: from `test_listener_cidrs` and from the smoke-test hook's addresses."""
    listener = aws.lb.Listener(
        f"{name}-test",
        load_balancer_arn=alb.arn,
        port=args.test_listener_port,
        protocol="HTTP",
        default_actions=[NOT_FOUND],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=alb),
    )
    port = args.test_listener_port
    sources: list[tuple[str, pulumi.Input[str], str]] = [(f"{name}-alb-in-test-{i}", cidr, f"Test port {port} from {cidr}") for i, cidr in enumerate(args.test_listener_cidrs)]
    sources += [_hook_source(name, port, i, ip) for i, ip in enumerate(args.hook_source_ips)]
    for resource_name, cidr, description in sources:
        ipv6 = isinstance(cidr, str) and ":" in cidr
        aws.vpc.SecurityGroupIngressRule(
            resource_name,
            security_group_id=alb_sg.id,
            description=description,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=None if ipv6 else cidr,
            cidr_ipv6=cidr if ipv6 else None,
            opts=pulumi.ResourceOptions(parent=alb_sg),
        )
    return listener


def shift_rules(
    name: str,
    *,
    alb: aws.lb.LoadBalancer,
    serving_listener: aws.lb.Listener,
    test: aws.lb.Listener,
    test_port: int,
    primary: aws.lb.TargetGroup,
    alternate: aws.lb.TargetGroup,
    priority: pulumi.Input[int],
    conditions: list[aws.lb.ListenerRuleConditionArgsDict],
    test_host: str | None,
    path_prefix: str,
    tags: dict[str, str],
) -> TrafficShift:
    """The production rule on `serving_listener` and the test rule on the test listener `test`: the same
    `conditions` at the same `priority` (a routed workload's route; the default workload's every path)."""
    in_alb = pulumi.ResourceOptions(parent=alb, ignore_changes=["actions"])
    production_rule = aws.lb.ListenerRule(
        f"{name}-production-rule",
        listener_arn=serving_listener.arn,
        priority=priority,
        actions=_weighted(primary.arn, alternate.arn, PRODUCTION_WEIGHTS),
        conditions=conditions,
        tags=tags,
        opts=in_alb,
    )
    test_rule = aws.lb.ListenerRule(
        f"{name}-test-rule",
        listener_arn=test.arn,
        priority=priority,
        actions=_weighted(primary.arn, alternate.arn, TEST_WEIGHTS),
        conditions=conditions,
        tags=tags,
        opts=in_alb,
    )
    return TrafficShift(
        alternate_target_group=alternate,
        production_rule=production_rule,
        test_listener=test,
        test_rule=test_rule,
        test_url=pulumi.Output.concat("http://", alb.dns_name, f":{test_port}"),
        test_host=test_host,
        test_path_prefix=path_prefix,
    )
