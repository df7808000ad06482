"""Logical (Pulumi) names of a service's components, in one place.

The implicit service (a stack without `services`) keeps the names stacks had before `services` existed, so its URNs
are unchanged. A named service `s` prefixes each of its components' names: `f"{s}-{base}"` ("api-pipeline",
"api-deploy"); the components derive their children's names from that name. Shared components (network, load
balancer, logs key, artifacts, records, audit trail, notification topic) keep their names whatever the services.

A named service whose name is the stack's `serviceName` adopts the single-service stack's resources: its resources
carry an alias to today's name (`adopting`), and their physical names are unchanged because its prefix
(project-stack-<name>) is the stack's. So moving a stack to `services` replaces none of them.
"""

from __future__ import annotations

import pulumi

from components.settings import ServiceSettings


def service_resource_name(service: ServiceSettings, base: str) -> str:
    """The logical name of `service`'s component `base` ("pipeline", "deploy", "alarms", ...)."""
    return base if service.implicit else f"{service.name}-{base}"


def adopts_stack(service: ServiceSettings, stack_service_name: str) -> bool:
    """`service` is the entry named like the stack's serviceName: it takes over the single-service resources."""
    return not service.implicit and service.name == stack_service_name


def adopting(service: ServiceSettings, stack_service_name: str) -> pulumi.ResourceOptions:
    """The options of each of `service`'s components: when it adopts the stack's single-service resources, every
    resource it creates (the component and all its children) named `<service>-<rest>` carries an alias to `<rest>`,
    the name it had in the stack of one service. (A child named after its parent follows the parent's alias anyway;
    this also covers the children named otherwise, such as the rules of a security group.) Otherwise no options."""
    if not adopts_stack(service, stack_service_name):
        return pulumi.ResourceOptions()
    stem = f"{service.name}-"

    def adopt(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.name.startswith(stem):
            return None
        return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=args.name[len(stem) :])])))

    return pulumi.ResourceOptions(transformations=[adopt])
