"""The EKS target's deploy step as data: the kubectl buildspec and the deploy identity's permissions.

The step runs in CodeBuild inside the VPC (a private API endpoint is reachable from there): it sets the
Deployment's image to the image the Build stage pushed, waits for the rollout, watches the service's
alarms meanwhile, and on failure rolls the Deployment back and fails the pipeline.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import pulumi
import yaml

from components.contracts import BUILD_NAMESPACE, Statement

# Access policy of the deploy identity, scoped to the workload's namespace: get/patch Deployments and
# read ReplicaSets (what `kubectl set image`, `rollout status` and `rollout undo` need), no RBAC, no
# cluster-scoped objects. https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html
DEPLOY_ACCESS_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
# How often the deploy step polls the alarms while the rollout runs.
ALARM_POLL_SECONDS = 15
# The image the build pushed, published by the build's exported variables.
IMAGE_URI_VARIABLE = f"#{{{BUILD_NAMESPACE}.IMAGE_URI}}"


def deploy_script(
    *,
    namespace: str,
    deployment: str,
    container_name: str,
    timeout_minutes: int,
    alarm_names: Sequence[str],
) -> str:
    """One bash program: set image, wait (watching alarms), undo and fail on a bad rollout."""
    q = shlex.quote
    target = f"deployment/{q(deployment)} --namespace {q(namespace)}"
    lines = [
        "set -uo pipefail",
        'test -n "${IMAGE_URI:-}" || { echo "IMAGE_URI is empty: the Build stage exported no image"; exit 1; }',
        f'kubectl set image {target} {q(container_name)}="$IMAGE_URI" || exit 1',
        f"kubectl annotate {target} kubernetes.io/change-cause=\"pipeline: $IMAGE_URI\" --overwrite",
        f"kubectl rollout status {target} --timeout={timeout_minutes}m &",
        "ROLLOUT=$!",
        "REASON=",
    ]
    if alarm_names:
        names = " ".join(q(n) for n in alarm_names)
        lines += [
            'while kill -0 "$ROLLOUT" 2>/dev/null; do',
            f"  FIRING=$(aws cloudwatch describe-alarms --alarm-names {names} --state-value ALARM "
            "--query 'MetricAlarms[].AlarmName' --output text)",
            '  if [ -n "$FIRING" ] && [ "$FIRING" != "None" ]; then REASON="alarm in ALARM: $FIRING"; kill "$ROLLOUT"; break; fi',
            f"  sleep {ALARM_POLL_SECONDS}",
            "done",
        ]
    lines += [
        'wait "$ROLLOUT"; STATUS=$?',
        'if [ -z "$REASON" ] && [ "$STATUS" -ne 0 ]; then REASON="rollout not ready within ' + f'{timeout_minutes}m"; fi',
        'if [ -n "$REASON" ]; then',
        '  echo "Deployment failed ($REASON); rolling back"',
        f"  kubectl rollout undo {target}",
        f"  kubectl rollout status {target} --timeout={timeout_minutes}m",
        "  exit 1",
        "fi",
        'echo "Deployed $IMAGE_URI"',
    ]
    return "\n".join(lines) + "\n"


def deploy_buildspec(
    *,
    cluster_name: str,
    namespace: str,
    deployment: str,
    container_name: str,
    kubernetes_version: str,
    kubectl_arch: str,
    timeout_minutes: int,
    alarm_names: Sequence[str],
) -> dict:
    """The deploy project's buildspec (version 0.2) as data."""
    release = "https://dl.k8s.io/release"
    return {
        "version": 0.2,
        "env": {
            "shell": "bash",
            "variables": {"CLUSTER_NAME": cluster_name, "KUBERNETES_VERSION": kubernetes_version},
        },
        "phases": {
            "install": {
                "on-failure": "ABORT",
                "commands": [
                    # kubectl of the cluster's minor version (kubectl supports +/-1 minor), checksum-verified.
                    f'KUBECTL_VERSION="$(curl -fsSL {release}/stable-$KUBERNETES_VERSION.txt)"',
                    f'curl -fsSLo /usr/local/bin/kubectl "{release}/$KUBECTL_VERSION/bin/linux/{kubectl_arch}/kubectl"',
                    f'echo "$(curl -fsSL "{release}/$KUBECTL_VERSION/bin/linux/{kubectl_arch}/kubectl.sha256")  /usr/local/bin/kubectl" '
                    "| sha256sum --check",
                    "chmod +x /usr/local/bin/kubectl",
                ],
            },
            "pre_build": {
                "on-failure": "ABORT",
                "commands": ['aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION"'],
            },
            "build": {
                "on-failure": "ABORT",
                "commands": [
                    deploy_script(
                        namespace=namespace,
                        deployment=deployment,
                        container_name=container_name,
                        timeout_minutes=timeout_minutes,
                        alarm_names=alarm_names,
                    )
                ],
            },
        },
    }


def render(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, width=1000)


def deploy_statements(
    *,
    cluster_arn: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
    alarm_arns: Sequence[pulumi.Input[str]],
    network_interface_arn_pattern: pulumi.Input[str],
    subnet_arns: pulumi.Input[Sequence[str]],
    security_group_arn: pulumi.Input[str],
    artifact_statements: Sequence[Statement],
) -> list[Statement]:
    """Least privilege for the deploy identity. What it may do inside the cluster is the access
    policy's business (namespace-scoped); in IAM it only finds the cluster, writes its logs, reads
    the alarms it watches and the artifacts, and runs in the VPC."""
    statements: list[Statement] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
        },
        {"Sid": "FindCluster", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": cluster_arn},
        {
            # CodeBuild in a VPC looks up the network and creates and cleans up its network interfaces.
            # https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html#customer-managed-policies-example-create-vpc-network-interface
            # The Describe actions support no resource-level permissions.
            "Sid": "VpcLookup",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "Resource": "*",
        },
        {
            # CreateNetworkInterface is authorised on the new interface, its subnet and its security group.
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": pulumi.Output.all(network_interface_arn_pattern, subnet_arns, security_group_arn).apply(
                lambda v: [v[0], *v[1], v[2]]
            ),
        },
        {
            "Sid": "VpcNetworkInterfaceCleanup",
            "Effect": "Allow",
            "Action": "ec2:DeleteNetworkInterface",
            "Resource": network_interface_arn_pattern,
        },
        {
            "Sid": "VpcNetworkInterfacePermission",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterfacePermission",
            "Resource": network_interface_arn_pattern,
            "Condition": {
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {"ec2:Subnet": subnet_arns},
            },
        },
    ]
    if alarm_arns:
        statements.append(
            {"Sid": "WatchAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": list(alarm_arns)}
        )
    return [*statements, *artifact_statements]
