"""`services`: many services in one stack, parsed by parse_settings (pure; no stack evaluation). Each entry's settings
are the stack's with its own per-service keys over them; every refusal names the entry, the value as typed, what is
allowed and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.settings import KEYS, PER_SERVICE_KEYS, PROJECT, DeploymentStrategyKind, Routing, ServiceSettings, SettingsError, SourceProvider, parse_settings
from offline import stackfile

ROOT = Path(__file__).resolve().parent.parent

MONOREPO = {
    "sourceProvider": "github",
    "sourceRepository": "my-org/monorepo",
    "desiredCount": 3,
    "alarmCpuPercent": 70,
    "services": [
        {"name": "web", "appPath": "services/web", "sourceFilePaths": ["services/web/**"]},
        {"name": "api", "appPath": "services/api", "paths": ["/api/*"], "priority": 20, "containerPort": 9090, "deploymentStrategy": "canary"},
        {"name": "admin", "hosts": ["admin.example.com"], "desiredCount": 1, "alarmCpuPercent": 90},
    ],
}


def parse(raw: dict, stack: str = "dev") -> object:
    return parse_settings(raw, PROJECT, stack)


def problems(raw: dict, stack: str = "dev") -> list[str]:
    with pytest.raises(SettingsError) as raised:
        parse_settings(raw, PROJECT, stack)
    return list(raised.value.problems)


def stack_file(stack: str) -> dict:
    config = stackfile.stack_config(stack)
    return {k.removeprefix(f"{PROJECT}:"): v for k, v in stackfile.config_strings(config).items() if k.startswith(f"{PROJECT}:")}


def test_three_services_each_with_its_own_keys_over_the_stacks():
    settings = parse(MONOREPO)
    web, api, admin = settings.services
    assert settings.service_list == settings.services
    assert [(s.name, s.routing, s.priority, s.implicit) for s in settings.services] == [
        ("web", None, None, False),
        ("api", Routing(paths=("/api/*",)), 20, False),
        ("admin", Routing(hosts=("admin.example.com",)), 30, False),
    ]
    # Each service's settings are a whole Settings: its name, prefix and tags are its own ...
    assert [s.settings.service_name for s in settings.services] == ["web", "api", "admin"]
    assert [s.settings.prefix for s in settings.services] == ["container-cicd-dev-web", "container-cicd-dev-api", "container-cicd-dev-admin"]
    assert [dict(s.settings.tags) for s in settings.services] == [{"project": PROJECT, "stack": "dev", "service": name, "managed-by": "pulumi"} for name in ("web", "api", "admin")]
    assert all(s.settings.services == () for s in settings.services)
    # ... its keys are over the top-level values, which every other service inherits ...
    assert [s.settings.build.app_path for s in settings.services] == ["services/web", "services/api", "app"]
    assert [s.settings.source.file_paths for s in settings.services] == [("services/web/**",), (), ()]
    assert [s.settings.workload.container_port for s in settings.services] == [8080, 9090, 8080]
    assert [s.settings.workload.desired_count for s in settings.services] == [3, 3, 1]
    assert [s.settings.safety.thresholds.cpu_percent for s in settings.services] == [70, 70, 90]
    assert [s.settings.ecs.strategy.kind for s in settings.services] == [DeploymentStrategyKind.ROLLING, DeploymentStrategyKind.CANARY, DeploymentStrategyKind.ROLLING]
    # (a canary's longer deploy timeout default follows the service's own strategy)
    assert [s.settings.workload.deployment_timeout_minutes for s in settings.services] == [15, 30, 15]
    # ... and the stack-wide parts are the stack's: one repository, one network, one load balancer.
    for service in settings.services:
        assert service.settings.source == settings.source.__class__(SourceProvider.GITHUB, "my-org/monorepo", True, "main", None, service.settings.source.file_paths)
        assert service.settings.network == settings.network and service.settings.promotion == settings.promotion
        assert service.settings.project == PROJECT and service.settings.stack == "dev"
    # The stack's own settings (what shared parts are built from) keep serviceName and its prefix.
    assert (settings.service_name, settings.prefix, settings.workload.desired_count) == ("app", "container-cicd-dev-app", 3)
    assert (web.name, api.settings.workload.container_port, admin.settings.workload.desired_count) == ("web", 9090, 1)


def test_a_codecommit_source_is_the_stacks_repository_for_every_service():
    """The repository's default name comes from serviceName, never from a service's name: one monorepo."""
    settings = parse({"serviceName": "shop", "services": [{"name": "web"}, {"name": "api", "paths": ["/api/*"]}]})
    assert [s.settings.source.repository for s in settings.services] == ["container-cicd-dev-shop", "container-cicd-dev-shop"]


def test_routed_services_default_to_ten_times_their_position():
    settings = parse({"services": [{"name": "shop", "paths": ["/shop/*"]}, {"name": "web"}, {"name": "blog", "hosts": ["blog.example.com"]}, {"name": "docs", "paths": ["/docs"]}]})
    assert [(s.name, s.priority) for s in settings.services] == [("shop", 10), ("web", None), ("blog", 30), ("docs", 40)]


def test_no_default_service_is_allowed():
    """Requests no rule matches get the listener's 404 then."""
    settings = parse({"services": [{"name": "shop", "paths": ["/shop/*"]}, {"name": "blog", "hosts": ["*.example.com", "blog.example.org"], "paths": ["/b/*"]}]})
    assert [s.routing for s in settings.services] == [Routing(paths=("/shop/*",)), Routing(hosts=("*.example.com", "blog.example.org"), paths=("/b/*",))]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_stack_without_services_is_its_one_implicit_service(stack):
    raw = stack_file(stack)
    settings = parse(raw, stack)
    assert settings.services == ()
    assert settings.service_list == (ServiceSettings(name=settings.service_name, settings=settings, routing=None, priority=None, implicit=True),)
    # An empty list is the same stack.
    assert parse({**raw, "services": []}, stack) == settings
    assert parse({**raw, "services": "[]"}, stack) == settings


def test_the_cli_hands_services_over_as_json():
    """Structured config arrives as a JSON string (stackfile.config_strings, as the CLI passes it)."""
    raw = {k: v for k, v in stackfile.config_strings(MONOREPO).items()}
    assert isinstance(raw["services"], str)
    assert parse(raw) == parse(MONOREPO)


def test_per_service_keys_are_keys_and_the_test_listener_is_stack_wide():
    assert set(PER_SERVICE_KEYS) < set(KEYS)
    assert len(set(PER_SERVICE_KEYS)) == len(PER_SERVICE_KEYS)
    assert not {"testListenerPort", "testListenerCidrs", "serviceName", "services", "vpcId", "production", "promoteFrom", "manualApproval"} & set(PER_SERVICE_KEYS)
    assert KEYS["services"].type == "objects" and not KEYS["services"].declared
