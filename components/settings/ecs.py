"""The ECS part (deployTarget ecs only): the Fargate task size."""

from __future__ import annotations

from components.settings.constants import FARGATE_CPU_MEMORY
from components.settings.keys import KEYS
from components.settings.model import EcsSettings
from components.settings.reading import _fail, _Reader


def _ecs(reader: _Reader) -> EcsSettings:
    cpu = reader.get("ecsCpu")
    memory = reader.get("ecsMemory")
    if cpu not in KEYS["ecsCpu"].allowed_values:
        raise _fail("ecsCpu", cpu, f"Fargate allows {', '.join(map(str, KEYS['ecsCpu'].allowed_values))}", "pick one of those CPU sizes")
    if memory not in FARGATE_CPU_MEMORY[cpu]:
        pairs = FARGATE_CPU_MEMORY[cpu]
        raise _fail(
            "ecsMemory", memory, f"with ecsCpu {cpu} Fargate allows {pairs[0]}-{pairs[-1]} MiB ({', '.join(map(str, pairs))})", "set ecsMemory to one of those, or change ecsCpu"
        )
    return EcsSettings(cpu=cpu, memory=memory)
