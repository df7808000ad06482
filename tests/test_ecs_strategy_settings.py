"""What the strategy settings refuse before any resource exists: a traffic-shifting strategy on an existing
VPC without testListenerCidrs (the smoke-test hook could not reach the test listener), and more smoke-test
paths than the hook takes."""

from __future__ import annotations

import re

import pytest

from components.settings import PROJECT, SettingsError, parse_settings
from functions.ecs_smoke_test import MAX_SMOKE_PATHS

EXISTING_VPC = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"],
    "privateSubnetIds": ["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"],
}
NAT_REACH = (
    "testListenerCidrs: [] is not valid; with vpcId 'vpc-0a1b2c3d4e5f60718' the smoke-test hook reaches the test listener through that "
    "VPC's NAT gateways, whose public addresses the stack cannot look up. Fix: list each NAT gateway's Elastic IP as a /32 in "
    "testListenerCidrs (with your testers' networks), or set deploymentStrategy: rolling"
)


def parse(**raw):
    return parse_settings(raw, PROJECT, "dev")


@pytest.mark.parametrize("kind", ["blue-green", "canary", "linear"])
def test_an_existing_vpc_needs_the_nat_addresses_in_test_listener_cidrs(kind):
    with pytest.raises(SettingsError, match=f"^{re.escape(NAT_REACH)}$"):
        parse(deploymentStrategy=kind, **EXISTING_VPC)


def test_production_on_an_existing_vpc_is_refused_through_auto_too():
    with pytest.raises(SettingsError, match=f"^{re.escape(NAT_REACH)}$"):
        parse(production=True, allowPlainHttp=True, **EXISTING_VPC)


def test_an_existing_vpc_with_the_nat_addresses_listed_is_accepted():
    settings = parse(deploymentStrategy="canary", testListenerCidrs=["198.51.100.7/32"], **EXISTING_VPC)
    assert settings.ecs is not None and settings.ecs.strategy.test_listener_cidrs == ("198.51.100.7/32",)


def test_rolling_on_an_existing_vpc_needs_no_test_listener():
    settings = parse(deploymentStrategy="rolling", **EXISTING_VPC)
    assert settings.ecs is not None and settings.ecs.strategy.test_listener_cidrs == ()


def test_a_created_vpc_needs_no_cidrs_the_stack_opens_the_test_port_to_its_nat_gateways():
    settings = parse(deploymentStrategy="blue-green")
    assert settings.ecs is not None and settings.ecs.strategy.test_listener_cidrs == ()


def test_the_hook_takes_at_most_twenty_smoke_test_paths():
    assert MAX_SMOKE_PATHS == 20
    paths = [f"/p{i}" for i in range(21)]
    message = f"smokeTestPaths: {paths!r} is not valid; at most 20 paths (the smoke test must fit its time budget). Fix: keep the paths that matter most"
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse(deploymentStrategy="canary", smokeTestPaths=paths)
    assert len(parse(deploymentStrategy="canary", smokeTestPaths=paths[:20]).ecs.strategy.smoke_test_paths) == 20
