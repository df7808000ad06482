"""Production on ECS in an existing VPC: the default strategy (canary) with the test port opened to exactly
the addresses the smoke-test hook leaves the VPC from, looked up in the VPC's route tables, NAT gateways
and Elastic IPs before anything is created; refused, naming the fix, only where the VPC does not report
that address and testListenerCidrs is empty; and what the next `pulumi up` does when the addresses change.

Each case replaces the offline account's VPC (offline/existing_vpc.py) and evaluates uncached; the tests that read
the VPC of TWO_NATS share one evaluation of it."""

from __future__ import annotations

import re

import pytest

from components.settings import SettingsError
from offline import existing_vpc, mocks
from offline.changes import plan_change
from offline.existing_vpc import NatGatewayState, RouteTableState, VpcState
from offline.mocks import StackResult, evaluate_stack

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
VPC = "vpc-0a1b2c3d4e5f60718"
PRIVATE = ["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"]
EXISTING = {"vpcId": VPC, "publicSubnetIds": ["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"], "privateSubnetIds": PRIVATE, "natGateways": None}
TEST_PORT = 9000

# One NAT gateway per AZ: the first private subnet has a route table of its own to a gateway with a
# secondary Elastic IP, the second uses the main route table to another gateway.
TWO_NATS = VpcState(
    route_tables={
        "rtb-00000000000000001": RouteTableState({"natGatewayId": "nat-00000000000000001"}, subnets=(PRIVATE[0],)),
        "rtb-00000000000000009": RouteTableState({"natGatewayId": "nat-00000000000000002"}, main=True),
        # A public subnet's table: no private subnet uses it, so its gateway is no source of the hook.
        "rtb-00000000000000003": RouteTableState({"gatewayId": "igw-00000000000000001"}, subnets=("subnet-0a0a0a0a0a0a0a0a1",)),
    },
    nat_gateways={
        "nat-00000000000000001": NatGatewayState(("192.0.2.10", "192.0.2.11")),
        "nat-00000000000000002": NatGatewayState(("192.0.2.20",)),
        "nat-00000000000000003": NatGatewayState(("192.0.2.30",)),
    },
    elastic_ips={"eipalloc-00000000000000011": "192.0.2.11"},
)


def with_default_route(vpc: VpcState, first_subnet_route: dict[str, str], nat: NatGatewayState | None = None) -> VpcState:
    """TWO_NATS with the first private subnet's 0.0.0.0/0 route led elsewhere (and nat-…01 replaced by `nat`)."""
    tables = {**vpc.route_tables, "rtb-00000000000000001": RouteTableState(first_subnet_route, subnets=(PRIVATE[0],))}
    gateways = {**vpc.nat_gateways, **({"nat-00000000000000001": nat} if nat else {})}
    return VpcState(route_tables=tables, nat_gateways=gateways, elastic_ips=vpc.elastic_ips)


@pytest.fixture
def prod_in(monkeypatch, ecs_config):
    """Evaluate prod on ECS in the existing VPC, with the account's VPC as given."""

    def run(vpc: VpcState, **overrides) -> StackResult:
        monkeypatch.setattr(existing_vpc, "ACCOUNT_VPC", vpc)
        return evaluate_stack("prod", {**ecs_config("prod"), **EXISTING, **overrides})

    return run


@pytest.fixture(scope="module")
def two_nats(ecs_config) -> tuple[StackResult, list[str]]:
    """prod_in(TWO_NATS), evaluated once for the tests that read it, with every lookup and registration the
    program made, in order ("invoke <token>", "register <name>")."""
    events: list[str] = []
    call, new_resource, evaluate = mocks.CloudMocks.call, mocks.CloudMocks.new_resource, mocks.evaluate
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(existing_vpc, "ACCOUNT_VPC", TWO_NATS)
        # Only prod's own evaluation: the first one in a process evaluates the stack it promotes from (dev) first.
        patch.setattr(mocks, "evaluate", lambda *args, **kwargs: events.clear() or evaluate(*args, **kwargs))
        patch.setattr(mocks.CloudMocks, "call", lambda self, args: events.append(f"invoke {args.token}") or call(self, args))
        patch.setattr(mocks.CloudMocks, "new_resource", lambda self, args: events.append(f"register {args.name}") or new_resource(self, args))
        result = evaluate_stack("prod", {**ecs_config("prod"), **EXISTING})
    return result, events


def port_rules(result: StackResult) -> dict[str, str]:
    return {r.name: r.inputs["cidrIpv4"] for r in result.of_type(INGRESS) if r.inputs.get("fromPort") == TEST_PORT}


def test_prod_on_ecs_in_an_existing_vpc_deploys_with_canary_and_opens_the_test_port_to_the_looked_up_addresses(two_nats):
    result, _ = two_nats
    assert result.one("aws:ecs/service:Service").inputs["deploymentConfiguration"]["strategy"] == "CANARY"
    assert port_rules(result) == {
        "deploy-lb-alb-in-test-hook-192-0-2-10": "192.0.2.10/32",
        "deploy-lb-alb-in-test-hook-192-0-2-11": "192.0.2.11/32",
        "deploy-lb-alb-in-test-hook-192-0-2-20": "192.0.2.20/32",
    }
    rule = result.named("deploy-lb-alb-in-test-hook-192-0-2-11").inputs
    assert rule["description"] == f"Test port {TEST_PORT} from the smoke-test hook (NAT address 192.0.2.11)"
    assert (rule["securityGroupId"], rule["ipProtocol"], rule["toPort"]) == (result.named("deploy-lb-alb-sg").id, "tcp", TEST_PORT)
    # The subnet with no association of its own is looked up in the main route table.
    assert ("aws:ec2/getRouteTables:getRouteTables", {"vpcId": VPC, "filters": [{"values": ["true"], "name": "association.main"}]}) in result.invokes
    assert ("aws:ec2/getElasticIp:getElasticIp", {"id": "eipalloc-00000000000000011"}) in result.invokes


def test_a_regional_nat_gateway_opens_the_test_port_to_each_of_its_addresses(prod_in):
    regional = NatGatewayState(("192.0.2.41", "192.0.2.40"), regional=True)
    vpc = VpcState(route_tables={"rtb-00000000000000009": RouteTableState({"natGatewayId": "nat-00000000000000004"}, main=True)}, nat_gateways={"nat-00000000000000004": regional})
    assert sorted(port_rules(prod_in(vpc)).values()) == ["192.0.2.40/32", "192.0.2.41/32"]


def test_listed_cidrs_win_and_a_looked_up_address_already_listed_gets_no_second_rule(prod_in):
    """EC2 refuses a second rule of the same source and port (InvalidPermission.Duplicate)."""
    result = prod_in(TWO_NATS, testListenerCidrs=["192.0.2.10/32", "203.0.113.0/24"])
    assert port_rules(result) == {
        "deploy-lb-alb-in-test-0": "192.0.2.10/32",
        "deploy-lb-alb-in-test-1": "203.0.113.0/24",
        "deploy-lb-alb-in-test-hook-192-0-2-11": "192.0.2.11/32",
        "deploy-lb-alb-in-test-hook-192-0-2-20": "192.0.2.20/32",
    }


def refusal(subnet_problem: str) -> str:
    return (
        f"testListenerCidrs: [] is not valid; with vpcId '{VPC}' the smoke-test hook reaches the test listener from the public address of the private "
        f"subnets' route to the internet, and the stack can look up only a public NAT gateway's: {PRIVATE[0]} through {subnet_problem}. "
        "Fix: list the public addresses those subnets reach the internet from as /32 in testListenerCidrs (with your testers' networks), "
        "route the private subnets through a public NAT gateway, or set deploymentStrategy: rolling"
    )


UNREPORTED = {
    "transit gateway": ({"transitGatewayId": "tgw-00000000000000001"}, None, "transit gateway tgw-00000000000000001 (0.0.0.0/0 in rtb-00000000000000001)"),
    "firewall endpoint": (
        {"vpcEndpointId": "vpce-00000000000000001"},
        None,
        "VPC endpoint (a firewall or Gateway Load Balancer endpoint) vpce-00000000000000001 (0.0.0.0/0 in rtb-00000000000000001)",
    ),
    "private NAT gateway": (
        {"natGatewayId": "nat-00000000000000001"},
        NatGatewayState(("",), connectivity_type="private"),
        "private NAT gateway nat-00000000000000001, which has no public address (its traffic leaves the VPC through another hop) (0.0.0.0/0 in rtb-00000000000000001)",
    ),
    "deleted NAT gateway": (
        {"natGatewayId": "nat-00000000000000001"},
        NatGatewayState(("192.0.2.10",), state="deleted"),
        "NAT gateway nat-00000000000000001, which is deleted (0.0.0.0/0 in rtb-00000000000000001)",
    ),
    "no default route": ({}, None, "no route to the internet (no 0.0.0.0/0 route in rtb-00000000000000001)"),
}


@pytest.mark.parametrize("case", UNREPORTED)
def test_an_egress_the_vpc_does_not_report_is_refused_naming_the_fix_before_anything_is_created(prod_in, monkeypatch, case):
    route, nat, problem = UNREPORTED[case]
    registered: list[str] = []
    new_resource = mocks.CloudMocks.new_resource
    monkeypatch.setattr(mocks.CloudMocks, "new_resource", lambda self, args: registered.append(args.name) or new_resource(self, args))
    with pytest.raises(SettingsError, match=f"^{re.escape(refusal(problem))}$"):
        prod_in(with_default_route(TWO_NATS, route, nat))
    assert registered == []


def test_a_vpc_id_with_no_route_tables_is_a_settings_error(prod_in):
    """No main route table: the id names no VPC of this account and region (DescribeRouteTables filters, and finds nothing)."""
    message = (
        f"vpcId: '{VPC}' is not valid; it has no route tables in this account and region (a VPC always has a main one), so private subnet "
        f"{PRIVATE[0]} cannot be in it. Fix: set vpcId to the VPC of privateSubnetIds, in the region aws:region names"
    )
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        prod_in(VpcState(route_tables={}, nat_gateways={}))


@pytest.mark.parametrize("case", ["transit gateway", "private NAT gateway"])
def test_with_testlistenercidrs_set_an_unreported_egress_is_the_users_to_list(prod_in, case):
    """The user's list wins: the subnet the VPC reports (its NAT gateway) is still opened."""
    route, nat, _ = UNREPORTED[case]
    result = prod_in(with_default_route(TWO_NATS, route, nat), testListenerCidrs=["198.51.100.7/32"])
    assert port_rules(result) == {"deploy-lb-alb-in-test-0": "198.51.100.7/32", "deploy-lb-alb-in-test-hook-192-0-2-20": "192.0.2.20/32"}


def test_order_the_vpc_is_read_before_any_resource_is_registered(two_nats):
    """The rules name the addresses as plain strings, so they cannot be registered before the lookup; and
    the lookup comes before everything else, so a refusal leaves nothing half created."""
    _, events = two_nats
    lookups = [i for i, e in enumerate(events) if e.startswith("invoke aws:ec2/")]
    first_registration = next(i for i, e in enumerate(events) if e.startswith("register "))
    # Per subnet: its route tables (the second's: none, then the main one), the table, the NAT gateway; and
    # the first gateway's secondary Elastic IP.
    assert len(lookups) == 8
    assert max(lookups) < first_registration < events.index("register deploy-lb-alb-in-test-hook-192-0-2-10")


def test_change_new_nat_addresses_replace_only_their_own_rules_on_the_next_up(prod_in, two_nats):
    """nat-…01 replaced (new Elastic IPs .12 and .11 kept), .20 unchanged: the next `pulumi up` creates the
    rule of the new address, deletes the rule of the one gone, and leaves the others as they are. No rule
    is updated to another source (which could collide with a rule not yet deleted)."""
    before, _ = two_nats
    moved = NatGatewayState(("192.0.2.12", "192.0.2.11"))
    after = prod_in(with_default_route(TWO_NATS, {"natGatewayId": "nat-00000000000000001"}, moved))
    change = plan_change(before, after)
    assert sorted(r.name for r in change.created) == ["deploy-lb-alb-in-test-hook-192-0-2-12"]
    assert sorted(r.name for r in change.deleted) == ["deploy-lb-alb-in-test-hook-192-0-2-10"]
    assert change.replaced == []
    assert change.effective_updates() == []
