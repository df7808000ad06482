"""The EKS deploy step's verdict as bash: what it checks before it calls a rollout green, and the
deployment record it writes once it has a verdict.

`kubectl rollout status` says the Deployment controller saw its rollout complete; it does not say which
image the pods run. `verify_function` checks what really runs: the Deployment's status, and the image
digest every ready pod's workload container reports. `finish_function` ends the step: on a pipeline run
it prints the deployment record (`functions/deployment_record.py`, target "eks") as one JSON line into
the step's log and puts its metrics, then exits 0 for SUCCEEDED and 1 otherwise. The jq programs that
build the record and the metric data are generated here from that module's names, so the two targets
cannot drift (tests/test_eks_deploy.py compares them with `record` and `metric_data`).
"""

from __future__ import annotations

import json
import shlex

from components.contracts import Statement
from functions import deployment_record as records

TARGET = "eks"
# The step rolls the Deployment (its RollingUpdate strategy); deploymentStrategy accepts nothing else on EKS.
STRATEGY = "rolling"

# The Deployment's status after `rollout status` succeeded: one sentence per problem, none when it is
# complete (the conditions kubectl's own rollout status checks, read again now, against spec.replicas:
# https://github.com/kubernetes/kubectl/blob/master/pkg/polymorphichelpers/rollout_status.go).
# Kubernetes omits zero counts from the status, hence `// 0`. Each filter reads its document with
# `jq -n 'input | ...'`, which fails on empty input (kubectl answered nothing) where a plain filter, and
# jq 1.6's -e, would print nothing and pass; it prints one string, empty when all is well.
STATUS_FILTER = (
    "input | [if (.status.observedGeneration // 0) < .metadata.generation then"
    ' "generation \\(.metadata.generation) not yet observed (\\(.status.observedGeneration // 0))" else empty end,'
    " (.spec.replicas as $n | [.status.replicas, .status.updatedReplicas, .status.availableReplicas] | map(. // 0)"
    ' | if all(. == $n) then empty else "replicas \\(.[0]), updated \\(.[1]), available \\(.[2]) of \\($n)" end),'
    ' (.status.conditions[]? | select(.reason == "ProgressDeadlineExceeded") | "ProgressDeadlineExceeded: \\(.message)")]'
    ' | join("; ")'
)
SELECTOR_FILTER = 'input | .spec.selector.matchLabels | to_entries | map("\\(.key)=\\(.value)") | join(",")'
# The ready pods (terminating ones excluded) and the image each one's workload container runs. The
# kubelet reports a pulled image's imageID as `<repository>@sha256:<manifest digest>` (containerd's
# first repo digest; dockershim prefixed docker-pullable://); for an image pulled by index digest it is
# the index's digest, the digest the pipeline deploys
# (https://github.com/containerd/containerd/issues/8408, https://github.com/kubernetes/kubernetes/issues/115199,
# https://github.com/kubernetes/kubernetes/issues/95968). Only the digest after "@" is compared: the
# repository part depends on the runtime. $d empty (an image not referenced by digest): only counted.
PODS_FILTER = (
    "input | [.items[] | select(.metadata.deletionTimestamp == null"
    ' and any(.status.conditions[]?; .type == "Ready" and .status == "True"))'
    ' | {n: .metadata.name, i: ([.status.containerStatuses[]? | select(.name == $c) | .imageID][0] // "no \\($c) container")}] as $r'
    ' | if $r == [] then "no pod is ready"'
    ' else [$r[] | select($d != "" and (.i | endswith("@" + $d) | not)) | "\\(.n) runs \\(.i)"] | join(", ")'
    ' | if . == "" then . else "pods do not run \\($d): \\(.)" end end'
)


def verify_function(*, namespace: str, deployment: str, container_name: str) -> list[str]:
    """Bash lines defining `verify DIGEST`: silent and 0 when the Deployment is complete and every
    ready pod runs DIGEST (or, DIGEST empty, at least one pod is ready); else 1 and the problem."""
    q = shlex.quote
    where = f"--namespace {q(namespace)}"
    return [
        "verify() {",
        "  local d s p",
        f'  d="$(kubectl get deployment/{q(deployment)} {where} -o json)" && p="$(jq -nr {q(STATUS_FILTER)} <<<"$d")" && [ -z "$p" ] '
        f'|| {{ echo "${{p:-cannot read deployment/{deployment}}}"; return 1; }}',
        f'  s="$(jq -nr {q(SELECTOR_FILTER)} <<<"$d")" && p="$(kubectl get pods {where} -l "$s" -o json '
        f'| jq -nr --arg d "$1" --arg c {q(container_name)} {q(PODS_FILTER)})" && [ -z "$p" ] '
        f'|| {{ echo "${{p:-cannot list the pods of deployment/{deployment}}}"; return 1; }}',
        "}",
    ]


def record_filter(service_id: str) -> str:
    """jq program (null input; arguments $commit $image $digest $deployment $outcome $reason $sbom $scan, and
    $t0 $t1, start and end in epoch milliseconds) that prints the record with exactly `FIELDS`, in order.
    An empty $sbom or $scan (no scan) is null."""
    values = {
        "recordType": json.dumps(records.RECORD_TYPE),
        "target": json.dumps(TARGET),
        "service": json.dumps(service_id),
        "commit": "$commit",
        "image": "$image",
        "digest": "$digest",
        "strategy": json.dumps(STRATEGY),
        "deployment": "$deployment",
        "startedAt": "($t0 | ts)",
        "finishedAt": "($t1 | ts)",
        "durationSeconds": "(($t1 - $t0) / 1000)",
        "outcome": "$outcome",
        "reason": f"(if $outcome == {json.dumps(records.SUCCEEDED)} then null else $reason end)",
        "sbom": '(if $sbom == "" then null else $sbom end)',
        "scan": '(if $scan == "" then null else $scan end)',
    }
    if set(values) != set(records.FIELDS):
        raise ValueError(f"EKS deployment record: fields {sorted(values)} differ from the contract's {list(records.FIELDS)}")
    # The record's time format: UTC, milliseconds, "Z". A clock set back never makes finishedAt earlier.
    return (
        'def ts: "\\(. / 1000 | floor | todate | .[:-1]).\\("00\\(. % 1000)" | .[-3:])Z"; '
        "([$t1, $t0] | max) as $t1 | {" + ", ".join(f"{json.dumps(field)}: {values[field]}" for field in records.FIELDS) + "}"
    )


def metric_data_filter(service_id: str) -> str:
    """jq program from the record to PutMetricData's MetricData: `records.metric_data`'s metrics."""
    dimensions = json.dumps([{"Name": records.DIMENSION_NAME, "Value": service_id}])
    verdict = f"(if .outcome == {json.dumps(records.SUCCEEDED)} then {json.dumps(records.SUCCEEDED_METRIC)} else {json.dumps(records.FAILED_METRIC)} end)"
    return (
        f'. as $r | [[{json.dumps(records.DURATION_METRIC)}, .durationSeconds, "Seconds"], [{verdict}, 1, "Count"]]'
        f' | map({{"MetricName": .[0], "Dimensions": {dimensions}, "Timestamp": $r.finishedAt, "Value": .[1], "Unit": .[2]}})'
    )


def finish_function(service_id: str) -> list[str]:
    """Bash lines defining `finish OUTCOME REASON`: says the reason, writes the record and its metrics
    on a pipeline run (RUN, COMMIT_ID, IMAGE_URI, DIGEST, START_MS, and SBOM_URI and SCAN_VERDICT when the
    pipeline passes the scan's evidence), exits 0 for SUCCEEDED, else 1.

    A failing put-metric-data is said in the log and changes nothing. The record is left out, with a
    line saying so, when the commit or digest it would carry is not what the contract takes (a run
    without COMMIT_ID, or an IMAGE_URI that resolved to no digest)."""
    q = shlex.quote
    commit, digest = records.COMMIT_PATTERN.pattern, records.DIGEST_PATTERN.pattern
    record = (
        'jq -cn --arg commit "$COMMIT_ID" --arg image "$IMAGE_URI" --arg digest "$DIGEST" --arg deployment "$CODEBUILD_BUILD_ID" '
        '--argjson t0 "$START_MS" --argjson t1 "$(date +%s%3N)" --arg outcome "$1" --arg reason "${2:-}" '
        '--arg sbom "${SBOM_URI:-}" --arg scan "${SCAN_VERDICT:-}" ' + q(record_filter(service_id))
    )
    return [
        "finish() {",
        f'  [ "$1" = {records.SUCCEEDED} ] || echo "$2"',
        '  if [ "$RUN" = pipeline ]; then',
        # CodeBuild sets CODEBUILD_BUILD_ID (the build's id, project:uuid), the record's deployment:
        # https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
        f'    if [[ "${{COMMIT_ID:=}}" =~ ^{commit}$ && "$DIGEST" =~ ^{digest}$ && -n "${{CODEBUILD_BUILD_ID:-}}" ]]; then',
        f'      RECORD="$({record})" && echo "$RECORD" && '
        f'{{ aws cloudwatch put-metric-data --namespace {q(records.METRIC_NAMESPACE)} --metric-data "$(jq -c {q(metric_data_filter(service_id))} <<<"$RECORD")" '
        '|| echo "Deployment metrics not put; the verdict stands"; }',
        "    else echo \"No deployment record: commit '$COMMIT_ID' or digest '$DIGEST' is not what it takes\"; fi",
        "  fi",
        f'  [ "$1" = {records.SUCCEEDED} ] && exit 0',
        "  exit 1",
        "}",
    ]


def metrics_statement() -> Statement:
    """PutMetricData supports no resource-level permissions; its cloudwatch:namespace condition key keeps
    the step to the deployment metrics' namespace.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html"""
    return {
        "Sid": "DeploymentMetrics",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": records.METRIC_NAMESPACE}},
    }
