"""Where the smoke-test hook's requests leave an existing VPC (vpcId), looked up before anything is created.

The hook runs in the private subnets and requests the test listener of the internet-facing load balancer
by its DNS name, which resolves to the nodes' public addresses only ("The nodes of an Internet-facing load
balancer have public IP addresses. The DNS name ... is publicly resolvable to the public IP addresses of
the nodes", https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html).
Its requests reach the listener from the public address of whatever the private subnets' default route
leads to; for a NAT gateway that is its Elastic IPs, which the EC2 API reports, so the stack opens the
test port to exactly them, as it does for the NAT gateways of a VPC it creates.

Per private subnet: its route table (an explicit association, else the VPC's main route table, which
DescribeRouteTables does not report for the subnet), the table's 0.0.0.0/0 route, and when that leads to a
public NAT gateway, the gateway's addresses: the primary and every secondary Elastic IP of a zonal gateway
(it spreads connections over all of them), or every address of a regional one. A default route to anything
else (a transit gateway, a firewall or Gateway Load Balancer endpoint, an instance, a private NAT gateway,
which has no public address) leaves at an address the VPC does not report: testListenerCidrs must list it.

The lookup reads the VPC each time the program runs, so the next `pulumi up` after the addresses changed
(a NAT gateway replaced, an Elastic IP added) opens the test port to the new ones and closes it to the old.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pulumi_aws as aws

from components.settings import SettingsError

DEFAULT_ROUTE = "0.0.0.0/0"
# A NAT gateway in these states forwards nothing: the route to it is a blackhole.
GONE = frozenset({"failed", "deleting", "deleted"})


def _route_table_id(vpc_id: str, subnet_id: str) -> str:
    explicit = aws.ec2.get_route_tables(vpc_id=vpc_id, filters=[{"name": "association.subnet-id", "values": [subnet_id]}]).ids
    if explicit:
        return explicit[0]
    # A subnet with no association of its own uses the main route table, which every VPC has.
    main = aws.ec2.get_route_tables(vpc_id=vpc_id, filters=[{"name": "association.main", "values": ["true"]}]).ids
    if not main:
        raise SettingsError(
            f"vpcId: {vpc_id!r} is not valid; it has no route tables in this account and region (a VPC always has a main one), so private subnet "
            f"{subnet_id} cannot be in it. Fix: set vpcId to the VPC of privateSubnetIds, in the region aws:region names"
        )
    return main[0]


def _target(route: aws.ec2.outputs.GetRouteTableRouteResult) -> str:
    """What a route leads to, for an error message."""
    kinds = [
        ("transit_gateway_id", "transit gateway"),
        ("vpc_endpoint_id", "VPC endpoint (a firewall or Gateway Load Balancer endpoint)"),
        ("network_interface_id", "network interface"),
        ("instance_id", "instance"),
        ("gateway_id", "gateway"),
        ("vpc_peering_connection_id", "VPC peering connection"),
        ("core_network_arn", "Cloud WAN core network"),
        ("local_gateway_id", "local gateway"),
        ("carrier_gateway_id", "carrier gateway"),
    ]
    for attribute, kind in kinds:
        value = getattr(route, attribute, "")
        if value:
            return f"{kind} {value}"
    return "an unnamed target"


def _nat_addresses(nat_id: str) -> tuple[list[str], str]:
    """The NAT gateway's public addresses, or none and why."""
    nat = aws.ec2.get_nat_gateway(id=nat_id)
    if nat.state in GONE:
        return [], f"NAT gateway {nat_id}, which is {nat.state}"
    if nat.connectivity_type != "public":
        return [], f"private NAT gateway {nat_id}, which has no public address (its traffic leaves the VPC through another hop)"
    if nat.availability_mode == "regional":
        return sorted({a.public_ip for a in nat.regional_nat_gateway_addresses or [] if a.public_ip}), ""
    secondary = [aws.ec2.get_elastic_ip(id=allocation).public_ip for allocation in nat.secondary_allocation_ids or []]
    return [nat.public_ip, *secondary], ""


def _egress(vpc_id: str, subnet_id: str) -> tuple[list[str], str]:
    """The public addresses `subnet_id`'s requests to the internet leave from, or none and where they go."""
    table_id = _route_table_id(vpc_id, subnet_id)
    table = aws.ec2.get_route_table(route_table_id=table_id)
    default = [r for r in table.routes or [] if r.cidr_block == DEFAULT_ROUTE]
    if not default:
        return [], f"no route to the internet (no {DEFAULT_ROUTE} route in {table_id})"
    if default[0].nat_gateway_id:
        addresses, problem = _nat_addresses(default[0].nat_gateway_id)
        return addresses, f"{problem} ({DEFAULT_ROUTE} in {table_id})" if problem else ""
    return [], f"{_target(default[0])} ({DEFAULT_ROUTE} in {table_id})"


def hook_egress_addresses(vpc_id: str, private_subnet_ids: Sequence[str], listed_cidrs: Sequence[str]) -> tuple[str, ...]:
    """The public IPv4 addresses the hook's requests leave `vpc_id`'s private subnets from, sorted, without
    those `listed_cidrs` (testListenerCidrs) already opens as a /32 (a second rule of the same source and
    port is refused by EC2 as a duplicate). A subnet whose egress the VPC does not report is accepted when
    testListenerCidrs is set (the user listed the address) and refused when it is empty."""
    found: set[str] = set()
    unknown: list[str] = []
    for subnet_id in private_subnet_ids:
        addresses, problem = _egress(vpc_id, subnet_id)
        found.update(addresses)
        if problem:
            unknown.append(f"{subnet_id} through {problem}")
    if unknown and not listed_cidrs:
        raise SettingsError(
            f"testListenerCidrs: [] is not valid; with vpcId {vpc_id!r} the smoke-test hook reaches the test listener from the public address of "
            f"the private subnets' route to the internet, and the stack can look up only a public NAT gateway's: {'; '.join(unknown)}. "
            "Fix: list the public addresses those subnets reach the internet from as /32 in testListenerCidrs (with your testers' networks), "
            "route the private subnets through a public NAT gateway, or set deploymentStrategy: rolling"
        )
    listed = {ipaddress.ip_network(cidr, strict=False) for cidr in listed_cidrs}
    return tuple(sorted((a for a in found if ipaddress.ip_network(f"{a}/32") not in listed), key=ipaddress.ip_address))
