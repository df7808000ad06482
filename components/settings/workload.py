"""The workload part: the container contract (name, port, health check, bootstrap image), its count and deploy timeout."""

from __future__ import annotations

import re

from components.settings.constants import BOOTSTRAP_HEALTH_PATH, DEFAULT_BOOTSTRAP_IMAGE
from components.settings.enums import DeploymentStrategyKind
from components.settings.model import WorkloadSettings
from components.settings.reading import _fail, _in_range, _matching, _Reader
from components.settings.strategy import deployment_timeout

# registry[:port]/path (lower case: Docker refuses upper-case repository names), then :tag, @digest or both.
# https://github.com/distribution/reference/blob/main/reference.go (the grammar `docker pull` uses)
_IMAGE = re.compile(
    r"^(?P<registry>[A-Za-z0-9.-]+(:\d+)?)(?P<path>(/[a-z0-9]+([._-]+[a-z0-9]+)*)+)"
    r"(?P<tag>:[\w][\w.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?$"
)


def _workload(reader: _Reader, strategy: DeploymentStrategyKind | None) -> WorkloadSettings:
    """`strategy`: how the target deploys (None when deploymentStrategy has a problem of its own); the
    deploy timeout's default follows it."""
    name = _matching(reader, "containerName")
    port = _in_range(reader, "containerPort")
    path = reader.get("healthCheckPath")
    if not path.startswith("/") or len(path) > 1024 or " " in path:
        raise _fail("healthCheckPath", path, "allowed: an absolute URL path such as /ping (max 1024 chars)", "start the path with '/'")
    image = reader.get("bootstrapImage")
    match = _IMAGE.match(image)
    if not match or not (match.group("tag") or match.group("digest")):
        raise _fail(
            "bootstrapImage",
            image,
            "allowed: registry/repository with a :tag, an @sha256: digest or both; the repository in lower case",
            "write e.g. 'public.ecr.aws/docker/library/traefik:v3.7'",
        )
    if image == DEFAULT_BOOTSTRAP_IMAGE and path != BOOTSTRAP_HEALTH_PATH:
        raise _fail(
            "healthCheckPath",
            path,
            f"the default bootstrapImage answers only {BOOTSTRAP_HEALTH_PATH}",
            f"set bootstrapImage to an image that answers {path} on containerPort, or keep healthCheckPath at {BOOTSTRAP_HEALTH_PATH}",
        )
    return WorkloadSettings(
        container_name=name,
        container_port=port,
        health_check_path=path,
        bootstrap_image=image,
        desired_count=_in_range(reader, "desiredCount"),
        deployment_timeout_minutes=deployment_timeout(reader, strategy),
    )
