"""Workloads attach themselves to the load balancer (components/network/attach.py, loadbalancer.py): the rules,
priorities, conditions, target groups and security-group pairs of several attachments on one load balancer, the
404 default, the order of an ECS service after its rule, and what the smoke test of a routed service sends.

Small programs under the recording mocks: a LoadBalancer and its attachments, without the whole stack."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.sync_await import _sync_await

from components.contracts import DeployInputs
from components.delivery.image_record import ImageRecord, ImageRecordArgs
from components.network.attach import CATCH_ALL_AFTER_ROUTES, AttachArgs, Attachment, RouteArgs
from components.network.loadbalancer import LoadBalancer, LoadBalancerArgs, target_group_name
from components.network.traffic_shift import TrafficShiftArgs
from components.settings import Routing, ServiceSettings, parse_settings
from offline.mocks import PROJECT, CloudMocks, _abandon_pending_tasks
from offline.recording import RecordingMonitor, Resource
from program.targets import create_target, route_args

RULE, LISTENER, TG = "aws:lb/listenerRule:ListenerRule", "aws:lb/listener:Listener", "aws:lb/targetGroup:TargetGroup"
EGRESS, INGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NOT_FOUND = {"type": "fixed-response", "fixedResponse": {"contentType": "text/plain", "messageBody": "Not found", "statusCode": "404"}}
SHIFT = TrafficShiftArgs(test_listener_port=9000, test_listener_cidrs=("203.0.113.0/24",))
API = RouteArgs(priority=20, paths=("/api/*",))
ADMIN = RouteArgs(priority=30, hosts=("admin.example.com",))
SHOP = RouteArgs(priority=40, hosts=("shop.example.com",), paths=("/shop/*",))


class Program:
    """A program's records and the Outputs it asked to see resolved."""

    def __init__(self, build: Callable[[], dict[str, Any]]):
        cloud = CloudMocks("us-east-1")
        monitor = RecordingMonitor(cloud)
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_mocks(cloud, project=PROJECT, stack="attach", preview=False, monitor=monitor)
        seen = build()
        _sync_await(pulumi.runtime.stack.wait_for_rpcs())
        self.resources: list[Resource] = list(monitor.records.values())
        self.seen = {k: _sync_await(pulumi.Output.from_input(v).future()) for k, v in seen.items()}

    def named(self, name: str) -> Resource:
        [found] = [r for r in self.resources if r.name == name]
        return found

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]


def load_balancer(name: str = "deploy-lb") -> LoadBalancer:
    return LoadBalancer(
        name,
        LoadBalancerArgs(
            name_prefix="container-cicd-dev-app",
            vpc_id="vpc-1",
            public_subnet_ids=["subnet-a", "subnet-b"],
            network_variant="created:10.0.0.0/16",
            ingress_cidrs=("0.0.0.0/0",),
            certificate_arn=None,
            service_domain=None,
            hosted_zone_id=None,
            production=False,
            deletion_protection=False,
            access_log_expiry_days=None,
            waf=False,
        ),
    )


def attach(lb: LoadBalancer, name: str, route: RouteArgs | None = None, shift: TrafficShiftArgs | None = None, **more: Any) -> Attachment:
    return lb.attach(AttachArgs(name=name, target_kind="ecs", health_check_path="/health", route=route, traffic_shift=shift, **more))


@pytest.fixture(scope="module")
def routed() -> Program:
    """A default workload, two routed ones (by path, by host) and a traffic-shifting one routed by host and path."""

    def build() -> dict[str, Any]:
        lb = load_balancer()
        owner = pulumi.ComponentResource("test:index:Workloads", "workloads")
        with lb.attaching():
            web = attach(lb, "deploy-lb")
            api = attach(lb, "api", API, name_prefix="container-cicd-dev-api")
            admin = attach(lb, "admin", ADMIN, name_prefix="container-cicd-dev-admin")
            shop = attach(lb, "shop", SHOP, SHIFT, name_prefix="container-cicd-dev-shop")
        api.connect("api", "sg-api", 8081, parent=owner)
        shift = cast(Any, shop.traffic_shift)
        return {
            "web": web.url,
            "api": api.url,
            "admin": admin.url,
            "shop": shop.url,
            "dns": lb.dns_name,
            "shop_test": [shift.test_url, shift.test_host, shift.test_path_prefix],
            "ready": [[cast(Any, r).urn for r in a.ready] for a in (web, api, admin, shop)],
        }

    return Program(build)


def arn_of(program: Program, name: str) -> str:
    return program.named(name).outputs["arn"]


def test_the_default_workload_is_the_listeners_default_action(routed):
    listener = routed.named("deploy-lb-http")
    assert listener.inputs["defaultActions"] == [{"type": "forward", "targetGroupArn": arn_of(routed, "deploy-lb-tg-ecs")}]
    assert routed.seen["web"] == f"http://{routed.seen['dns']}"


def test_routed_workloads_get_a_rule_at_their_priority_with_their_conditions(routed):
    listener = routed.named("deploy-lb-http")
    rules = {r.name: r for r in routed.of_type(RULE)}
    assert set(rules) == {"deploy-lb-rule-20", "deploy-lb-rule-30", "shop-production-rule", "shop-test-rule"}
    assert rules["deploy-lb-rule-20"].inputs == {
        "listenerArn": listener.outputs["arn"],
        "priority": 20.0,
        "conditions": [{"pathPattern": {"values": ["/api/*"]}}],
        "actions": [{"type": "forward", "targetGroupArn": arn_of(routed, "api-tg-ecs")}],
        "tags": {},
    }
    assert rules["deploy-lb-rule-30"].inputs["priority"] == 30.0
    assert rules["deploy-lb-rule-30"].inputs["conditions"] == [{"hostHeader": {"values": ["admin.example.com"]}}]
    assert rules["deploy-lb-rule-30"].inputs["actions"] == [{"type": "forward", "targetGroupArn": arn_of(routed, "admin-tg-ecs")}]
    # Routed rules are not ECS's: a change of route or target group reaches them.
    assert rules["deploy-lb-rule-20"].ignore_changes == ()


def test_a_shifting_routed_workloads_rules_carry_its_route_on_both_listeners(routed):
    rules = {r.name: r for r in routed.of_type(RULE)}
    production, test = rules["shop-production-rule"], rules["shop-test-rule"]
    conditions = [{"hostHeader": {"values": ["shop.example.com"]}}, {"pathPattern": {"values": ["/shop/*"]}}]
    primary, alternate = arn_of(routed, "shop-tg-ecs"), arn_of(routed, "shop-tg-alt")
    assert (production.inputs["priority"], production.inputs["conditions"]) == (40.0, conditions)
    assert (test.inputs["priority"], test.inputs["conditions"]) == (40.0, conditions)
    assert production.inputs["listenerArn"] == routed.named("deploy-lb-http").outputs["arn"]
    assert test.inputs["listenerArn"] == routed.named("deploy-lb-test").outputs["arn"]
    weights = lambda rule: [(g["arn"], g["weight"]) for g in rule.inputs["actions"][0]["forward"]["targetGroups"]]  # noqa: E731
    assert weights(production) == [(primary, 100.0), (alternate, 0.0)]
    assert weights(test) == [(primary, 0.0), (alternate, 100.0)]
    assert production.ignore_changes == test.ignore_changes == ("actions",)


def test_one_test_listener_answers_404_beside_its_rules(routed):
    [test] = [r for r in routed.of_type(LISTENER) if r.name == "deploy-lb-test"]
    assert (test.inputs["port"], test.inputs["defaultActions"]) == (9000.0, [NOT_FOUND])
    assert len(routed.of_type(LISTENER)) == 2
    [opened] = [r for r in routed.of_type(INGRESS) if r.name.startswith("deploy-lb-alb-in-test")]
    assert (opened.name, opened.inputs["cidrIpv4"], opened.inputs["fromPort"]) == ("deploy-lb-alb-in-test-0", "203.0.113.0/24", 9000.0)


def test_each_workload_has_its_own_target_groups_named_by_its_prefix(routed):
    names = {r.name: r.inputs["name"] for r in routed.of_type(TG)}
    assert names == {
        "deploy-lb-tg-ecs": "container-cicd-dev-app-tg",
        "api-tg-ecs": "container-cicd-dev-api-tg",
        "admin-tg-ecs": "container-cicd-dev-admin-tg",
        "shop-tg-ecs": "container-cicd-dev-shop-tg",
        "shop-tg-alt": "container-cicd-dev-shop-tg-alt",
    }
    args = LoadBalancerArgs("container-cicd-dev-app", "vpc", [], "created:10.0.0.0/16", (), None, None, None, False, False, None, False)
    assert target_group_name(args, "ecs", name_prefix="container-cicd-dev-api") == names["api-tg-ecs"]


def test_urls_and_what_the_smoke_test_sends(routed):
    dns = routed.seen["dns"]
    assert routed.seen["api"] == f"http://{dns}/api"
    assert routed.seen["admin"] == "http://admin.example.com"
    assert routed.seen["shop"] == "http://shop.example.com/shop"
    assert routed.seen["shop_test"] == [f"http://{dns}:9000", "shop.example.com", "/shop"]


def test_ready_names_what_associates_each_target_group(routed):
    urn = lambda name: routed.named(name).urn  # noqa: E731
    ready = [[u.rsplit("::", 1)[-1] for u in names] for names in routed.seen["ready"]]
    assert ready == [["deploy-lb-http"], ["deploy-lb-rule-20"], ["deploy-lb-rule-30"], ["shop-production-rule", "shop-test-rule"]]
    assert urn("deploy-lb-rule-20")


def test_connect_opens_the_port_both_ways_between_alb_and_workload(routed):
    alb_sg = routed.named("deploy-lb-alb-sg").id
    [egress] = [r for r in routed.of_type(EGRESS) if r.name == "api-alb-to-service"]
    [ingress] = [r for r in routed.of_type(INGRESS) if r.name == "api-service-from-alb"]
    assert egress.inputs == {
        "securityGroupId": alb_sg,
        "referencedSecurityGroupId": "sg-api",
        "ipProtocol": "tcp",
        "fromPort": 8081.0,
        "toPort": 8081.0,
        "description": "To the service's container port",
    }
    assert ingress.inputs == {
        "securityGroupId": "sg-api",
        "referencedSecurityGroupId": alb_sg,
        "ipProtocol": "tcp",
        "fromPort": 8081.0,
        "toPort": 8081.0,
        "description": "Container port from the load balancer",
    }
    assert egress.replace_on_changes == ingress.replace_on_changes == ("fromPort", "toPort")


def test_without_a_default_workload_the_listener_answers_404_and_a_default_catch_all_comes_last():
    def build() -> dict[str, Any]:
        lb, other = load_balancer(), load_balancer("other-lb")
        with lb.attaching():
            attach(lb, "api", API)
        with other.attaching():
            attach(other, "other-lb", shift=SHIFT)
            attach(other, "api", API)
        return {}

    program = Program(build)
    assert program.named("deploy-lb-http").inputs["defaultActions"] == [NOT_FOUND]
    rules = {r.name: r.inputs for r in program.of_type(RULE) if r.name.startswith("other-lb")}
    assert {name: (r["priority"], r["conditions"]) for name, r in rules.items()} == {
        "other-lb-production-rule": (float(CATCH_ALL_AFTER_ROUTES), [{"pathPattern": {"values": ["/*"]}}]),
        "other-lb-test-rule": (float(CATCH_ALL_AFTER_ROUTES), [{"pathPattern": {"values": ["/*"]}}]),
        "other-lb-rule-20": (20.0, [{"pathPattern": {"values": ["/api/*"]}}]),
    }


def test_a_shifting_default_alone_keeps_priority_1_and_a_standby_gets_weight_0():
    def build() -> dict[str, Any]:
        lb, switching = load_balancer(), load_balancer("switching-lb")
        with lb.attaching():
            attach(lb, "deploy-lb", shift=SHIFT)
        with switching.attaching():
            switching.attach(AttachArgs(name="switching-lb", target_kind="eks", health_check_path="/health", standby=True))
            attach(switching, "switching-lb")
        return {}

    program = Program(build)
    assert {r.name: r.inputs["priority"] for r in program.of_type(RULE)} == {"deploy-lb-production-rule": 1.0, "deploy-lb-test-rule": 1.0}
    # The standby attached first: the default action waits for the serving workload all the same.
    forward = program.named("switching-lb-http").inputs["defaultActions"][0]["forward"]["targetGroups"]
    assert forward == [{"arn": arn_of(program, "switching-lb-tg-ecs"), "weight": 100.0}, {"arn": arn_of(program, "switching-lb-tg-eks"), "weight": 0.0}]


def test_attaching_is_one_block_and_conflicts_are_refused():
    def build() -> dict[str, Any]:
        lb = load_balancer()
        with pytest.raises(RuntimeError, match=r"^LoadBalancer.attach\('api'\): attach inside `with load_balancer.attaching\(\):`"):
            attach(lb, "api", API)
        with lb.attaching():
            attach(lb, "web")
            with pytest.raises(ValueError, match=r"^LoadBalancer.attach\('web2'\): 'web' already takes the listener's default"):
                attach(lb, "web2")
            attach(lb, "api", API)
            with pytest.raises(ValueError, match=r"^LoadBalancer.attach\('api2'\): 'api' already takes priority 20; give each service"):
                attach(lb, "api2", RouteArgs(20, hosts=("api.example.com",)))
        with pytest.raises(RuntimeError, match=r"attaching\(\) runs once"), lb.attaching():
            pass
        return {}

    Program(build)


def test_plain_rules_are_named_by_priority_so_exchanging_priorities_replaces_no_rule():
    """Two services exchanging priorities: the same two rules (URNs), each updated in place, so no rule is created at
    a priority another still holds (PriorityInUse); a new priority is a new rule at a priority no plain rule holds."""

    def rules(api: int, admin: int) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            lb = load_balancer()
            with lb.attaching():
                attach(lb, "api", RouteArgs(api, paths=("/api/*",)))
                attach(lb, "admin", RouteArgs(admin, hosts=("admin.example.com",)))
            return {}

        return {r.urn: (r.inputs["priority"], r.inputs["conditions"]) for r in Program(build).of_type(RULE)}

    before, after = rules(20, 30), rules(30, 20)
    assert set(before) == set(after) and len(before) == 2
    assert {u.rsplit("::", 1)[-1]: v[1] for u, v in before.items()}["deploy-lb-rule-20"] == [{"pathPattern": {"values": ["/api/*"]}}]
    assert {u.rsplit("::", 1)[-1]: v[1] for u, v in after.items()}["deploy-lb-rule-20"] == [{"hostHeader": {"values": ["admin.example.com"]}}]


def test_a_failure_while_attaching_fails_the_listener_instead_of_leaving_it_waiting():
    """The default action is settled when the block ends; an exception in it fails the listener's registration with
    that exception (no listener with a half-known default action, no program waiting for an input forever)."""

    def build() -> dict[str, Any]:
        lb = load_balancer()
        with pytest.raises(RuntimeError, match="^a target failed$"), lb.attaching():
            attach(lb, "web")
            raise RuntimeError("a target failed")
        return {}

    with pytest.raises(RuntimeError, match="^a target failed$"):
        Program(build)
    _abandon_pending_tasks()


def test_a_standby_never_stands_by_a_traffic_shifting_workload():
    def build() -> dict[str, Any]:
        lb = load_balancer()
        with lb.attaching():
            attach(lb, "shop", SHOP, SHIFT)
            with pytest.raises(ValueError, match=r"^LoadBalancer.attach\('shop'\): a standby workload shifts no traffic and stands by no workload that does \(priority 40\)$"):
                lb.attach(AttachArgs(name="shop", target_kind="eks", health_check_path="/health", route=SHOP, standby=True))
            with pytest.raises(ValueError, match=r"a standby workload shifts no traffic"):
                lb.attach(AttachArgs(name="web", target_kind="eks", health_check_path="/health", traffic_shift=SHIFT, standby=True))
        return {}

    Program(build)


def test_route_args_from_a_services_settings():
    settings = parse_settings({}, PROJECT, "dev")
    assert route_args(ServiceSettings("app", settings, None, None, implicit=True)) is None
    routed = ServiceSettings("shop", settings, Routing(hosts=("shop.example.com",), paths=("/shop/*",)), 40)
    assert route_args(routed) == SHOP


@pytest.mark.parametrize(
    ("route", "match"),
    [
        (dict(priority=1, paths=("/a/*",)), r"^RouteArgs.priority: 1 is not allowed; use 2 to 49999 \(1 and 50000 belong to"),
        (dict(priority=50000, paths=("/a/*",)), r"^RouteArgs.priority: 50000 is not allowed"),
        (dict(priority=10), r"^RouteArgs: a route needs hosts or paths"),
        (dict(priority=10, hosts=("a", "b", "c"), paths=("/a", "/b", "/c")), r"^RouteArgs: 3 hosts and 3 paths are 6 condition values; an ALB rule takes at most 5$"),
        (dict(priority=10, paths=("api/*",)), r"^RouteArgs.paths: 'api/\*' is not allowed; a path pattern starts with \"/\""),
    ],
)
def test_bad_routes_are_refused(route, match):
    with pytest.raises(ValueError, match=match):
        RouteArgs(**route)


def test_route_host_and_prefix():
    assert RouteArgs(10, hosts=("*.example.com", "www.example.com")).host == "www.example.com"
    assert RouteArgs(10, paths=("/api/v1/*",)).path_prefix == "/api/v1"
    assert RouteArgs(10, paths=("/img*",)).path_prefix == "/img"
    with pytest.raises(ValueError, match=r"are all wildcards; add one plain host name"):
        _ = RouteArgs(10, hosts=("*.example.com",)).host


@pytest.fixture(scope="module")
def services() -> Program:
    """Two ECS services on one load balancer, built by the target registry as the stack builds its targets: `api`
    rolling behind a path rule, `shop` blue-green behind a host and path rule."""

    def build() -> dict[str, Any]:
        lb = load_balancer()
        network = cast(Any, SimpleNamespace(vpc_id="vpc-1", private_subnet_ids=["subnet-a", "subnet-b"], private_egress=[], nat_public_ips=[]))
        targets = {}
        with lb.attaching():
            for service, route, strategy in (("api", API, "rolling"), ("shop", SHOP, "blue-green")):
                settings = parse_settings({"serviceName": service, "deploymentStrategy": strategy}, PROJECT, "dev")
                parameters = {"parameter_name": f"/p/dev/{service}/image", "known_good_parameter_name": f"/p/dev/{service}/good"}
                record = ImageRecord(f"{service}-image-record", ImageRecordArgs(bootstrap_image=settings.workload.bootstrap_image, **parameters))
                inputs = DeployInputs(
                    workload=settings.workload,
                    network=network,
                    load_balancer=lb,
                    image_record=record,
                    repository_url=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{service}",
                    repository_arn=f"arn:aws:ecr:us-east-1:123456789012:repository/{service}",
                    repository_name=service,
                    log_retention_days=30,
                    log_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
                    production=False,
                    route=route,
                    attachment_name=service,
                )
                targets[service] = create_target(f"{service}-deploy", settings, inputs)
        return {f"{service}_url": target.service_url for service, target in targets.items()}

    return Program(build)


def test_an_ecs_service_waits_for_the_rule_that_puts_its_target_group_on_the_load_balancer(services):
    service = {r.name: r for r in services.of_type("aws:ecs/service:Service")}
    assert services.named("deploy-lb-rule-20").ref in service["api-deploy-service"].depends_on
    assert services.named("deploy-lb-http").ref not in service["api-deploy-service"].depends_on
    assert {services.named(n).ref for n in ("shop-production-rule", "shop-test-rule")} <= set(service["shop-deploy-service"].depends_on)
    assert service["api-deploy-service"].inputs["loadBalancers"][0]["targetGroupArn"] == arn_of(services, "api-tg-ecs")
    advanced = service["shop-deploy-service"].inputs["loadBalancers"][0]["advancedConfiguration"]
    assert advanced["productionListenerRule"] == arn_of(services, "shop-production-rule")
    assert advanced["testListenerRule"] == arn_of(services, "shop-test-rule")


def test_each_service_opens_its_own_port_pair_and_the_listener_answers_404_without_a_default(services):
    assert sorted(r.name for r in services.of_type(EGRESS) if "-alb-to-" in r.name) == ["api-deploy-alb-to-service", "shop-deploy-alb-to-service"]
    assert services.named("deploy-lb-http").inputs["defaultActions"] == [NOT_FOUND]


def test_a_routed_services_smoke_test_sends_its_host_and_requests_under_its_path(services):
    [hook] = [r for r in services.of_type("aws:lambda/function:Function") if r.name == "shop-deploy-smoke-test-function"]
    variables = hook.inputs["environment"]["variables"]
    assert hook.inputs["handler"] == "functions.routed_smoke_test.handler"
    assert "functions/routed_smoke_test.py" in hook.inputs["code"]["archive"]
    assert (variables["TEST_HOST_HEADER"], variables["HEALTH_PATH"], json.loads(variables["SMOKE_PATHS"])) == ("shop.example.com", "/shop/ping", [])
    assert services.seen["shop_url"] == "http://shop.example.com/shop"
    # The other functions keep the one package, and so does every stack without a host-routed service.
    verifier = services.named("shop-deploy-verify-function")
    assert "functions/routed_smoke_test.py" not in verifier.inputs["code"]["archive"]
