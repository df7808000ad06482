"""The EKS target's deploy step as data: the buildspec, its bash program, and the identity's permissions.

The step runs in CodeBuild inside the VPC (a private API endpoint is reachable from there) and is the
only thing that talks to the Kubernetes API: Pulumi renders the workload's manifests into the
buildspec, and the step applies them (`kubectl apply --server-side`) with one image:

- a pipeline run (the Deploy stage passes IMAGE_URI): the image the build pushed, by its digest
  reference (`<repository>@sha256:...`), checked against the registry before anything is applied;
- a config-apply run (started by EventBridge when `pulumi up` changed the manifests; no IMAGE_URI):
  the image the record says runs now, so a config change never changes the image.

It reads the known-good image first (the image that last passed its deploy stage and bake: the Release
stage's record, components/delivery/release.py), notes which alarms are already in ALARM, waits for the
rollout while watching for alarms that *newly* enter ALARM, then checks what really runs (verdict.py: the
Deployment's status, and the digest of every ready pod). On failure it re-applies the manifests with the
known-good image (an explicit image, never "the previous revision"), waits for and checks that, and fails.
With imageSigning on, a pipeline run first verifies the image's signature against the trusted signing profile
(the stack's own, or a promoting stack's upstream's) before anything is applied: a refused digest ends the run
with `Refusing <image>: <reason>` and a FAILED deployment record, and nothing is applied. (A config-apply run and
a restore apply images a pipeline run verified when it deployed them.)
A successful pipeline run records its image as the one that runs (also when it equals the known-good one,
as in a stage rollback, which then ends green); it becomes known good only when the stage's bake passes. Every pipeline run ends with its
deployment record and metrics (SUCCEEDED, ROLLED_BACK or FAILED); a config-apply run deploys no
commit and writes none.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence

import pulumi
import yaml

from components.aws_context import AWS_OWNED, AwsContext
from components.contracts import GateVariables, Statement
from components.delivery.image_record import digest_reference_commands, record_resolved_commands
from components.deploy.eks import verdict
from components.deploy.step import download_minutes
from components.settings import CpuArchitecture
from components.supply import notation

# A created cluster belongs to the stack, and the step must create the workload's namespace (a
# cluster-scoped object): only the cluster-scoped AmazonEKSClusterAdminPolicy can (the Edit and
# Admin access policies do not create namespaces). An existing, shared cluster gets the namespace-
# scoped Edit policy instead, and its administrators create the namespace (docs/eks.md).
# https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html
CREATED_CLUSTER_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
EXISTING_CLUSTER_ACCESS_POLICY = "AmazonEKSEditPolicy"
# How often the deploy step polls the alarms while the rollout runs (the step's environment may set
# ALARM_POLL_SECONDS to another interval).
ALARM_POLL_SECONDS = 15
# Server-side apply owner of every field the step sets.
FIELD_MANAGER = "container-cicd-deploy"
# Where the step writes the manifests it applies.
APPLIED_FILE = "/tmp/applied.json"  # noqa: S108 - the build container's own /tmp
# CodeBuild refuses an inline buildspec longer than this ("Max buildspec length is 25600",
# aws/aws-cdk#30326; botocore's model states no maximum).
MAX_BUILDSPEC_CHARS = 25_600


def access_policy_arn(context: AwsContext, policy: str) -> pulumi.Output[str]:
    """An EKS access policy (owned by AWS, global): arn:<partition>:eks::aws:cluster-access-policy/<name>."""
    return context.arn("eks", f"cluster-access-policy/{policy}", region=False, account=AWS_OWNED)


def manifests_json(manifests: dict) -> str:
    """The manifests as the step receives them: compact JSON, keys in a stable order."""
    return json.dumps(manifests, sort_keys=True, separators=(",", ":"))


def spec_digest(manifests: dict) -> str:
    """What the trigger parameter holds: it changes exactly when the manifests change."""
    return "sha256:" + hashlib.sha256(manifests_json(manifests).encode()).hexdigest()


def deploy_script(
    *,
    namespace: str,
    deployment: str,
    container_name: str,
    timeout_minutes: int,
    alarm_names: Sequence[str],
    record_parameter: str,
    known_good_parameter: str,
    repository_url: str,
    repository_name: str,
    create_namespace: bool,
    service_id: str,
    tag_deployed: bool = True,
    binding_resource: str = "targetgroupbindings.eks.amazonaws.com",
    verify: Sequence[str] = (),
) -> str:
    """One bash program: apply with the chosen image, wait (watching new alarms), verify what runs,
    restore the known-good image and fail on a bad rollout, record the image on success; a pipeline
    run ends with its deployment record (`verdict.finish_function`, Service dimension `service_id`).
    `binding_resource`: the TargetGroupBinding's `<resource>.<group>`, which an existing cluster's
    administrators let the deploy identity manage (checked before anything is applied). `verify`: bash lines that
    verify $IMAGE_URI's signature, printing `Refusing <image>: <reason>` and exiting non-zero on a refusal
    (components/supply/notation.py); omitted: no verification (imageSigning off)."""
    q = shlex.quote
    target = f"deployment/{q(deployment)} --namespace {q(namespace)}"
    rollout = f"kubectl rollout status {target} --timeout={timeout_minutes}m"
    jq_filter = f'(.items[] | select(.kind == "Deployment") | .spec.template.spec.containers[] | select(.name == {json.dumps(container_name)}) | .image) = $image'
    lines = [
        "set -uo pipefail",
        # The step's own clock: the record's startedAt.
        "START_MS=$(date +%s%3N)",
        # DIGEST: what the pipeline expects to run, until the registry resolves IMAGE_URI.
        'if [ -n "${IMAGE_URI:-}" ]; then RUN=pipeline; DIGEST="${IMAGE_URI##*@}"; else RUN=config-apply; fi',
        *verdict.finish_function(service_id),
        *verdict.verify_function(namespace=namespace, deployment=deployment, container_name=container_name),
        # The digest an image reference names; empty for a tag (the bootstrap image).
        'digest_of() { [[ "$1" == *@sha256:* ]] && echo "${1##*@}"; }',
        # What a failed rollout goes back to: the image that last passed its bake (the Release stage's record),
        # never one deployed since whose bake failed or has not ended.
        f'KNOWN_GOOD="$(aws ssm get-parameter --name {q(known_good_parameter)} --query Parameter.Value --output text)" '
        f'&& [ -n "$KNOWN_GOOD" ] || finish FAILED "Cannot read the image record {known_good_parameter}; nothing applied"',
        'if [ "$RUN" = pipeline ]; then',
        "  "
        + " && ".join(digest_reference_commands(repository_url, repository_name))
        + f' || finish FAILED "Nothing applied: the pipeline\'s image is not an image of {repository_name}"',
        '  IMAGE_REF="$IMAGE_URI"; DIGEST="$IMAGE_DIGEST"',
        *_verify_lines(verify),
        "else",
        # A config-apply run keeps the image that runs now (the deploy step's record), whatever its bake.
        f'  IMAGE_REF="$(aws ssm get-parameter --name {q(record_parameter)} --query Parameter.Value --output text)" '
        f'&& [ -n "$IMAGE_REF" ] || finish FAILED "Cannot read the image record {record_parameter}; nothing applied"',
        "fi",
        'echo "Run: $RUN; image: $IMAGE_REF; known good: $KNOWN_GOOD"',
        "apply_with() {",
        f'  jq --arg image "$1" {q(jq_filter)} <<<"$MANIFESTS" > {APPLIED_FILE} || return 1',
        f"  kubectl apply --server-side --force-conflicts --field-manager={FIELD_MANAGER} -f {APPLIED_FILE}",
        "}",
    ]
    if alarm_names:
        names = " ".join(q(n) for n in alarm_names)
        lines += [
            "firing() {",
            f"  aws cloudwatch describe-alarms --alarm-names {names} --state-value ALARM --query 'MetricAlarms[].AlarmName' --output text | sed 's/^None$//'",
            "}",
            # A hotfix, or a stage rollback, starts while an alarm fires: only alarms that enter
            # ALARM during this rollout count against it.
            'ALREADY=" $(firing | tr -s "[:space:]" " ") "',
            'if [ "$ALREADY" != "  " ]; then echo "Already in ALARM at the start (not held against this rollout):$ALREADY"; fi',
        ]
    if not create_namespace:
        # An existing cluster: what its administrators apply once (the stack output clusterAdministratorManifests).
        lines += [
            f'kubectl get namespace {q(namespace)} > /dev/null || finish FAILED "Namespace {namespace} does not exist: '
            "the cluster's administrators apply the stack output clusterAdministratorManifests (docs/eks.md, Existing cluster); nothing applied\"",
            f"kubectl auth can-i create {binding_resource} --namespace {q(namespace)} > /dev/null || finish FAILED "
            f"\"The deploy identity may not create {binding_resource} in namespace {namespace}: the cluster's administrators apply the "
            'stack output clusterAdministratorManifests (docs/eks.md, Existing cluster); nothing applied"',
        ]
    lines += [
        'REASON=""',
        'if ! apply_with "$IMAGE_REF"; then REASON="kubectl apply failed"; else',
        f"  {rollout} &",
        "  ROLLOUT=$!",
    ]
    if alarm_names:
        lines += [
            '  while kill -0 "$ROLLOUT" 2>/dev/null; do',
            '    NEW=""',
            '    for a in $(firing); do case "$ALREADY" in *" $a "*) ;; *) NEW="$NEW $a" ;; esac; done',
            '    if [ -n "$NEW" ]; then REASON="alarm entered ALARM:$NEW"; kill "$ROLLOUT"; break; fi',
            f'    sleep "${{ALARM_POLL_SECONDS:-{ALARM_POLL_SECONDS}}}"',
            "  done",
        ]
    lines += [
        '  wait "$ROLLOUT"; STATUS=$?',
        f'  if [ -z "$REASON" ] && [ "$STATUS" -ne 0 ]; then REASON="rollout not ready within {timeout_minutes}m"; fi',
        # "Rolled out" is the controller's word; green is what the pods run.
        '  if [ -z "$REASON" ]; then PROBLEM="$(verify "$(digest_of "$IMAGE_REF")")" || REASON="rollout reported complete, but $PROBLEM"; fi',
        "fi",
        'if [ -n "$REASON" ]; then',
        '  echo "Deployment of $IMAGE_REF failed ($REASON); restoring the known-good image $KNOWN_GOOD"',
        '  PROBLEM=""',
        f'  apply_with "$KNOWN_GOOD" && {rollout} && PROBLEM="$(verify "$(digest_of "$KNOWN_GOOD")")" && finish ROLLED_BACK "$REASON; restored $KNOWN_GOOD"',
        '  finish FAILED "$REASON; restoring $KNOWN_GOOD failed too${PROBLEM:+: $PROBLEM}"',
        "fi",
        # A config-apply run changed no image: nothing to record.
        'if [ "$RUN" = pipeline ]; then',
        # IMAGE_URI, IMAGE_DIGEST and IMAGE_DETAILS are still those the digest reference resolved to.
        "  "
        + " && ".join(record_resolved_commands(record_parameter, repository_url, repository_name, tag_deployed=tag_deployed))
        + ' || finish FAILED "Deployed and verified $IMAGE_REF but could not record it in the image record"',
        "fi",
        'echo "Running $IMAGE_REF"',
        "finish SUCCEEDED",
    ]
    return "\n".join(lines) + "\n"


def _verify_lines(verify: Sequence[str]) -> list[str]:
    """The pipeline run's signature check, before anything is applied: the lines run in a subshell (their `exit`
    ends it, not the step), and a refusal ends the step with its `Refusing ...` line as the record's reason."""
    if not verify:
        return []
    body = "\n".join(verify)
    return [
        # The refusal line is said once, by `finish`, with what follows from it.
        f'  VERIFIED="$( (\n{body}\n) 2>&1)"; VERIFY_STATUS=$?; grep -v "^Refusing " <<<"$VERIFIED"',
        '  if [ "$VERIFY_STATUS" -ne 0 ]; then',
        '    REFUSAL="$(grep "^Refusing " <<<"$VERIFIED" | tail -n 1)"',
        '    finish FAILED "${REFUSAL:-Refusing $IMAGE_URI: its signature could not be verified (see above)}; nothing applied"',
        "  fi",
    ]


# The kubectl the CodeBuild images ship (/usr/local/bin/kubectl; aws/aws-codebuild-docker-images pins it in
# each image's Dockerfile: 1.35 in amazonlinux-x86_64-standard:5.0 and amazonlinux-aarch64-standard:3.0 of
# 2026). kubectl supports one minor version older or newer than the API server
# (https://kubernetes.io/releases/version-skew-policy/#kubectl): the step checks that against the cluster's
# version as EKS reports it, so a deployment never depends on a download at run time.
KUBECTL_SKEW = 1


def deploy_buildspec(
    *,
    cluster_name: str,
    manifests: dict,
    script: str,
    install: Sequence[str] = (),
) -> dict:
    """The deploy project's buildspec (version 0.2) as data; the manifests travel as an env variable.
    `install`: the install phase (the Notation CLI and its plugin, when the step verifies). Omitted: none."""
    phases: dict = {"install": {"on-failure": "ABORT", "commands": list(install)}} if install else {}
    return {
        "version": 0.2,
        "env": {
            "shell": "bash",
            "variables": {
                "CLUSTER_NAME": cluster_name,
                "MANIFESTS": manifests_json(manifests),
            },
        },
        "phases": {
            **phases,
            "pre_build": {
                "on-failure": "ABORT",
                "commands": [
                    'aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION"',
                    *kubectl_skew_commands(),
                ],
            },
            "build": {"on-failure": "ABORT", "commands": [script]},
        },
    }


def kubectl_skew_commands() -> list[str]:
    """Bash lines that stop the step before it touches the cluster when the image's kubectl is more than
    KUBECTL_SKEW minor versions away from the cluster's (EKS may have upgraded the cluster itself)."""
    return [
        'CLUSTER_VERSION="$(aws eks describe-cluster --name "$CLUSTER_NAME" --region "$AWS_REGION" --query cluster.version --output text)"',
        'KUBECTL_VERSION="$(kubectl version --client -o json | jq -r \'.clientVersion.major + "." + (.clientVersion.minor | rtrimstr("+"))\')"',
        "SKEW=$(( ${KUBECTL_VERSION#*.} - ${CLUSTER_VERSION#*.} ))",
        f'if [ "${{SKEW#-}}" -gt {KUBECTL_SKEW} ]; then echo "kubectl $KUBECTL_VERSION of the CodeBuild image cannot manage a Kubernetes $CLUSTER_VERSION cluster '
        f'(kubectl supports {KUBECTL_SKEW} minor version either way): use a newer CodeBuild image or upgrade the cluster"; exit 1; fi',
        'echo "kubectl $KUBECTL_VERSION, cluster $CLUSTER_VERSION"',
    ]


def verify_minutes(architecture: CpuArchitecture) -> int:
    """What verifying a signature adds to the step at worst: the verifier's install, and about 5 calls."""
    return 5 + download_minutes(notation.install_commands(architecture))


def gate_variables(gate: GateVariables | None) -> list[tuple[str, str]]:
    """The scan's evidence the step writes into the deployment record (none without a scan: the record says null)."""
    return [("SBOM_URI", gate.sbom_uri), ("SCAN_VERDICT", gate.scan_verdict)] if gate else []


def render(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, width=1000)


def start_build_input() -> dict:
    """The StartBuild request EventBridge sends for a config-apply run: the project's source is
    CodePipeline's, which a build started outside the pipeline does not have, so it runs without
    source and artifacts; no IMAGE_URI, so the step applies the recorded image."""
    return {"sourceTypeOverride": "NO_SOURCE", "artifactsOverride": {"type": "NO_ARTIFACTS"}}


def spec_change_pattern(parameter_name: str) -> dict:
    """EventBridge pattern: the trigger parameter was created or its value changed.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html
    (`detail.name` is the full path for a hierarchical parameter; the value is not in the event)."""
    return {
        "source": ["aws.ssm"],
        "detail-type": ["Parameter Store Change"],
        "detail": {"name": [parameter_name], "operation": ["Create", "Update"]},
    }


def deploy_statements(
    *,
    cluster_arn: pulumi.Input[str],
    alarm_arns: Sequence[pulumi.Input[str]],
    network_interface_arn_pattern: pulumi.Input[str],
    subnet_arns: pulumi.Input[Sequence[str]],
    security_group_arn: pulumi.Input[str],
) -> list[Statement]:
    """Least privilege for the deploy identity beyond its logs, artifacts and the image record. What
    it may do inside the cluster is the access policy's business; in IAM it only finds the cluster,
    reads the alarms it watches, and runs in the VPC."""
    statements: list[Statement] = [
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
            "Resource": pulumi.Output.all(network_interface_arn_pattern, subnet_arns, security_group_arn).apply(lambda v: [v[0], *v[1], v[2]]),
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
        statements.append({"Sid": "WatchAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": list(alarm_arns)})
    return statements
