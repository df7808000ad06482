"""What every deploy target runs the same way: the app container's contract beyond name, port and health path.

Shared by the targets (ECS task definition, EKS Deployment), so no target imports another's module.
"""

from __future__ import annotations

from components.settings import BOOTSTRAP_HEALTH_PATH, DEFAULT_BOOTSTRAP_IMAGE, WorkloadSettings


def bootstrap_environment(workload: WorkloadSettings) -> list[dict[str, str]]:
    """Environment of the app container.

    PORT tells the app where to listen. With the default bootstrap image, two TRAEFIK_ variables
    make Traefik answer the health path on the container port; they stay in later revisions (the
    pipeline's deploy step changes only the image) and the app ignores them.
    """
    env = [{"name": "PORT", "value": str(workload.container_port)}]
    if workload.bootstrap_image == DEFAULT_BOOTSTRAP_IMAGE and workload.health_check_path == BOOTSTRAP_HEALTH_PATH:
        env += [
            {"name": "TRAEFIK_ENTRYPOINTS_TRAEFIK_ADDRESS", "value": f":{workload.container_port}"},
            {"name": "TRAEFIK_PING", "value": "true"},
        ]
    return env
