"""The EKS target's config-apply trigger: a change of the workload's manifests starts the deploy step.

`pulumi up` writes the manifests' digest into an SSM parameter; EventBridge sees the change and starts the
deploy project without IMAGE_URI, which applies the new spec with the recorded image. The parameter's creation
(first `up`) brings the bootstrap workload up the same way. Created under the target component (`parent`),
with the names and parents they had as the target's method, so no URN changed when they moved here.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.deploy.eks import deploy_step as deploy_step_data
from components.iam import trust_policy


def config_apply_trigger(
    name: str,
    *,
    parent: pulumi.Resource,
    name_prefix: str,
    spec_parameter_name: str,
    manifests_digest: pulumi.Input[str],
    project: aws.codebuild.Project,
    tags: dict[str, str],
    ready: Sequence[pulumi.Resource],
) -> None:
    """The rule, its role and target, and the parameter, written last: after `project` (with the new manifests)
    and everything in `ready` (the step's access to the cluster, the cluster)."""
    rule = aws.cloudwatch.EventRule(
        f"{name}-spec-changed",
        description=f"The EKS workload spec of {name_prefix} changed: apply it",
        event_pattern=pulumi.Output.json_dumps(deploy_step_data.spec_change_pattern(spec_parameter_name)),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    events_role = aws.iam.Role(
        f"{name}-spec-changed-role",
        description=f"EventBridge: start the EKS deploy project of {name_prefix} when the workload spec changes",
        assume_role_policy=trust_policy("events.amazonaws.com"),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=rule),
    )
    policy = aws.iam.RolePolicy(
        f"{name}-spec-changed-role-policy",
        role=events_role.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "StartDeploy", "Effect": "Allow", "Action": "codebuild:StartBuild", "Resource": project.arn}],
            }
        ),
        opts=pulumi.ResourceOptions(parent=events_role),
    )
    target = aws.cloudwatch.EventTarget(
        f"{name}-spec-changed-target",
        rule=rule.name,
        arn=project.arn,
        role_arn=events_role.arn,
        # For a CodeBuild target, the input is the StartBuild request.
        input=pulumi.Output.json_dumps(deploy_step_data.start_build_input()),
        opts=pulumi.ResourceOptions(parent=rule, depends_on=[policy]),
    )
    aws.ssm.Parameter(
        f"{name}-spec",
        name=spec_parameter_name,
        description="Digest of the EKS workload manifests in the deploy project; a change starts a config-apply run",
        type="String",
        insecure_value=manifests_digest,
        tags=tags,
        # Written after everything the run needs: the project with the new manifests, its access
        # to the cluster, and the rule and target that react to the write.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[project, target, *ready]),
    )
