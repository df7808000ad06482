"""The network part: an existing VPC and its subnets, or the CIDR of a created one; who may reach the load balancer."""

from __future__ import annotations

import ipaddress
import re

from components.settings.domain import _domain
from components.settings.keys import KEYS
from components.settings.model import NetworkSettings
from components.settings.reading import _duplicates, _enum, _fail, _Reader

_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")


def cidr_problem(block: str, versions: tuple[int, ...] = (4, 6)) -> tuple[str, str] | None:
    """(what is wrong, the fix) for a CIDR block AWS would refuse, or None."""
    try:
        address = ipaddress.ip_address(block)
    except ValueError:
        pass
    else:
        bits = 32 if address.version == 4 else 128
        return "a bare address is not a CIDR block", f"write {block}/{bits} for this one address"
    try:
        network = ipaddress.ip_network(block)
    except ValueError:
        try:
            loose = ipaddress.ip_network(block, strict=False)
        except ValueError:
            return "not a CIDR block such as 203.0.113.0/24", "write an address and a prefix length, e.g. 203.0.113.0/24"
        return "the address has bits set beyond the prefix length", f"use the network address: {loose}"
    if network.version not in versions:
        return f"only IPv{versions[0]} CIDR blocks are allowed here", "use an IPv4 CIDR block"
    return None


def _network(reader: _Reader, production: bool) -> NetworkSettings:
    vpc_id = reader.get("vpcId") or None
    public = reader.get("publicSubnetIds")
    private = reader.get("privateSubnetIds")
    if vpc_id:
        if not _VPC_ID.match(vpc_id):
            raise _fail("vpcId", vpc_id, "allowed: vpc-<hex id>", "copy the id from the VPC console")
        for key, ids in (("publicSubnetIds", public), ("privateSubnetIds", private)):
            if len(ids) < 2:
                raise _fail(key, list(ids), "with vpcId, at least two subnets in different AZs", f"list at least two subnet ids in {key}")
            for subnet in ids:
                if not _SUBNET_ID.match(subnet):
                    raise _fail(key, subnet, "allowed: subnet-<hex id>", "copy the ids from the VPC console")
            if _duplicates(list(ids)):
                # A repeated id would pass the two-subnet count with one subnet (one AZ).
                raise _fail(key, list(ids), "each subnet once (two ids of one subnet are one AZ)", f"replace the repeated {_duplicates(list(ids))[0]!r} by a subnet in another AZ")
        if set(public) & set(private):
            raise _fail("privateSubnetIds", list(private), "a subnet cannot be both public and private", "list each subnet under one key only")
        for key in ("vpcCidr", "natGateways"):
            if reader.is_set(key):
                raise _fail(key, reader.get(key), "only used when the stack creates the VPC", f"remove {key}, or remove vpcId to create a VPC")
    else:
        for key in ("publicSubnetIds", "privateSubnetIds"):
            if reader.is_set(key):
                raise _fail(key, list(reader.get(key)), "subnet ids need vpcId", "set vpcId too, or remove the subnet ids to create a VPC")
    cidr = reader.get("vpcCidr")
    problem = cidr_problem(cidr, versions=(4,))
    if problem:
        raise _fail("vpcCidr", cidr, problem[0], problem[1])
    network = ipaddress.IPv4Network(cidr)
    spec = KEYS["vpcCidr"]
    assert spec.prefix_lengths is not None
    shortest, longest = spec.prefix_lengths
    if not shortest <= network.prefixlen <= longest:
        raise _fail("vpcCidr", cidr, f"allowed: {spec.allowed_text} (four /+2 subnets must fit)", f"use e.g. {spec.default}")
    ingress = reader.get("ingressCidrs")
    if not ingress:
        raise _fail("ingressCidrs", [], "at least one CIDR", "list the networks allowed to reach the service")
    for block in ingress:
        problem = cidr_problem(block)
        if problem:
            raise _fail("ingressCidrs", block, problem[0], problem[1])
    if _duplicates(list(ingress)):
        raise _fail("ingressCidrs", list(ingress), "each CIDR block once", f"remove the repeated {_duplicates(list(ingress))[0]!r}")
    certificate = reader.get("certificateArn") or None
    if certificate and not _CERTIFICATE_ARN.match(certificate):
        raise _fail("certificateArn", certificate, "allowed: arn:aws:acm:<region>:<account>:certificate/<id>", "copy the ARN from the ACM console")
    service_domain, hosted_zone_id = _domain(reader, certificate)
    plain = reader.get("allowPlainHttp")
    if production and not certificate and not plain:
        # The production posture: a public production service does not answer plain HTTP unless
        # the user accepts it by name (a demo account has no domain, hence no ACM certificate, yet).
        raise _fail(
            "certificateArn",
            "",
            "a production stack serves HTTPS, which needs an ACM certificate",
            "set certificateArn to an ACM certificate in the stack's region, or allowPlainHttp: true to accept plain HTTP",
        )
    if plain and (not production or certificate):
        why = "with certificateArn, HTTP already redirects to HTTPS" if certificate else "only production stacks refuse plain HTTP"
        raise _fail("allowPlainHttp", plain, f"it has no effect here: {why}", "remove allowPlainHttp (`pulumi config rm allowPlainHttp`)")
    return NetworkSettings(
        vpc_id=vpc_id,
        public_subnet_ids=public,
        private_subnet_ids=private,
        vpc_cidr=str(network),
        nat_gateways=_enum(reader, "natGateways"),
        ingress_cidrs=ingress,
        certificate_arn=certificate,
        service_domain=service_domain,
        hosted_zone_id=hosted_zone_id,
        alb_access_logs=_enum(reader, "albAccessLogs").resolve(production),
        waf=_enum(reader, "waf").resolve(production),
        alb_deletion_protection=_enum(reader, "albDeletionProtection").resolve(production),
    )
