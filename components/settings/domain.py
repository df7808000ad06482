"""The service's name: the DNS name clients use (serviceDomain) and the Route 53 hosted zone the stack
writes its record in (hostedZoneId).

With certificateArn a name is required: the load balancer's own DNS name (`<name>.<region>.elb.amazonaws.com`)
is an AWS name that no ACM certificate of the user's covers, so an https:// URL on it fails every client's
certificate check. Whether the certificate covers serviceDomain (its domain name or a subject alternative
name; a wildcard `*.example.com` covers exactly one label more) is known only to ACM, at deploy time; here
the name's syntax is checked.
"""

from __future__ import annotations

import re
import urllib.parse

from components.settings.reading import _fail, _Reader

# RFC 1035 2.3.4 and RFC 1123 2.1: at most 253 characters written without the trailing dot, labels of 1 to
# 63 letters, digits and hyphens, neither starting nor ending with a hyphen (internationalised names in
# their xn-- form). Upper case is refused only to keep one spelling in the URL, the record and the report.
NAME_MAX = 253
LABEL_MAX = 63
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# AWS's own names (the load balancer's *.elb.amazonaws.com, in China *.amazonaws.com.cn): no ACM
# certificate of the user's covers them, and no hosted zone of the user's holds them.
_AWS_OWNED = (".amazonaws.com", ".amazonaws.com.cn")
# Route 53 hosted zone ids: upper-case letters and digits (botocore route53 ResourceId: at most 32).
_HOSTED_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_ZONE_PREFIX = "/hostedzone/"
EXAMPLE = "app.example.com"


def dns_name_problem(name: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) when `name` is not a host name a URL, a certificate and a Route 53 record can
    all carry, or None."""
    host = urllib.parse.urlsplit(name).hostname if "://" in name else None
    if host:
        return "a host name, not a URL", f"set it to {host!r}"
    if name != name.strip():
        return "it has leading or trailing spaces", f"set it to {name.strip()!r}"
    if name.endswith("."):
        return "written without the trailing dot (Route 53 reads both alike; the URL and the certificate use none)", f"set it to {name.rstrip('.')!r}"
    if name != name.lower():
        return "lower case only (DNS names ignore case; one spelling keeps the URL, the record and the certificate's name alike)", f"set it to {name.lower()!r}"
    if name.startswith("*."):
        return "a wildcard names no host (a *.example.com certificate covers one name below it, which is what goes here)", f"set it to a name such as {'app' + name[1:]!r}"
    if len(name) > NAME_MAX:
        return f"a DNS name has at most {NAME_MAX} characters, this one {len(name)}", "use a shorter name"
    labels = name.split(".")
    if len(labels) < 2:
        return "the full name, with its domain", f"set it to a name such as {name + '.example.com'!r}"
    for label in labels:
        if not label:
            return "an empty label (two dots in a row, or a leading dot)", f"set it to {'.'.join(part for part in labels if part)!r}"
        if len(label) > LABEL_MAX:
            return f"a label has at most {LABEL_MAX} characters, {label[:12]!r}... has {len(label)}", "shorten that label"
        if not _LABEL.match(label):
            return f"label {label!r}: letters, digits and '-' only, not first or last (an internationalised name in its xn-- form)", "correct that label"
    if labels[-1].isdigit():
        return "an address is no domain name (the last label is all digits)", f"set it to the name clients use, e.g. {EXAMPLE!r}"
    if name.endswith(_AWS_OWNED):
        return "an AWS-owned name (such as the load balancer's own) that no certificate or hosted zone of yours covers", f"set it to a name of your domain, e.g. {EXAMPLE!r}"
    return None


def _domain(reader: _Reader, certificate: str | None) -> tuple[str | None, str | None]:
    """(serviceDomain, hostedZoneId), each None when not set."""
    domain = reader.get("serviceDomain") or None
    zone = reader.get("hostedZoneId") or None
    if domain is not None:
        problem = dns_name_problem(domain)
        if problem:
            raise _fail("serviceDomain", domain, problem[0], problem[1])
    elif certificate:
        raise _fail(
            "serviceDomain",
            "",
            "with certificateArn the service URL needs a name the certificate covers, and the load balancer's own DNS name (*.elb.amazonaws.com) is not one",
            f"set serviceDomain to the name the certificate is issued for (`pulumi config set serviceDomain {EXAMPLE}`) and point it at "
            "the load balancer, or set hostedZoneId too and the stack creates that record",
        )
    if zone is not None:
        if domain is None:
            fix = "set serviceDomain too, or remove hostedZoneId (`pulumi config rm hostedZoneId`)"
            raise _fail("hostedZoneId", zone, "it holds serviceDomain's record, and serviceDomain is not set", fix)
        if zone.startswith(_ZONE_PREFIX) and _HOSTED_ZONE_ID.match(zone.removeprefix(_ZONE_PREFIX)):
            raise _fail("hostedZoneId", zone, "the zone's id alone", f"set it to {zone.removeprefix(_ZONE_PREFIX)!r}")
        if _HOSTED_ZONE_ID.match(zone.upper()) and zone != zone.upper():
            raise _fail("hostedZoneId", zone, "upper-case letters and digits", f"set it to {zone.upper()!r}")
        if not _HOSTED_ZONE_ID.match(zone):
            allowed = "allowed: a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (upper-case letters and digits)"
            raise _fail("hostedZoneId", zone, allowed, "copy the id from the Route 53 console (Hosted zones, Hosted zone ID)")
    return domain, zone
