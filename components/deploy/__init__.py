"""Deploy targets, keyed by the `deployTarget` setting.

Adding a target (App Runner, ECS blue/green, ...) is one module plus one line in TARGETS. The module
provides a `from_settings` function returning a `DeployTarget` (its stages, metrics, service URL and
failure events), its component `TYPE`, its `target_group_tags` and its `REPORT` (what the offline plan
shows of it). Nothing outside the module names the target. (Its config keys, if it has any, are
declared in the key table (components/settings/keys.py), and its name is a `DeployTargetKind`.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi

from components.contracts import DeployInputs, DeployTarget
from components.deploy import ecs, eks
from components.deploy.report import TargetReport
from components.network.loadbalancer import NextTargetArgs
from components.network.traffic_shift import TrafficShiftArgs
from components.settings import DeployTargetKind, Settings

TargetFactory = Callable[[str, Settings, DeployInputs, pulumi.ResourceOptions], DeployTarget]


def _no_traffic_shift(_settings: Settings, _hook_source_ips: Sequence[pulumi.Input[str]]) -> TrafficShiftArgs | None:
    return None


@dataclass(frozen=True)
class TargetModule:
    type: str
    """The target component's type token."""
    create: TargetFactory
    target_group_tags: Callable[[Settings], dict[str, str]]
    """Tags the target needs on the load balancer's target group."""
    report: TargetReport
    """What the offline plan shows of the target: report rows, diagram blocks."""
    traffic_shift: Callable[[Settings, Sequence[pulumi.Input[str]]], TrafficShiftArgs | None] = _no_traffic_shift
    """What the target needs on the load balancer to shift traffic between two target groups (its second
    target group, listener rules, test listener), given the NAT gateway addresses. Omitted: nothing."""


# Keyed by the deployTarget value (a DeployTargetKind is a str): a test can register another target.
TARGETS: dict[str, TargetModule] = {
    DeployTargetKind.ECS: TargetModule(ecs.TYPE, ecs.from_settings, ecs.target_group_tags, ecs.REPORT, ecs.traffic_shift_args),
    DeployTargetKind.EKS: TargetModule(eks.TYPE, eks.from_settings, eks.target_group_tags, eks.REPORT),
}


def target_module(settings: Settings) -> TargetModule:
    try:
        return TARGETS[settings.deploy_target]
    except KeyError:
        raise NotImplementedError(f"deployTarget: {settings.deploy_target.value!r} has no deploy target module yet") from None


def module_of_type(type_: str) -> TargetModule | None:
    """The registered target whose component has type token `type_` (how the offline plan finds it)."""
    return next((module for module in TARGETS.values() if module.type == type_), None)


def next_target_args(settings: Settings) -> NextTargetArgs | None:
    """What the load balancer adds for nextDeployTarget: the next target's own target group (its tags)."""
    if settings.next_deploy_target is None:
        return None
    following = settings.for_next_target()
    return NextTargetArgs(kind=following.deploy_target.value, target_group_tags=target_module(following).target_group_tags(following))


def create_target(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions) -> DeployTarget:
    return target_module(settings).create(name, settings, inputs, opts)


def moved_out_of_target(target_name: str) -> list[pulumi.Alias]:
    """Aliases for a component that was a child of the deploy target component `target_name` (of
    either type) before it became the stack's: its resources keep their state instead of being
    replaced. The network and the load balancer moved so that a target switch keeps them."""
    stack, project = pulumi.get_stack(), pulumi.get_project()
    return [pulumi.Alias(parent=f"urn:pulumi:{stack}::{project}::{module.type}::{target_name}") for module in TARGETS.values()]
