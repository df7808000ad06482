"""The service's name in Route 53: an alias record from serviceDomain to the load balancer (hostedZoneId).

An alias A record, not a CNAME: it may sit at a zone's apex (example.com), Route 53 answers it with the load
balancer's current addresses, and alias queries to an ELB load balancer are not charged
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html).
A only: the load balancer is IPv4 (no `ip_address_type`), so its name has no IPv6 address an AAAA record
could answer with.

The provider sends Route 53 a CREATE, not an UPSERT, while `allow_overwrite` stays false (terraform-provider-aws
internal/service/route53/record.go, resourceRecordCreate), so a record someone made by hand is never taken over: the `pulumi up`
that meets one fails with Route 53's InvalidChangeBatch ("already exists", or for a CNAME "conflicting RRSet")
and nothing changes hands (docs/safety.md, "The service's name").
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


class ZoneMismatch(ValueError):
    """hostedZoneId names a zone that cannot hold serviceDomain's public record."""


RECORD_TYPE = "A"
# One simple record has no other record to answer instead, so health evaluation could only change what a
# failover or weighted set would do; it stays off, as CDK's LoadBalancerTarget leaves it by default.
EVALUATE_TARGET_HEALTH = False


def zone_problem(domain: str, zone_id: str, zone_name: str, private: bool) -> str | None:
    """Why hosted zone `zone_id` (named `zone_name`) cannot hold `domain`'s public record, or None.

    The provider makes a record name that does not end in the zone's name into `<name>.<zone>`
    (terraform-provider-aws internal/service/route53/record.go, expandRecordName), so a name outside the zone
    would not fail: it would land at another name, and serviceUrl would not resolve.
    """
    zone = zone_name.rstrip(".").lower()
    if domain != zone and not domain.endswith(f".{zone}"):
        return (
            f"hostedZoneId: {zone_id!r} is not valid; it is the zone of {zone!r}, which does not hold serviceDomain {domain!r} (the record "
            f"would become {domain}.{zone}). Fix: set hostedZoneId to the public hosted zone of {domain!r} or of a domain above it"
        )
    if private:
        return (
            f"hostedZoneId: {zone_id!r} is not valid; it is a private hosted zone, which answers only inside its VPCs, and the load "
            f"balancer is public. Fix: set hostedZoneId to the public hosted zone of {zone!r}"
        )
    return None


def _checked(domain: str, zone_id: str, zone: aws.route53.GetZoneResult) -> str:
    problem = zone_problem(domain, zone_id, zone.name, bool(zone.private_zone))
    if problem:
        raise ZoneMismatch(problem)
    return domain


def alias_record(name: str, *, domain: str, zone_id: str, alb: aws.lb.LoadBalancer, parent: pulumi.Resource) -> aws.route53.Record:
    """`domain`'s alias A record in hosted zone `zone_id`, to `alb` (its DNS name and canonical hosted zone).

    The zone is read first (route53:GetHostedZone and ListTagsForResource, as the provider's zone data source
    does), and the record's name waits for `zone_problem`: a zone that cannot hold it fails `pulumi preview`
    and `pulumi up` before the record exists. A new `domain` or `zone_id` replaces the record (both are
    replace-only): the new one is created before the old one is deleted. A new load balancer changes the
    alias in place, so the name follows it.
    """
    zone = aws.route53.get_zone_output(zone_id=zone_id, opts=pulumi.InvokeOutputOptions(parent=parent))
    return aws.route53.Record(
        f"{name}-dns",
        zone_id=zone_id,
        name=zone.apply(lambda found: _checked(domain, zone_id, found)),
        type=RECORD_TYPE,
        aliases=[{"name": alb.dns_name, "zone_id": alb.zone_id, "evaluate_target_health": EVALUATE_TARGET_HEALTH}],
        opts=pulumi.ResourceOptions(parent=parent),
    )
