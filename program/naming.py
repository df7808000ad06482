"""Logical (Pulumi) names of a service's components, in one place.

The implicit service (a stack without `services`) keeps the names stacks had before `services` existed, so its URNs
are unchanged. A named service `s` prefixes each of its components' names: `f"{s}-{base}"` ("api-pipeline",
"api-deploy"); the components derive their children's names from that name. Shared components (network, load
balancer, logs key, artifacts, records, audit trail, notification topic) keep their names whatever the services.

A named service whose name is the stack's `serviceName` adopts the single-service stack's resources: its components
carry an alias to today's name (`adopted_aliases`), and their physical names are unchanged because its prefix
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


def adopted_aliases(service: ServiceSettings, base: str, stack_service_name: str) -> list[pulumi.Alias]:
    """The aliases of `service`'s component `base`: its single-service name when it adopts the stack's resources
    (children follow: the engine aliases a child whose name starts with its parent's name along with it)."""
    return [pulumi.Alias(name=base)] if adopts_stack(service, stack_service_name) else []


def service_options(service: ServiceSettings, base: str, stack_service_name: str, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """`opts` (omitted: none) with the adopting aliases of `service`'s component `base`."""
    aliases = adopted_aliases(service, base, stack_service_name)
    own = pulumi.ResourceOptions(aliases=aliases) if aliases else pulumi.ResourceOptions()
    return pulumi.ResourceOptions.merge(opts, own) if opts is not None else own
