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


def test_top_level_test_listener_keys_serve_the_services_that_shift_traffic():
    """The test listener is the load balancer's: set at the top level, read by every shifting service, and refused
    only when no service shifts traffic (a rolling service inherits it unused)."""
    settings = parse({"testListenerPort": 9001, "services": [{"name": "web"}, {"name": "api", "paths": ["/api/*"], "deploymentStrategy": "blue-green"}]})
    assert [s.settings.ecs.strategy.test_listener_port for s in settings.services] == [9001, 9001]
    assert problems({"testListenerPort": 9001, "services": [{"name": "web"}, {"name": "api", "paths": ["/api/*"]}]}) == [
        "testListenerPort: is set but no service's deploymentStrategy shifts traffic, and only blue-green, canary and linear use the test listener; "
        "Fix: remove it (`pulumi config rm testListenerPort`) or set a service's deploymentStrategy to one of those"
    ]
    # Without services the rule is the strategy's, as before.
    assert problems({"testListenerPort": 9001}) == [
        "testListenerPort: is set but deploymentStrategy is 'rolling' (auto: production is false), and only blue-green, canary and linear use it; "
        "Fix: remove it (`pulumi config rm testListenerPort`) or set deploymentStrategy to blue-green, canary or linear"
    ]


def test_codecommit_file_paths_filter_each_service_only_in_a_stack_with_services():
    """A path router starts a CodeCommit service's pipeline by the files a push changed; a stack of one service has
    none (its EventBridge rule starts the pipeline on every push), so there the key is still refused."""
    settings = parse({"services": [{"name": "web", "sourceFilePaths": ["web/**"]}, {"name": "api", "paths": ["/api/*"], "sourceFilePaths": ["api/**", "lib/**"]}]})
    assert [(s.settings.source.provider, s.settings.source.file_paths) for s in settings.services] == [
        (SourceProvider.CODECOMMIT, ("web/**",)),
        (SourceProvider.CODECOMMIT, ("api/**", "lib/**")),
    ]
    assert problems({"sourceFilePaths": ["app/**"]}) == [
        "sourceFilePaths: ['app/**'] is not valid; file-path triggers exist only for connection sources (github, bitbucket, gitlab). "
        "Fix: remove sourceFilePaths or use a connection source"
    ]
    # The key's own rules hold per service.
    assert problems({"services": [{"name": "web", "sourceFilePaths": ["/web/**"]}]}) == [
        "services[0].sourceFilePaths: '/web/**' is not valid; allowed: glob patterns relative to the repository root. Fix: write patterns like 'app/**'"
    ]


NAME_SHAPE = "2-20 chars of a-z, 0-9 and '-', starting with a letter"
ROUTE_HOST = (
    "allowed: a host name of at most 128 characters A-Z, a-z, 0-9, '-' and '.', with the wildcards '*' and '?', at least one '.' and only letters "
    "after the last (an ALB host-header condition). Fix: write the name clients send in the Host header, e.g. 'api.example.com' or '*.example.com', "
    "without scheme, port or path"
)
ROUTE_PATH = (
    "allowed: a path pattern of at most 128 characters from its leading '/': A-Z, a-z, 0-9, _ - . $ / ~ \" ' @ : + and the wildcards '*' and '?' "
    "(an ALB path-pattern condition, compared with the path only, not the query). Fix: write a pattern such as '/api/*'"
)
PRIORITY_RANGE = (
    "allowed: a whole number from 2 to 49999 (the listener evaluates rules from the lowest; 1 and 50000 are a traffic-shifting default service's). "
    "Fix: set services[0].priority between 2 and 49999, "
    "or remove it (default 10 x the entry's position, from 1)"
)
STACK_WIDE = (
    "is stack-wide (one network, load balancer, cluster and set of gates for every service), and an entry takes only name, hosts, paths, "
    "priority and the per-service keys. Fix: set it at the top level"
)

REFUSALS = {
    "services is not a list": (
        {"services": '{"name": "web"}'},
        'services: \'{"name": "web"}\' is not valid; expected a list of entries, each a mapping such as {name: api}. Fix: write services as a YAML list '
        "under the key, one `- name: ...` entry each",
    ),
    "an entry that is not a mapping": (
        {"services": ["web"]},
        "services[0]: 'web' is not valid; allowed: a mapping of a name and the service's own keys. Fix: write the entry as `- name: api` with its keys indented under the name",
    ),
    "an entry without a name": (
        {"services": [{"appPath": "web"}]},
        f"services[0]: has no name; every service needs one ({NAME_SHAPE}), which prefixes its resources' names. Fix: add `name: <name>` to the entry",
    ),
    "a name in capitals": ({"services": [{"name": "Web"}]}, f"services[0].name: 'Web' is not valid; allowed: {NAME_SHAPE}. Fix: set services[0].name to {NAME_SHAPE}"),
    "a name longer than serviceName may be": (
        {"services": [{"name": "a-very-long-service-name"}]},
        f"services[0].name: 'a-very-long-service-name' is not valid; allowed: {NAME_SHAPE}. Fix: set services[0].name to {NAME_SHAPE}",
    ),
    "a name with two dashes in a row": (
        {"services": [{"name": "my--web"}]},
        "services[0].name: 'my--web' is not valid; two '-' in a row make names ECR and CloudTrail refuse. Fix: set services[0].name to 'my-web'",
    ),
    "two services of one name": (
        {"services": [{"name": "web"}, {"name": "web", "paths": ["/web/*"]}]},
        "services[1].name: 'web' is not valid; services[0] is named so too, and each service's name prefixes its own resources' names. Fix: rename one of them",
    ),
    "a stack-wide key in an entry": (
        {"services": [{"name": "web", "vpcId": "vpc-0123456789abcdef0"}]},
        f"services[0].vpcId: 'vpc-0123456789abcdef0' is not valid in an entry; vpcId {STACK_WIDE} (container-cicd:vpcId) and remove it from the entry",
    ),
    "the test listener's port in an entry": (
        {"services": [{"name": "web", "testListenerPort": 9001}]},
        f"services[0].testListenerPort: 9001 is not valid in an entry; testListenerPort {STACK_WIDE} (container-cicd:testListenerPort) and remove it from the entry",
    ),
    "serviceName in an entry": (
        {"services": [{"name": "web", "serviceName": "web"}]},
        "services[0].serviceName: 'web' is not valid in an entry; the entry's `name` is its service's name. Fix: write it as name: 'web'",
    ),
    "a misspelt key in an entry": (
        {"services": [{"name": "web", "contanerPort": 9090}]},
        "services[0].contanerPort: unknown key in a services entry; did you mean 'containerPort'? Fix: rename or remove it",
    ),
    "an unknown key in an entry": (
        {"services": [{"name": "web", "flavour": "vanilla"}]},
        f"services[0].flavour: unknown key in a services entry; an entry takes name, hosts, paths, priority and the per-service keys ({', '.join(PER_SERVICE_KEYS)}). "
        "Fix: rename or remove it",
    ),
    "a per-service key's own rule": (
        {"services": [{"name": "web"}, {"name": "api", "paths": ["/api/*"], "containerPort": 80}]},
        "services[1].containerPort: 80 is not valid; allowed: 1024 to 65535. Fix: set containerPort between 1024 and 65535",
    ),
    "a per-service key for the other target": (
        {"deployTarget": "eks", "services": [{"name": "web", "ecsCpu": 512}]},
        "services[0].ecsCpu: is set but deployTarget is 'eks', and only ecs uses it; Fix: remove it from the entry or set deployTarget to ecs",
    ),
    "two default services": (
        {"services": [{"name": "web"}, {"name": "api", "paths": ["/api/*"]}, {"name": "docs"}]},
        "services: services[0] and services[2] have neither hosts nor paths, and only one service can take the listener's default (the requests no rule "
        "matches). Fix: give all but one of them hosts or paths",
    ),
    "two services on one route (host names compare case-insensitively)": (
        {"services": [{"name": "api", "hosts": ["API.example.com"], "paths": ["/v1/*"]}, {"name": "api-two", "hosts": ["api.example.com"], "paths": ["/v1/*"]}]},
        "services[1]: hosts ['api.example.com'] and paths ['/v1/*'] are not valid; services[0] has the same routing, so the load balancer would send every "
        "such request to the rule of lower priority and never to the other. Fix: give each service its own hosts or paths",
    ),
    "a priority another service has by default": (
        {"services": [{"name": "api", "paths": ["/api/*"]}, {"name": "web"}, {"name": "admin", "hosts": ["admin.example.com"], "priority": 10}]},
        "services[2].priority: 10 is not valid; it is services[0]'s by default (10 x its position, from 1) too, and each listener rule needs a priority of "
        "its own. Fix: set services[2].priority to an unused value",
    ),
    "a default priority another service was given": (
        {"services": [{"name": "api", "paths": ["/api/*"], "priority": 20}, {"name": "admin", "hosts": ["admin.example.com"]}]},
        "services[1].priority: 20 (by default) is not valid; it is services[0]'s too, and each listener rule needs a priority of its own. "
        "Fix: set services[1].priority to an unused value",
    ),
    "priority 0": ({"services": [{"name": "api", "paths": ["/api/*"], "priority": 0}]}, f"services[0].priority: 0 is not valid; {PRIORITY_RANGE}"),
    "priority 1, a traffic-shifting default's": (
        {"services": [{"name": "api", "paths": ["/api/*"], "priority": 1}]},
        f"services[0].priority: 1 is not valid; {PRIORITY_RANGE}",
    ),
    "priority 50000, kept for a shifting default service's catch-all rule": (
        {"services": [{"name": "api", "paths": ["/api/*"], "priority": 50000}]},
        f"services[0].priority: 50000 is not valid; {PRIORITY_RANGE}",
    ),
    "a priority that is no number": ({"services": [{"name": "api", "paths": ["/api/*"], "priority": "first"}]}, f"services[0].priority: 'first' is not valid; {PRIORITY_RANGE}"),
    "a priority on the default service": (
        {"services": [{"name": "web", "priority": 5}]},
        "services[0].priority: 5 is not valid; a service without hosts and paths takes the listener's default action, which has no priority (it comes after "
        "every rule). Fix: remove priority, or give the service hosts or paths",
    ),
    "a URL as a host": ({"services": [{"name": "api", "hosts": ["https://api.example.com"]}]}, f"services[0].hosts: 'https://api.example.com' is not valid; {ROUTE_HOST}"),
    "a host without a dot": ({"services": [{"name": "api", "hosts": ["localhost"]}]}, f"services[0].hosts: 'localhost' is not valid; {ROUTE_HOST}"),
    "a host that ends in a digit": ({"services": [{"name": "api", "hosts": ["example.c0m"]}]}, f"services[0].hosts: 'example.c0m' is not valid; {ROUTE_HOST}"),
    "a host longer than 128 characters": (
        {"services": [{"name": "api", "hosts": ["a" * 125 + ".com"]}]},
        f"services[0].hosts: '{'a' * 125}.com' is not valid; {ROUTE_HOST}",
    ),
    "hosts that are not a list": (
        {"services": [{"name": "api", "hosts": "api.example.com"}]},
        'services[0].hosts: \'api.example.com\' is not valid; expected a list of strings. Fix: write services[0].hosts as a YAML list, e.g. ["a", "b"]',
    ),
    "a host twice": (
        {"services": [{"name": "api", "hosts": ["api.example.com", "api.example.com"]}]},
        "services[0].hosts: ['api.example.com', 'api.example.com'] is not valid; each value once. Fix: remove the repeated 'api.example.com'",
    ),
    "a path without its leading slash": ({"services": [{"name": "api", "paths": ["api/*"]}]}, f"services[0].paths: 'api/*' is not valid; {ROUTE_PATH}"),
    "a path with a space": ({"services": [{"name": "api", "paths": ["/a b"]}]}, f"services[0].paths: '/a b' is not valid; {ROUTE_PATH}"),
    "a path with '&'": ({"services": [{"name": "api", "paths": ["/a&b"]}]}, f"services[0].paths: '/a&b' is not valid; {ROUTE_PATH}"),
    "a path longer than 128 characters": ({"services": [{"name": "api", "paths": ["/" + "p" * 128]}]}, f"services[0].paths: '/{'p' * 128}' is not valid; {ROUTE_PATH}"),
    "more condition values than a rule takes": (
        {"services": [{"name": "api", "hosts": ["a.example.com", "b.example.com", "c.example.com"], "paths": ["/a", "/b", "/c"]}]},
        "services[0]: {'hosts': ['a.example.com', 'b.example.com', 'c.example.com'], 'paths': ['/a', '/b', '/c']} is not valid; a listener rule takes at "
        "most 5 condition values, hosts and paths together. Fix: merge values with the wildcards '*' and '?', or split the service's routes",
    ),
    "more wildcards than a rule takes": (
        {"services": [{"name": "api", "hosts": ["*.example.com", "??.example.org"], "paths": ["/a/*", "/b/*/c/*"]}]},
        "services[0]: {'hosts': ['*.example.com', '??.example.org'], 'paths': ['/a/*', '/b/*/c/*']} is not valid; a listener rule takes at most 5 wildcards "
        "('*' and '?'), hosts and paths together, and these have 6. Fix: use fewer wildcards, e.g. one '/api/*' rather than several patterns under it",
    ),
    "more services than the load balancer takes": (
        {"services": [{"name": f"s{i:02d}", "paths": [f"/s{i}/*"]} for i in range(51)]},
        "services: 51 entries are too many; allowed: at most 50: the services share one load balancer, which takes 100 target groups and 100 rules, and a "
        "service that shifts traffic needs two of each. Fix: split the services over two stacks",
    ),
    "services with nextDeployTarget": (
        {"nextDeployTarget": "eks", "services": [{"name": "web"}]},
        "nextDeployTarget: 'eks' is not valid with services; a switch of deployTarget runs one service's second target behind the listener's default action, "
        "and a stack of many services routes by rules. Fix: finish the switch (set deployTarget to it and remove nextDeployTarget) before adding services, "
        "or remove services until it is done",
    ),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_each_refusal_names_the_entry_the_value_what_is_allowed_and_the_fix(case):
    raw, message = REFUSALS[case]
    assert problems(raw) == [message]


def test_a_promoting_stacks_services_set_no_build_keys():
    assert problems({"promoteFrom": "dev", "services": [{"name": "web", "appPath": "web"}]}, "prod") == [
        "services[0].appPath: 'web' is set, but this stack promotes from 'dev' (promoteFrom): it builds nothing and has no source repository or registry of "
        "its own, so appPath would have no effect. Fix: remove it from the entry, or remove promoteFrom to build in this stack"
    ]
    settings = parse({"promoteFrom": "dev", "services": [{"name": "web", "containerPort": 9000}]}, "prod")
    assert settings.services[0].settings.promotes and settings.services[0].settings.workload.container_port == 9000


def test_every_problem_of_every_entry_is_reported_at_once_and_the_stacks_own_once():
    found = problems(
        {
            "containerPort": 80,
            "services": [
                {"name": "web"},
                {"name": "api", "paths": ["api"], "containerPort": 81, "vpcId": "vpc-1"},
                {"name": "Admin", "hosts": ["admin.example.com"], "alarmCpuPercent": 5},
            ],
        }
    )
    assert [p.split(" ", 1)[0] for p in found] == [
        "containerPort:",  # the stack's, which services[0] inherits: reported once, as the stack's
        "services[1].vpcId:",
        "services[1].paths:",
        "services[1].containerPort:",
        "services[2].name:",
        "services[2].alarmCpuPercent:",
    ]


def test_a_service_named_like_the_stack_keeps_the_stacks_names():
    """Moving a stack to `services`: the entry named serviceName has the prefix the stack's one service had."""
    settings = parse({"serviceName": "shop", "services": [{"name": "shop"}, {"name": "api", "paths": ["/api/*"], "priority": "15"}]})
    assert [(s.name, s.settings.prefix, s.priority) for s in settings.services] == [("shop", settings.prefix, None), ("api", "container-cicd-dev-api", 15)]
