"""What the strategy settings refuse before any resource exists: more smoke-test paths than the hook takes.
A traffic-shifting strategy on an existing VPC is no settings question: the stack looks up where the hook
goes out (tests/test_existing_vpc_egress.py)."""

from __future__ import annotations

import re

import pytest

from components.settings import PROJECT, DeploymentStrategyKind, SettingsError, parse_settings
from functions.ecs_smoke_test import MAX_SMOKE_PATHS

EXISTING_VPC = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"],
    "privateSubnetIds": ["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"],
}


def parse(**raw):
    return parse_settings(raw, PROJECT, "dev")


@pytest.mark.parametrize("kind", ["blue-green", "canary", "linear"])
def test_an_existing_vpc_without_test_listener_cidrs_is_accepted(kind):
    settings = parse(deploymentStrategy=kind, **EXISTING_VPC)
    assert settings.ecs is not None and (settings.ecs.strategy.kind.value, settings.ecs.strategy.test_listener_cidrs) == (kind, ())


def test_production_on_an_existing_vpc_keeps_its_default_canary():
    settings = parse(production=True, allowPlainHttp=True, **EXISTING_VPC)
    assert settings.ecs is not None and settings.ecs.strategy.kind is DeploymentStrategyKind.CANARY


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
