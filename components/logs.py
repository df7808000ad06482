"""Log groups that belong to a deploy target."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.contracts import DeployInputs


def target_log_group(name: str, name_prefix: str, inputs: DeployInputs, parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    """A log group that outlives its deploy target.

    A switch of `deployTarget` deletes the old target's resources; its logs are evidence a team still
    wants, so the group is kept in CloudWatch (`retain_on_delete`; it empties itself after its
    retention) instead of being deleted or protected (a protected one would stop the switch). Kept
    groups must not block the next one: CloudWatch Logs completes `name_prefix` with a unique suffix,
    so switching back, or `pulumi destroy` and `pulumi up` again, never meets an existing name.
    """
    return aws.cloudwatch.LogGroup(
        name,
        name_prefix=name_prefix,
        retention_in_days=inputs.log_retention_days,
        tags=inputs.tags,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
    )
