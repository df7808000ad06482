"""Deploy targets: one package per target (ecs/, eks/), each a component that attaches its workload to the
stack's load balancer itself (`LoadBalancer.attach`) and provides its component `TYPE` and its `REPORT` (what
the offline plan shows of it).

Which target a stack runs, and how each is built from the settings, is the program's registry
(program/targets.py); nothing here reads the settings.
"""

from __future__ import annotations

import pulumi

from components.deploy import ecs, eks

# The targets whose component held the network and the load balancer before they became the stack's.
FORMER_PARENT_TYPES = (ecs.TYPE, eks.TYPE)


def moved_out_of_target(target_name: str) -> list[pulumi.Alias]:
    """Aliases for a component that was a child of the deploy target component `target_name` (of
    either type) before it became the stack's: its resources keep their state instead of being
    replaced. The network and the load balancer moved so that a target switch keeps them."""
    stack, project = pulumi.get_stack(), pulumi.get_project()
    return [pulumi.Alias(parent=f"urn:pulumi:{stack}::{project}::{type_}::{target_name}") for type_ in FORMER_PARENT_TYPES]
