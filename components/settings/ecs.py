"""The ECS part (deployTarget ecs only): the Fargate task size and the deployment strategy (strategy.py)."""

from __future__ import annotations

from components.settings.constants import FARGATE_CPU_MEMORY
from components.settings.enums import DeploymentStrategyKind
from components.settings.keys import KEYS
from components.settings.model import EcsSettings
from components.settings.reading import _fail, _Reader
from components.settings.strategy import _strategy


def _ecs(reader: _Reader, strategy: DeploymentStrategyKind, production: bool, timeout: int | None) -> EcsSettings:
    """`strategy`: deploymentStrategy resolved; `timeout`: the deploy action's (None when
    deploymentTimeoutMinutes has a problem of its own)."""
    cpu = reader.get("ecsCpu")
    memory = reader.get("ecsMemory")
    if cpu not in KEYS["ecsCpu"].allowed_values:
        raise _fail("ecsCpu", cpu, f"Fargate allows {', '.join(map(str, KEYS['ecsCpu'].allowed_values))}", "pick one of those CPU sizes")
    if memory not in FARGATE_CPU_MEMORY[cpu]:
        pairs = FARGATE_CPU_MEMORY[cpu]
        raise _fail(
            "ecsMemory", memory, f"with ecsCpu {cpu} Fargate allows {pairs[0]}-{pairs[-1]} MiB ({', '.join(map(str, pairs))})", "set ecsMemory to one of those, or change ecsCpu"
        )
    return EcsSettings(cpu=cpu, memory=memory, strategy=_strategy(reader, strategy, production, timeout))
