"""An existing VPC as the offline account holds it, for the invokes that read it (route tables, NAT
gateways, Elastic IPs), answered in the provider's shapes (camelCase, as pulumi-aws returns them).

`ACCOUNT_VPC` is what every evaluation sees; a test that needs another network (a transit gateway, a
private NAT gateway, a secondary Elastic IP) replaces it with monkeypatch and evaluates uncached.

The default network: every private subnet uses the VPC's main route table (no association of its own),
whose 0.0.0.0/0 route leads to one public NAT gateway, at an address of TEST-NET-1 (RFC 5737). A stack
file with vpcId and any subnet ids plans against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NatGatewayState:
    public_ips: tuple[str, ...]
    """The primary Elastic IP's address first, then the secondary ones (regional: every address)."""
    connectivity_type: str = "public"
    state: str = "available"
    regional: bool = False


@dataclass(frozen=True)
class RouteTableState:
    default_route: Mapping[str, str]
    """The 0.0.0.0/0 route's target, as the provider names it ({"natGatewayId": ...}); empty: no such route."""
    subnets: tuple[str, ...] = ()
    """Subnets associated with the table explicitly."""
    main: bool = False


@dataclass(frozen=True)
class VpcState:
    route_tables: Mapping[str, RouteTableState]
    nat_gateways: Mapping[str, NatGatewayState]
    elastic_ips: Mapping[str, str] = field(default_factory=dict)
    """Allocation id -> address, for the secondary Elastic IPs."""


DEFAULT_NAT = "nat-0c0c0c0c0c0c0c0c1"
ACCOUNT_VPC = VpcState(
    route_tables={"rtb-0d0d0d0d0d0d0d0d0": RouteTableState({"natGatewayId": DEFAULT_NAT}, main=True)},
    nat_gateways={DEFAULT_NAT: NatGatewayState(("192.0.2.10",))},
)


def _filters(args: Mapping[str, Any]) -> dict[str, list[str]]:
    return {f["name"]: list(f["values"]) for f in args.get("filters") or []}


def _route_tables(vpc: VpcState, args: Mapping[str, Any]) -> dict:
    filters = _filters(args)
    ids = [
        rtb
        for rtb, table in vpc.route_tables.items()
        if all(s in table.subnets for s in filters.get("association.subnet-id", [])) and (filters.get("association.main") != ["true"] or table.main)
    ]
    return {"ids": ids, "id": "us-east-1", "vpcId": args.get("vpcId")}


def _route_table(vpc: VpcState, args: Mapping[str, Any]) -> dict:
    rtb = args["routeTableId"]
    table = vpc.route_tables[rtb]  # KeyError: as AWS, "no results"
    routes = [{"cidrBlock": "0.0.0.0/0", **table.default_route}] if table.default_route else []
    return {"id": rtb, "routeTableId": rtb, "routes": routes, "associations": [{"subnetId": s, "main": False} for s in table.subnets]}


def _nat_gateway(vpc: VpcState, args: Mapping[str, Any]) -> dict:
    nat_id = args["id"]
    nat = vpc.nat_gateways[nat_id]
    public = nat.connectivity_type == "public"
    secondary = [allocation for allocation, ip in vpc.elastic_ips.items() if ip in nat.public_ips[1:]]
    return {
        "id": nat_id,
        "state": nat.state,
        "connectivityType": nat.connectivity_type,
        "availabilityMode": "regional" if nat.regional else "zonal",
        "publicIp": nat.public_ips[0] if public and not nat.regional else "",
        "secondaryAllocationIds": [] if nat.regional else secondary,
        "regionalNatGatewayAddresses": [{"publicIp": ip, "status": "succeeded"} for ip in nat.public_ips] if nat.regional else [],
    }


def answer(vpc: VpcState, token: str, args: Mapping[str, Any]) -> dict | None:
    """The invoke's result, or None when `token` is not one of the VPC's."""
    if token == "aws:ec2/getRouteTables:getRouteTables":
        return _route_tables(vpc, args)
    if token == "aws:ec2/getRouteTable:getRouteTable":
        return _route_table(vpc, args)
    if token == "aws:ec2/getNatGateway:getNatGateway":
        return _nat_gateway(vpc, args)
    if token == "aws:ec2/getElasticIp:getElasticIp":
        return {"id": args["id"], "publicIp": vpc.elastic_ips[args["id"]]}
    return None
