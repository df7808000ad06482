"""The ECS target's Lambda functions (the smoke-test hook, the canary judge hook, the deployment verifier): one code package from
the repository's `functions/` folder; each function is made by `components.lambdas.stack_function`."""

from __future__ import annotations

import pulumi

# The package, file by file: the same files give the same archive (Pulumi hashes an AssetArchive's
# contents), so `pulumi up` updates the code only when one of them changed. A folder archive would also
# pack the interpreter's __pycache__, which changes without a code change. Paths are relative to the
# project directory, where the Pulumi CLI runs the program.
FUNCTION_FILES = (
    "functions/__init__.py",
    "functions/canary_judge.py",
    "functions/deployment_record.py",
    "functions/ecs_canary_hook.py",
    "functions/ecs_smoke_test.py",
    "functions/ecs_verify_deployment.py",
)
# The smoke-test hook of a host-routed service (the same hook, naming the service's host): packed only with that
# hook, so the other functions' code, and every stack without such a service, keep their archive.
ROUTED_SMOKE_TEST = "functions/routed_smoke_test.py"


def functions_archive(*extra: str) -> pulumi.AssetArchive:
    """The package; `extra`: files packed besides FUNCTION_FILES (ROUTED_SMOKE_TEST)."""
    return pulumi.AssetArchive({path: pulumi.FileAsset(path) for path in (*FUNCTION_FILES, *extra)})
