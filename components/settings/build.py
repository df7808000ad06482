"""The build part: where the Dockerfile is, and the CodeBuild architecture, compute type and timeout."""

from __future__ import annotations

import re

from components.settings.constants import BUILD_COMPUTE_TYPES
from components.settings.model import BuildSettings
from components.settings.reading import _enum, _fail, _in_range, _Reader


def _build(reader: _Reader) -> BuildSettings:
    architecture = _enum(reader, "cpuArchitecture")
    compute = reader.get("buildComputeType")
    allowed = BUILD_COMPUTE_TYPES[architecture]
    if compute not in allowed:
        raise _fail("buildComputeType", compute, f"allowed for {architecture.value}: {', '.join(allowed)}", "pick one of those compute types")
    app_path = reader.get("appPath").strip("/")
    if not app_path or ".." in app_path.split("/") or not re.match(r"^[\w./-]+$", app_path):
        raise _fail("appPath", reader.get("appPath"), "allowed: a relative folder such as 'app' or 'services/api'", "set appPath to the folder holding the Dockerfile")
    return BuildSettings(
        app_path=app_path,
        architecture=architecture,
        compute_type=compute,
        timeout_minutes=_in_range(reader, "buildTimeoutMinutes"),
    )
