"""The EKS deploy step's verdict: what it checks after `kubectl rollout status` before it calls a rollout
green, and the deployment record and metrics it writes (functions/deployment_record.py's contract).

The step runs in bash against the stand-ins of tests/test_eks_deploy.py: the Deployment reports a
complete rollout of what was applied last and two ready pods run it, unless DEPLOYMENT_PATCH or PODS_PATCH
(jq programs, `$running` is the image applied last) say otherwise.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest

from components.deploy.eks import verdict
from functions import deployment_record as records
from tests.aws_models import assert_valid
from tests.test_eks_deploy import BAD_IMAGE, BUILD_ID, CLOCK, COMMIT, GOOD, HOTFIX, IMAGES, SERVICE, applied, deployment_records, metric_data, outcome, run_step, script

HOTFIX_DIGEST = IMAGES[2]["imageDigest"]


def when_running(image: str, patch: str) -> str:
    """A stand-in patch that applies only while `image` is the one applied last."""
    return f"if $running == {json.dumps(image)} then {patch} else . end"


SBOM_URI = f"s3://container-cicd-dev-app-records/sbom/{HOTFIX_DIGEST}.json"


def test_a_verified_deployment_writes_its_record_and_metrics_exactly(tmp_path):
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, SBOM_URI=SBOM_URI, SCAN_VERDICT="PASSED", **CLOCK)
    assert (code, running, record) == (0, HOTFIX, HOTFIX)
    line = json.dumps(
        {
            "recordType": "deployment",
            "target": "eks",
            "service": SERVICE,
            "commit": COMMIT,
            "image": HOTFIX,
            "digest": HOTFIX_DIGEST,
            "strategy": "rolling",
            "deployment": BUILD_ID,
            "startedAt": "2025-07-10T13:15:39.018Z",
            "finishedAt": "2025-07-10T13:16:54.268Z",
            "durationSeconds": 75.25,
            "outcome": "SUCCEEDED",
            "reason": None,
            "sbom": SBOM_URI,
            "scan": "PASSED",
        },
        separators=(",", ":"),
    )
    assert line in (tmp_path / "stdout").read_text().splitlines()
    started, finished = datetime(2025, 7, 10, 13, 15, 39, 18000, tzinfo=UTC), datetime(2025, 7, 10, 13, 16, 54, 268000, tzinfo=UTC)
    expected = records.record(
        target="eks",
        service=SERVICE,
        commit=COMMIT,
        image=HOTFIX,
        digest=HOTFIX_DIGEST,
        strategy="rolling",
        deployment=BUILD_ID,
        started_at=started,
        finished_at=finished,
        outcome="SUCCEEDED",
        sbom=SBOM_URI,
        scan="PASSED",
    )
    assert line == records.json_line(expected)
    sent = (tmp_path / "state" / "metric-data").read_text().strip()
    dimensions = [{"Name": "Service", "Value": SERVICE}]
    assert sent == json.dumps(
        [
            {"MetricName": "DeploymentDurationSeconds", "Dimensions": dimensions, "Timestamp": "2025-07-10T13:16:54.268Z", "Value": 75.25, "Unit": "Seconds"},
            {"MetricName": "DeploymentSucceeded", "Dimensions": dimensions, "Timestamp": "2025-07-10T13:16:54.268Z", "Value": 1, "Unit": "Count"},
        ],
        separators=(",", ":"),
    )
    assert f"aws cloudwatch put-metric-data --namespace ContainerCicd/Deployments --metric-data {sent}" in calls
    # What the ECS verifier puts for the same record (its Timestamp a datetime, here the CLI's ISO text).
    assert json.loads(sent) == [{**datum, "Timestamp": records.timestamp(datum["Timestamp"])} for datum in records.metric_data(expected, SERVICE)]
    assert_valid("cloudwatch", "PutMetricData", {"Namespace": records.METRIC_NAMESPACE, "MetricData": json.loads(sent)})


def test_the_record_on_the_real_clock_keeps_the_contract(tmp_path):
    before = datetime.now(UTC).replace(microsecond=0)
    code, *_ = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX)
    [rec] = deployment_records(tmp_path)  # checked against records.record
    assert code == 0
    assert before <= records.parse_timestamp(rec["startedAt"]) <= records.parse_timestamp(rec["finishedAt"]) <= datetime.now(UTC)


def test_a_ready_pod_on_another_digest_is_no_green(tmp_path):
    """The controller reports the rollout complete, but one ready pod runs another image: the step
    restores the known-good image (and verifies that), fails and records ROLLED_BACK."""
    stale = when_running(HOTFIX, f'.items[1].status.containerStatuses[0].imageID = "docker-pullable://{BAD_IMAGE}"')
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, PODS_PATCH=stale)
    assert (code, applied(calls), running, record) == (1, [HOTFIX, GOOD], GOOD, GOOD)
    problem = f"rollout reported complete, but pods do not run {HOTFIX_DIGEST}: app-1 runs docker-pullable://{BAD_IMAGE}"
    assert outcome(tmp_path) == ("ROLLED_BACK", f"{problem}; restored {GOOD}")
    assert f"Deployment of {HOTFIX} failed ({problem}); restoring the known-good image {GOOD}" in (tmp_path / "stdout").read_text()
    assert not any("put-parameter" in c for c in calls)
    assert metric_data(tmp_path)[1]["MetricName"] == "DeploymentFailed"


def test_the_repository_part_of_the_image_id_does_not_matter(tmp_path):
    """containerd reports the first repository it pulled the digest under; only the digest counts."""
    other_name = when_running(HOTFIX, f'.items[].status.containerStatuses[0].imageID = "mirror.example/any/name@{HOTFIX_DIGEST}"')
    code, *_ = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, PODS_PATCH=other_name)
    assert (code, outcome(tmp_path)) == (0, ("SUCCEEDED", None))


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ('.items |= map(.status.conditions[0].status = "False")', "no pod is ready"),
        (".items = []", "no pod is ready"),
        (".items[0].status.containerStatuses = []", "pods do not run {digest}: app-0 runs no app container"),
        ('.items[0].status.containerStatuses[0].imageID = "sha256:' + "e" * 64 + '"', "pods do not run {digest}: app-0 runs sha256:" + "e" * 64),
    ],
    ids=["none-ready", "no-pods", "no-workload-container", "image-id-without-repository-digest"],
)
def test_pods_that_do_not_prove_the_digest_fail_the_rollout(tmp_path, patch, problem):
    code, calls, running, _ = run_step(tmp_path, script(alarms=()), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, PODS_PATCH=when_running(HOTFIX, patch))
    assert (code, applied(calls), running) == (1, [HOTFIX, GOOD], GOOD)
    assert outcome(tmp_path) == ("ROLLED_BACK", f"rollout reported complete, but {problem.format(digest=HOTFIX_DIGEST)}; restored {GOOD}")


def test_terminating_and_unready_pods_are_not_held_against_the_rollout(tmp_path):
    old = {
        "metadata": {"name": "app-old", "deletionTimestamp": "2025-07-10T13:16:00Z"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "app", "imageID": GOOD}]},
    }
    starting = {"metadata": {"name": "app-new"}, "status": {"conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "app", "imageID": ""}]}}
    patch = f".items += [{json.dumps(old)}, {json.dumps(starting)}]"
    code, *_ = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, PODS_PATCH=patch)
    assert (code, outcome(tmp_path)) == (0, ("SUCCEEDED", None))


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        (".status.observedGeneration = 3", "generation 4 not yet observed (3)"),
        ("del(.status.observedGeneration)", "generation 4 not yet observed (0)"),
        (".status.updatedReplicas = 1", "replicas 2, updated 1, available 2 of 2"),
        (".status.replicas = 3", "replicas 3, updated 2, available 2 of 2"),
        ("del(.status.availableReplicas)", "replicas 2, updated 2, available 0 of 2"),
        (
            '.status.conditions[1] = {type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: "ReplicaSet \\"app-7d\\" has timed out progressing."}',
            'ProgressDeadlineExceeded: ReplicaSet "app-7d" has timed out progressing.',
        ),
    ],
    ids=["generation-not-observed", "no-observed-generation", "not-all-updated", "old-replica-left", "none-available", "progress-deadline"],
)
def test_an_incomplete_deployment_status_fails_the_rollout(tmp_path, patch, problem):
    code, calls, running, _ = run_step(tmp_path, script(alarms=()), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, DEPLOYMENT_PATCH=when_running(HOTFIX, patch))
    assert (code, applied(calls), running) == (1, [HOTFIX, GOOD], GOOD)
    assert outcome(tmp_path) == ("ROLLED_BACK", f"rollout reported complete, but {problem}; restored {GOOD}")


def test_an_unreadable_deployment_fails_the_rollout(tmp_path):
    """kubectl answering nothing (exit 0) is no proof: jq -e fails on empty input."""
    body = script().replace("kubectl get deployment/app --namespace ns -o json", "true")
    code, calls, running, _ = run_step(tmp_path, body, record=GOOD, running=GOOD, IMAGE_URI=HOTFIX)
    assert (code, running) == (1, GOOD)
    assert outcome(tmp_path) == ("FAILED", f"rollout reported complete, but cannot read deployment/app; restoring {GOOD} failed too: cannot read deployment/app")


def test_a_restore_that_does_not_verify_is_failed_not_rolled_back(tmp_path):
    wrong = when_running(GOOD, f'.items[0].status.containerStatuses[0].imageID = "{BAD_IMAGE}"')
    code, calls, _, record = run_step(tmp_path, script(alarms=()), record=GOOD, running=GOOD, IMAGE_URI=BAD_IMAGE, BAD=BAD_IMAGE, PODS_PATCH=wrong)
    assert (code, applied(calls), record) == (1, [BAD_IMAGE, GOOD], GOOD)
    good_digest = GOOD.split("@")[1]
    assert outcome(tmp_path) == ("FAILED", f"rollout not ready within 15m; restoring {GOOD} failed too: pods do not run {good_digest}: app-0 runs {BAD_IMAGE}")


def test_a_config_apply_run_is_verified_but_not_recorded(tmp_path):
    wrong = when_running(GOOD, f'.items[0].status.containerStatuses[0].imageID = "{BAD_IMAGE}"')
    code, calls, _, _ = run_step(tmp_path, script(), record=GOOD, running=GOOD, PODS_PATCH=wrong)
    assert (code, applied(calls)) == (1, [GOOD, GOOD])
    assert deployment_records(tmp_path) == [] and metric_data(tmp_path) is None
    assert f"pods do not run {GOOD.split('@')[1]}: app-0 runs {BAD_IMAGE}" in (tmp_path / "stdout").read_text()


def test_a_tag_image_is_counted_not_compared(tmp_path):
    """The bootstrap image is a tag: the restore to it checks the Deployment and that a pod is ready."""
    bootstrap = "public.ecr.aws/docker/library/traefik:v3.7"
    code, calls, running, _ = run_step(tmp_path, script(alarms=()), record=bootstrap, running=bootstrap, IMAGE_URI=BAD_IMAGE, BAD=BAD_IMAGE)
    assert (code, applied(calls), running) == (1, [BAD_IMAGE, bootstrap], bootstrap)
    assert outcome(tmp_path) == ("ROLLED_BACK", f"rollout not ready within 15m; restored {bootstrap}")


@pytest.mark.parametrize(("image_uri", "bad", "expected"), [(HOTFIX, "", (0, "SUCCEEDED")), (BAD_IMAGE, BAD_IMAGE, (1, "ROLLED_BACK"))], ids=["succeeded", "rolled-back"])
def test_failing_put_metric_data_changes_no_verdict(tmp_path, image_uri, bad, expected):
    code, calls, _, _ = run_step(tmp_path, script(alarms=()), record=GOOD, running=GOOD, IMAGE_URI=image_uri, BAD=bad, METRICS_FAIL="1")
    assert (code, outcome(tmp_path)[0]) == expected
    assert any(c.startswith("aws cloudwatch put-metric-data") for c in calls)
    assert (tmp_path / "stdout").read_text().splitlines()[-1] == "Deployment metrics not put; the verdict stands"


def test_a_run_without_commit_id_is_not_recorded_and_keeps_its_verdict(tmp_path):
    code, calls, _, record = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, COMMIT_ID="")
    assert (code, record) == (0, HOTFIX)
    assert deployment_records(tmp_path) == [] and metric_data(tmp_path) is None
    assert f"No deployment record: commit '' or digest '{HOTFIX_DIGEST}' is not what it takes" in (tmp_path / "stdout").read_text()


@pytest.mark.parametrize("rec_outcome", records.OUTCOMES)
def test_the_metric_data_program_matches_the_contract_for_every_outcome(rec_outcome):
    at = datetime(2025, 7, 10, 13, 15, 39, 18000, tzinfo=UTC)
    rec = records.record(
        target="eks",
        service=SERVICE,
        commit=COMMIT,
        image=HOTFIX,
        digest=HOTFIX_DIGEST,
        strategy="rolling",
        deployment=BUILD_ID,
        started_at=at,
        finished_at=at.replace(second=41),
        outcome=rec_outcome,
        reason=None if rec_outcome == records.SUCCEEDED else "why",
    )
    jq = subprocess.run(["jq", "-c", verdict.metric_data_filter(SERVICE)], input=records.json_line(rec), capture_output=True, text=True, check=True)
    data = json.loads(jq.stdout)
    assert data == [{**d, "Timestamp": records.timestamp(d["Timestamp"])} for d in records.metric_data(rec, SERVICE)]
    assert_valid("cloudwatch", "PutMetricData", {"Namespace": records.METRIC_NAMESPACE, "MetricData": data})


def test_a_field_added_to_the_contract_stops_the_render(monkeypatch):
    monkeypatch.setattr(records, "FIELDS", (*records.FIELDS, "region"))
    with pytest.raises(ValueError, match=r"^EKS deployment record: fields \[.*\] differ from the contract's \[.*'region'\]$"):
        verdict.record_filter(SERVICE)


def test_metrics_permission_is_held_to_the_namespace():
    from policy_sentry.querying.actions import get_action_data

    statement = verdict.metrics_statement()
    assert statement == {
        "Sid": "DeploymentMetrics",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "ContainerCicd/Deployments"}},
    }
    [data] = get_action_data("cloudwatch", "PutMetricData")["cloudwatch"]
    assert data["resource_arn_format"] == "*" and "cloudwatch:namespace" in data["condition_keys"]


def test_a_missing_namespace_on_an_existing_cluster_is_recorded_failed(tmp_path):
    body = script(create_namespace=False).replace("kubectl get namespace ns", "false")
    code, calls, running, _ = run_step(tmp_path, body, record=GOOD, running=GOOD, IMAGE_URI=HOTFIX)
    assert (code, applied(calls), running) == (1, [], GOOD)
    admins = "the cluster's administrators apply the stack output clusterAdministratorManifests (docs/eks.md, Existing cluster)"
    assert outcome(tmp_path) == ("FAILED", f"Namespace ns does not exist: {admins}; nothing applied")
