"""The deploy targets, keyed by the `deployTarget` setting, and how each is built from the settings.

Adding a target (App Runner, ...) is one package under components/deploy plus one line in TARGETS: its component
`TYPE`, the function here that builds it from the settings (a `DeployTarget`: its stages, metrics, attachment,
service URL and failure events) and its `REPORT` (what the offline plan shows of it). The target attaches its
workload to the load balancer itself, from its `DeployInputs`. (Its config keys, if it has any, are declared in the
key table (components/settings/keys.py), and its name is a `DeployTargetKind`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi

from components.contracts import DeployInputs, DeployTarget
from components.deploy import ecs, eks
from components.deploy.report import TargetReport
from components.network.attach import RouteArgs
from components.settings import DeployTargetKind, ServiceSettings, Settings, own_settings

TargetFactory = Callable[[str, Settings, DeployInputs, pulumi.ResourceOptions], DeployTarget]


@dataclass(frozen=True)
class TargetModule:
    type: str
    """The target component's type token."""
    create: TargetFactory
    """Builds the target from the stack's (or the service's) settings."""
    report: TargetReport
    """What the offline plan shows of the target: report rows, diagram blocks."""


def network_variant(settings: Settings) -> str:
    """What decides the stack's VPC (the same value names the load balancer's variants and a created cluster)."""
    return settings.network.vpc_id or f"created:{settings.network.vpc_cidr}"


def spec_parameter_name(settings: Settings) -> str:
    """The SSM parameter that holds the digest of an EKS service's rendered manifests."""
    return f"/{settings.project}/{settings.stack}/{settings.service_name}/eks-workload-spec"


def route_args(service: ServiceSettings) -> RouteArgs | None:
    """A service's route on the load balancer (DeployInputs.route); None: the listener's default (no routing)."""
    if service.routing is None or service.priority is None:
        return None
    return RouteArgs(priority=service.priority, hosts=service.routing.hosts, paths=service.routing.paths)


def ecs_target(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions) -> ecs.EcsTarget:
    cfg = own_settings(settings.ecs, settings)
    return ecs.EcsTarget(
        name,
        ecs.EcsTargetArgs(
            inputs=inputs,
            name_prefix=settings.prefix,
            cpu_units=cfg.cpu,
            memory_mib=cfg.memory,
            architecture=settings.build.architecture,
            strategy=cfg.strategy,
        ),
        opts,
    )


def eks_target(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions) -> eks.EksTarget:
    cfg = own_settings(settings.eks, settings)
    return eks.EksTarget(
        name,
        eks.EksTargetArgs(
            inputs=inputs,
            name_prefix=settings.prefix,
            service_name=settings.service_name,
            kubernetes_version=cfg.kubernetes_version,
            spec_parameter_name=spec_parameter_name(settings),
            network_variant=network_variant(settings),
            existing_cluster_name=cfg.cluster_name,
            public_access_cidrs=cfg.public_access_cidrs,
            load_balancing=cfg.load_balancing,
            pod_cpu_millicores=cfg.pod_cpu_millicores,
            pod_memory_mib=cfg.pod_memory_mib,
            architecture=settings.build.architecture,
        ),
        opts,
    )


# Keyed by the deployTarget value (a DeployTargetKind is a str): a test can register another target.
TARGETS: dict[str, TargetModule] = {
    DeployTargetKind.ECS: TargetModule(ecs.TYPE, ecs_target, ecs.REPORT),
    DeployTargetKind.EKS: TargetModule(eks.TYPE, eks_target, eks.REPORT),
}


def target_module(settings: Settings) -> TargetModule:
    try:
        return TARGETS[settings.deploy_target]
    except KeyError:
        raise NotImplementedError(f"deployTarget: {settings.deploy_target.value!r} has no deploy target module yet") from None


def module_of_type(type_: str) -> TargetModule | None:
    """The registered target whose component has type token `type_` (how the offline plan finds it)."""
    return next((module for module in TARGETS.values() if module.type == type_), None)


def create_target(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions | None = None) -> DeployTarget:
    """The target `settings` name; it attaches itself to `inputs.load_balancer`, so call it inside
    `with load_balancer.attaching():`."""
    return target_module(settings).create(name, settings, inputs, opts or pulumi.ResourceOptions())
