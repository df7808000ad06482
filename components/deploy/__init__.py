"""Deploy targets, keyed by the `deployTarget` setting.

Adding a target (App Runner, ECS blue/green, ...) is one module with a `from_settings`
function returning a `DeployTarget`, plus one line in TARGETS.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from components.contracts import DeployInputs, DeployTarget
from components.deploy import ecs, eks
from components.settings import DeployTargetKind, Settings

TargetFactory = Callable[[str, Settings, DeployInputs, pulumi.ResourceOptions], DeployTarget]

TARGETS: dict[DeployTargetKind, TargetFactory] = {
    DeployTargetKind.ECS: ecs.from_settings,
    DeployTargetKind.EKS: eks.from_settings,
}


def create_target(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions) -> DeployTarget:
    try:
        factory = TARGETS[settings.deploy_target]
    except KeyError:
        raise NotImplementedError(f"deployTarget: {settings.deploy_target.value!r} has no deploy target module yet") from None
    return factory(name, settings, inputs, opts)
