"""The service's name: serviceDomain is the URL's host (the one a certificate can cover), hostedZoneId makes the
stack create its Route 53 alias record to the load balancer."""

from __future__ import annotations

import pytest

from components.network.dns import zone_problem
from components.settings import KEYS, SettingsError, dns_name_problem, parse_settings
from offline.changes import plan_change
from offline.interruptions import interruptions
from offline.plan.sections import stack_settings
from offline.tfplan import to_plan
from tests.aws_models import assert_valid, validate

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
DOMAIN = "app.example.com"
ZONE = "Z0123456789ABCDEFGHIJ"
RECORD = "aws:route53/record:Record"
ALB = "aws:lb/loadBalancer:LoadBalancer"


def parse(**raw):
    return parse_settings(raw, "container-cicd", "dev", "us-east-1")


def refused(**raw) -> str:
    with pytest.raises(SettingsError) as error:
        parse(**raw)
    return str(error.value)


# ------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------


def test_a_certificate_without_a_name_is_refused_with_the_fix():
    """The load balancer's own *.elb.amazonaws.com name is covered by no certificate of the user's: an https:// URL on
    it fails every client's certificate check, so a stack that sets certificateArn today gets this error, not that URL."""
    assert refused(certificateArn=CERTIFICATE) == (
        "serviceDomain: '' is not valid; with certificateArn the service URL needs a name the certificate covers, and the load "
        "balancer's own DNS name (*.elb.amazonaws.com) is not one. Fix: set serviceDomain to the name the certificate is issued for "
        "(`pulumi config set serviceDomain app.example.com`) and point it at the load balancer, or set hostedZoneId too and the "
        "stack creates that record"
    )


def test_the_name_and_zone_are_read_and_default_to_none():
    network = parse(certificateArn=CERTIFICATE, serviceDomain=DOMAIN, hostedZoneId=ZONE).network
    assert (network.certificate_arn, network.service_domain, network.hosted_zone_id) == (CERTIFICATE, DOMAIN, ZONE)
    assert (parse().network.service_domain, parse().network.hosted_zone_id) == (None, None)
    # A name without a certificate: plain HTTP on a name of the user's is a valid choice too.
    assert parse(serviceDomain=DOMAIN).network.service_domain == DOMAIN
    assert KEYS["serviceDomain"].default == "" and KEYS["hostedZoneId"].default == ""


@pytest.mark.parametrize(
    "name",
    ["example.com", DOMAIN, "xn--bcher-kva.example", "a-b.c0.example.co.uk", "1.example.com", f"{'a' * 63}.example.com", ".".join(["a" * 63] * 3 + ["b" * 61])],
)
def test_host_names_are_accepted(name):
    assert len(name) <= 253
    assert dns_name_problem(name) is None
    assert parse(serviceDomain=name).network.service_domain == name


@pytest.mark.parametrize(
    ("name", "problem", "fix"),
    [
        ("https://app.example.com/", "a host name, not a URL", "set it to 'app.example.com'"),
        (" app.example.com", "it has leading or trailing spaces", "set it to 'app.example.com'"),
        ("app.example.com.", "written without the trailing dot", "set it to 'app.example.com'"),
        ("App.Example.com", "lower case only", "set it to 'app.example.com'"),
        ("*.example.com", "a wildcard names no host", "set it to a name such as 'app.example.com'"),
        ("localhost", "the full name, with its domain", "set it to a name such as 'localhost.example.com'"),
        ("app..example.com", "an empty label (two dots in a row, or a leading dot)", "set it to 'app.example.com'"),
        (".app.example.com", "an empty label (two dots in a row, or a leading dot)", "set it to 'app.example.com'"),
        (f"{'a' * 64}.example.com", "a label has at most 63 characters, 'aaaaaaaaaaaa'... has 64", "shorten that label"),
        ("-app.example.com", "label '-app': letters, digits and '-' only, not first or last", "correct that label"),
        ("app_1.example.com", "label 'app_1': letters, digits and '-' only, not first or last", "correct that label"),
        ("app.example.com:443", "label 'com:443': letters, digits and '-' only, not first or last", "correct that label"),
        ("203.0.113.10", "an address is no domain name (the last label is all digits)", "set it to the name clients use, e.g. 'app.example.com'"),
        ("my-alb-1234567890.us-east-1.elb.amazonaws.com", "an AWS-owned name (such as the load balancer's own)", "set it to a name of your domain, e.g. 'app.example.com'"),
        ("app.elb.amazonaws.com.cn", "an AWS-owned name", "set it to a name of your domain"),
    ],
)
def test_names_a_url_a_certificate_and_a_record_cannot_all_carry_are_refused(name, problem, fix):
    found = dns_name_problem(name)
    assert found is not None and found[0].startswith(problem) and found[1].startswith(fix)
    message = refused(serviceDomain=name)
    assert message.startswith(f"serviceDomain: {name!r} is not valid; {problem}") and f". Fix: {fix}" in message


def test_a_name_longer_than_253_characters_is_refused():
    name = ".".join(["a" * 63] * 4)
    assert len(name) == 255
    assert refused(serviceDomain=name) == f"serviceDomain: {name!r} is not valid; a DNS name has at most 253 characters, this one 255. Fix: use a shorter name"


def test_a_zone_needs_the_name_it_holds():
    assert refused(hostedZoneId=ZONE) == (
        f"hostedZoneId: {ZONE!r} is not valid; it holds serviceDomain's record, and serviceDomain is not set. "
        "Fix: set serviceDomain too, or remove hostedZoneId (`pulumi config rm hostedZoneId`)"
    )


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        (f"/hostedzone/{ZONE}", f"hostedZoneId: '/hostedzone/{ZONE}' is not valid; the zone's id alone. Fix: set it to {ZONE!r}"),
        (ZONE.lower(), f"hostedZoneId: {ZONE.lower()!r} is not valid; upper-case letters and digits. Fix: set it to {ZONE!r}"),
        (
            "example.com",
            "hostedZoneId: 'example.com' is not valid; allowed: a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (upper-case letters and "
            "digits). Fix: copy the id from the Route 53 console (Hosted zones, Hosted zone ID)",
        ),
        ("Z" * 33, f"hostedZoneId: {'Z' * 33!r} is not valid; allowed: a Route 53 hosted zone id such as"),
    ],
)
def test_a_zone_id_route_53_would_not_take_is_refused(zone, message):
    assert refused(serviceDomain=DOMAIN, hostedZoneId=zone).startswith(message)


# ------------------------------------------------------------------------------------------
# The program: the URL, the record, what the hook requests
# ------------------------------------------------------------------------------------------


def _https(evaluate, **extra):
    return evaluate("dev", certificateArn=CERTIFICATE, serviceDomain=DOMAIN, **extra)


def test_the_service_url_names_the_domain_and_an_output_names_the_load_balancer(evaluate):
    result = _https(evaluate)
    alb = result.one(ALB)
    assert result.outputs["serviceUrl"] == "https://app.example.com"
    assert result.outputs["loadBalancerDnsName"] == alb.outputs["dnsName"] == "container-cicd-dev-app-alb-1234567890.us-east-1.elb.amazonaws.com"
    # Without hostedZoneId the name is the user's to point: no record, no zone look-up.
    assert result.of_type(RECORD) == []
    assert not [token for token, _ in result.invokes if token.startswith("aws:route53/")]
    assert evaluate("dev", serviceDomain=DOMAIN).outputs["serviceUrl"] == "http://app.example.com"


def test_stacks_without_a_name_are_unchanged(dev, prod):
    for result in (dev, prod):
        assert result.of_type(RECORD) == []
        assert "loadBalancerDnsName" not in result.outputs
        assert result.outputs["serviceUrl"] == "http://" + result.one(ALB).outputs["dnsName"]


def test_setting_the_name_changes_no_resource(dev, evaluate):
    """What an upgrading stack with certificateArn adds: serviceDomain changes outputs only."""
    named = evaluate("dev", serviceDomain=DOMAIN)
    assert {r.urn: r.inputs for r in named.resources} == {r.urn: r.inputs for r in dev.resources}
    assert set(named.outputs) - set(dev.outputs) == {"loadBalancerDnsName"}


def test_no_role_of_the_stack_is_granted_route_53(evaluate):
    """The record is the deployer's to write; nothing the stack runs (pipeline, steps, hook) calls Route 53."""
    result = _https(evaluate, hostedZoneId=ZONE, deploymentStrategy="canary")
    policies = [r for r in result.resources if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")]
    assert policies and not [r.name for r in policies if "route53" in str(r.inputs.get("policy", "")).lower()]


def test_with_a_zone_the_stack_creates_the_alias_record_after_the_load_balancer(evaluate):
    result = _https(evaluate, hostedZoneId=ZONE)
    alb = result.one(ALB)
    record = result.one(RECORD)
    assert record.name == "deploy-lb-dns" and record.parent_urn == result.named("deploy-lb").ref
    assert record.inputs == {
        "zoneId": ZONE,
        "name": DOMAIN,
        "type": "A",
        "aliases": [{"name": alb.outputs["dnsName"], "zoneId": alb.outputs["zoneId"], "evaluateTargetHealth": False}],
    }
    # No allowOverwrite: the provider CREATEs, so a record someone else made is never taken over.
    assert "allowOverwrite" not in record.inputs
    assert alb.ref in record.depends_on
    assert ("aws:route53/getZone:getZone", {"zoneId": ZONE}) in result.invokes
    assert result.outputs["serviceUrl"] == "https://app.example.com"


def test_the_record_on_eks_too(evaluate):
    result = evaluate("prod", certificateArn=CERTIFICATE, serviceDomain="example.com", hostedZoneId=ZONE, allowPlainHttp=False)
    assert result.outputs["serviceUrl"] == "https://example.com"
    assert result.one(RECORD).inputs["name"] == "example.com"  # the zone apex: an alias record may sit there, a CNAME may not


def _change_request(record) -> dict:
    """The ChangeResourceRecordSets request the provider sends for the record (record.go, expandResourceRecordSet)."""
    [alias] = record.inputs["aliases"]
    target = {"HostedZoneId": alias["zoneId"], "DNSName": alias["name"], "EvaluateTargetHealth": alias["evaluateTargetHealth"]}
    change = {"Action": "CREATE", "ResourceRecordSet": {"Name": record.inputs["name"], "Type": record.inputs["type"], "AliasTarget": target}}
    return {"HostedZoneId": record.inputs["zoneId"], "ChangeBatch": {"Changes": [change], "Comment": "Managed by Terraform"}}


def test_the_record_is_a_valid_change_resource_record_sets_request(evaluate):
    request = _change_request(_https(evaluate, hostedZoneId=ZONE).one(RECORD))
    assert_valid("route53", "ChangeResourceRecordSets", request)
    # The model check would catch a record Route 53 refuses: an unknown type, a zone id over 32 characters.
    request["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]["Type"] = "ALIAS"
    request["HostedZoneId"] = "Z" * 33
    assert len(validate("route53", "ChangeResourceRecordSets", request)) == 2


def test_the_exported_plan_connects_the_record_to_the_load_balancer(evaluate):
    """checkov's CKV2_AWS_23 (a Route 53 A record has an attached resource) follows the alias to the load balancer."""
    plan = to_plan(_https(evaluate, hostedZoneId=ZONE))
    [record] = [r for r in plan["configuration"]["root_module"]["resources"] if r["type"] == "aws_route53_record"]
    assert record["expressions"]["alias"][0]["name"] == {"references": ["aws_lb.deploy-lb-alb.dns_name", "aws_lb.deploy-lb-alb"]}


def test_a_zone_that_cannot_hold_the_name_fails_before_the_record_exists(evaluate):
    """The provider would make `app.example.org` in zone example.com into app.example.org.example.com: the record's
    name waits for the zone look-up and fails the preview instead (the mock's zones are all example.com's)."""
    with pytest.raises(Exception, match=r"hostedZoneId: 'Z0123456789ABCDEFGHIJ' is not valid; it is the zone of 'example.com', which does not hold"):
        evaluate("dev", certificateArn=CERTIFICATE, serviceDomain="app.example.org", hostedZoneId=ZONE)


@pytest.mark.parametrize(
    ("domain", "zone_name", "private", "problem"),
    [
        (DOMAIN, "example.com", False, None),
        (DOMAIN, "example.com.", False, None),
        ("example.com", "example.com", False, None),
        (DOMAIN, "app.example.com", False, None),
        ("app.badexample.com", "example.com", False, "it is the zone of 'example.com', which does not hold serviceDomain 'app.badexample.com'"),
        (DOMAIN, "other.com", False, "the record would become app.example.com.other.com"),
        (DOMAIN, "example.com", True, "it is a private hosted zone, which answers only inside its VPCs"),
    ],
)
def test_zone_problem(domain, zone_name, private, problem):
    found = zone_problem(domain, ZONE, zone_name, private)
    assert found is None if problem is None else (found is not None and problem in found and found.startswith(f"hostedZoneId: {ZONE!r} is not valid; "))


def test_the_smoke_test_hook_keeps_requesting_the_test_listener_by_the_load_balancer_s_name(evaluate):
    """The hook requests the plain-HTTP test listener, so it needs no certificate: the load balancer's own name is right
    there, and it works before serviceDomain resolves."""
    result = _https(evaluate, deploymentStrategy="canary", hostedZoneId=ZONE)
    env = result.named("deploy-smoke-test-function").inputs["environment"]["variables"]
    assert env["TEST_BASE_URL"] == f"http://{result.one(ALB).outputs['dnsName']}:9000"
    assert result.named("deploy-lb-test").inputs["protocol"] == "HTTP"


def test_a_new_load_balancer_takes_the_record_along_in_place(evaluate):
    """Moving to another VPC replaces the ALB: the record's alias changes in place (no gap in DNS), serviceUrl stays,
    and the plan's warning names the output that changes."""
    old, new = _https(evaluate, hostedZoneId=ZONE), _https(evaluate, hostedZoneId=ZONE, vpcCidr="10.1.0.0/16")
    change = plan_change(old, new)
    [(before, after)] = [(o, n) for o, n in change.updated if o.type == RECORD]
    assert before.inputs["aliases"][0]["name"] != after.inputs["aliases"][0]["name"] == new.one(ALB).outputs["dnsName"]
    assert not [o for o, _, _ in change.replaced if o.type == RECORD] and not [r for r in change.deleted if r.type == RECORD]
    assert new.outputs["serviceUrl"] == old.outputs["serviceUrl"] == "https://app.example.com"
    [warning] = [w for w in interruptions(stack_settings(old), stack_settings(new), old, new) if w.title == "Moving the stack to another VPC"]
    assert warning.cause.startswith("A load balancer cannot change VPC: a new one is created, with a new DNS name (`loadBalancerDnsName`; `serviceUrl` keeps serviceDomain).")


def test_a_new_name_or_zone_replaces_the_record_before_the_old_one_goes(evaluate):
    """Both are replace-only (record.go ForceNew): the new record is created first, the old one deleted last."""
    old = _https(evaluate, hostedZoneId=ZONE)
    for key, value, reason in (("serviceDomain", "www.example.com", "name"), ("hostedZoneId", "Z9876543210ZYXWVUTSRQ", "zoneId")):
        new = evaluate("dev", **{"certificateArn": CERTIFICATE, "serviceDomain": DOMAIN, "hostedZoneId": ZONE, key: value})
        [(record, reasons)] = [(n, why) for o, n, why in plan_change(old, new).replaced if o.type == RECORD]
        assert reasons == [reason] and not record.delete_before_replace
