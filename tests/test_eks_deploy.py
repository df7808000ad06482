"""The deploy step's script, run by bash against stand-ins for kubectl and the AWS CLI.

The stand-ins keep state as the cluster and the account would: the image the Deployment runs (what the
last `kubectl apply` set), the image record in SSM, the repository's images and tags (tests/fake_aws.py)
and the alarms in ALARM (at the step's start, and from then on). A rollout of an image listed in BAD fails
(or hangs while an alarm fires). Images are referenced by digest, as the build exports them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from components.deploy.eks import deploy_step as eks_deploy
from components.deploy.eks import manifests
from components.settings import CpuArchitecture, EksLoadBalancing, WorkloadSettings
from components.workload import bootstrap_environment
from functions import deployment_record as records
from tests import fake_aws
from tests.fake_kubectl import KUBECTL

# The step's clock: the real one, or (CLOCK_START set) one that advances CLOCK_STEP ms per reading.
DATE = r"""#!/bin/bash
if [ -z "${CLOCK_START:-}" ]; then PATH=/usr/bin:/bin exec date "$@"; fi
n="$(cat "$STATE/clock" 2>/dev/null || echo 0)"; echo $((n + 1)) > "$STATE/clock"
echo $((CLOCK_START + n * CLOCK_STEP))
"""
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo"
# The repository's images as the build pushed them (commit tags), referenced by digest as the build exports them.
IMAGES = [fake_aws.image([tag]) for tag in ("900d111", "bad2222", "f1e3333")]
GOOD, BAD_IMAGE, HOTFIX = (f"{REGISTRY}@{i['imageDigest']}" for i in IMAGES)
RECORD = "/container-cicd/prod/app/deployed-image"
KNOWN_GOOD = "/container-cicd/prod/app/known-good-image"
SERVICE = "container-cicd-prod-app"
COMMIT = "f1e3333a4b5c6d7e8f90123456789abcdef01234"
BUILD_ID = "container-cicd-prod-app-deploy:0d6f3c1e-1111-2222-3333-444455556666"
# 2025-07-10T13:15:39.018Z, then 75.25 s later.
CLOCK = {"CLOCK_START": "1752153339018", "CLOCK_STEP": "75250"}
WORKLOAD = WorkloadSettings(
    container_name="app",
    container_port=8080,
    health_check_path="/ping",
    bootstrap_image="public.ecr.aws/docker/library/traefik:v3.7",
    desired_count=2,
    deployment_timeout_minutes=15,
)
SPEC = manifests.WorkloadSpec(
    namespace="ns",
    name="app",
    workload=WORKLOAD,
    cpu_millicores=250,
    memory_mib=512,
    environment=tuple((e["name"], e["value"]) for e in bootstrap_environment(WORKLOAD)),
    architecture=CpuArchitecture.X86_64,
    load_balancing=EksLoadBalancing.AUTO_MODE,
)
MANIFESTS = manifests.workload(SPEC, "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1", include_namespace=True)


def script(alarms: tuple[str, ...] = ("a-5xx", "a-latency"), create_namespace: bool = True) -> str:
    return eks_deploy.deploy_script(
        namespace="ns",
        deployment="app",
        container_name="app",
        timeout_minutes=15,
        alarm_names=alarms,
        record_parameter=RECORD,
        known_good_parameter=KNOWN_GOOD,
        repository_url=REGISTRY,
        repository_name="repo",
        create_namespace=create_namespace,
        service_id=SERVICE,
    )


SAME = "same as the record"


def run_step(
    tmp_path: Path, body: str, *, record: str | None, running: str, known_good: str | None = SAME, manifests_json: str | None = None, **env: str
) -> tuple[int, list[str], str, str]:
    """Run the step; return (exit code, calls, the image running afterwards, the record afterwards).
    `record`: what the deployed-image record holds; `known_good`: what the known-good record holds (unless
    given, the same: the last deployment passed its bake). A pipeline run (IMAGE_URI) gets COMMIT_ID as the
    Deploy stage passes it; CodeBuild's build id is always set. The step's standard output is kept in
    tmp_path / "stdout"."""
    if "IMAGE_URI" in env:
        env = {"COMMIT_ID": COMMIT, **env}
    cloud = fake_aws.FakeAws(tmp_path)
    bin_dir, state = cloud.bin, cloud.state
    for name, stub in (("kubectl", KUBECTL), ("date", DATE)):
        (bin_dir / name).write_text(stub)
        (bin_dir / name).chmod(0o755)
    cloud.repository("repo", IMAGES)
    if record is not None:
        cloud.set_parameter(RECORD, record)
    known_good = record if known_good == SAME else known_good
    if known_good is not None:
        cloud.set_parameter(KNOWN_GOOD, known_good)
    (state / "running").write_text(running + "\n")
    calls = tmp_path / "calls"
    calls.touch()
    # The build container's /tmp is the run's own; tests running side by side each get theirs.
    body = body.replace(eks_deploy.APPLIED_FILE, str(tmp_path / "applied.json"))
    proc = subprocess.run(
        ["bash", "-c", body],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "CALLS": str(calls),
            "MANIFESTS": manifests_json or eks_deploy.manifests_json(MANIFESTS),
            "CODEBUILD_BUILD_ID": BUILD_ID,
            # The poll interval would make the alarm tests slow; the behaviour does not depend on it.
            "ALARM_POLL_SECONDS": "0.05",
            **cloud.env(),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    (tmp_path / "stdout").write_text(proc.stdout)
    return (proc.returncode, calls.read_text().splitlines(), (state / "running").read_text().strip(), cloud.parameter(RECORD) or "")


def applied(calls: list[str]) -> list[str]:
    return [c.removeprefix("APPLIED ") for c in calls if c.startswith("APPLIED ")]


def deployment_records(tmp_path: Path) -> list[dict]:
    """The deployment record lines the step printed, each checked against the contract: exactly its
    fields, in order, and what `records.record` builds from the same values."""
    found = []
    for line in (tmp_path / "stdout").read_text().splitlines():
        if line.startswith("{") and f'"recordType":"{records.RECORD_TYPE}"' in line:
            rec = json.loads(line)
            assert list(rec) == list(records.FIELDS)
            times = {"started_at": records.parse_timestamp(rec["startedAt"]), "finished_at": records.parse_timestamp(rec["finishedAt"])}
            same = {k: rec[k] for k in ("target", "service", "commit", "image", "digest", "strategy", "deployment", "outcome", "reason", "sbom", "scan")}
            assert records.record(**same, **times) == rec
            found.append(rec)
    return found


def metric_data(tmp_path: Path) -> list[dict] | None:
    """The MetricData the step passed to put-metric-data, as JSON; None when it did not call it."""
    sent = tmp_path / "state" / "metric-data"
    return json.loads(sent.read_text()) if sent.exists() else None


def outcome(tmp_path: Path) -> tuple[str, str | None]:
    [rec] = deployment_records(tmp_path)
    return rec["outcome"], rec["reason"]


def test_normal_deploy_applies_the_pipeline_image_and_records_it(tmp_path):
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX)
    assert code == 0
    assert applied(calls) == [HOTFIX]
    assert (running, record) == (HOTFIX, HOTFIX)
    assert f"kubectl apply --server-side --force-conflicts --field-manager=container-cicd-deploy -f {tmp_path}/applied.json" in calls
    assert "kubectl apply --server-side --force-conflicts --field-manager=container-cicd-deploy -f /tmp/applied.json" in script()
    assert "kubectl rollout status deployment/app --namespace ns --timeout=15m" in calls
    assert f"aws ssm put-parameter --name {RECORD} --type String --overwrite --value {HOTFIX}" in calls
    assert not any("rollout undo" in c for c in calls)
    # Checked against the registry before the cluster is touched; tagged deployed once it runs.
    first_ecr, first_kubectl = (next(i for i, c in enumerate(calls) if c.startswith(p)) for p in ("aws ecr describe-images", "kubectl"))
    assert first_ecr < first_kubectl
    assert fake_aws.FakeAws(tmp_path).tags_of("repo", IMAGES[2]["imageDigest"]) == ["f1e3333", "deployed-f1e3333"]
    assert outcome(tmp_path) == ("SUCCEEDED", None)


def test_a_tag_from_an_execution_before_digest_deployments_is_applied_by_its_digest(tmp_path):
    """A stage rollback to an execution built before images were deployed by digest passes repo:tag;
    the cluster still gets (and the record keeps) the digest reference."""
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=f"{REGISTRY}:f1e3333")
    assert code == 0
    assert applied(calls) == [HOTFIX]
    assert (running, record) == (HOTFIX, HOTFIX)


@pytest.mark.parametrize(
    "image_uri",
    [f"{REGISTRY}@sha256:{'0' * 64}", f"public.ecr.aws/other/repo@{IMAGES[2]['imageDigest']}", f"{REGISTRY}:latest"],
    ids=["digest-not-in-the-repository", "other-repository", "unknown-tag"],
)
def test_an_image_the_repository_does_not_hold_is_never_applied(tmp_path, image_uri):
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=image_uri)
    assert code == 1
    assert not any(c.startswith("kubectl") for c in calls)
    assert (running, record) == (GOOD, GOOD)
    assert "Nothing applied: the pipeline's image is not an image of repo" in (tmp_path / "stdout").read_text()


@pytest.mark.parametrize(
    ("image_uri", "digest"),
    [(f"{REGISTRY}@sha256:{'0' * 64}", f"sha256:{'0' * 64}"), (f"public.ecr.aws/other/repo@{IMAGES[2]['imageDigest']}", IMAGES[2]["imageDigest"])],
    ids=["digest-not-in-the-repository", "other-repository"],
)
def test_an_image_never_applied_is_recorded_failed_with_the_digest_it_named(tmp_path, image_uri, digest):
    code, *_ = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=image_uri)
    [rec] = deployment_records(tmp_path)
    assert (code, rec["outcome"], rec["image"], rec["digest"]) == (1, "FAILED", image_uri, digest)
    assert rec["reason"] == "Nothing applied: the pipeline's image is not an image of repo"
    assert metric_data(tmp_path)[1]["MetricName"] == records.FAILED_METRIC


def test_a_tag_that_resolves_to_no_digest_fails_without_a_record(tmp_path):
    """The record's digest is what was expected to run; an unknown tag names none, so no record is
    invented (the step says so) and the verdict is the same."""
    code, calls, _, _ = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=f"{REGISTRY}:latest")
    assert code == 1
    assert deployment_records(tmp_path) == [] and metric_data(tmp_path) is None
    assert f"No deployment record: commit '{COMMIT}' or digest '{REGISTRY}:latest' is not what it takes" in (tmp_path / "stdout").read_text()


def test_alarm_during_the_deploy_restores_the_known_good_image_and_fails(tmp_path):
    code, calls, running, record = run_step(
        tmp_path,
        script(),
        record=GOOD,
        running=GOOD,
        IMAGE_URI=BAD_IMAGE,
        BAD=BAD_IMAGE,
        HANG="1",
        FIRING_LATER="a-5xx",
    )
    assert code == 1
    assert applied(calls) == [BAD_IMAGE, GOOD]  # explicitly the known-good image, not "the previous revision"
    assert (running, record) == (GOOD, GOOD)
    assert "aws cloudwatch describe-alarms --alarm-names a-5xx a-latency --state-value ALARM --query MetricAlarms[].AlarmName --output text" in calls
    assert not any("put-parameter" in c for c in calls)
    assert outcome(tmp_path) == ("ROLLED_BACK", f"alarm entered ALARM: a-5xx; restored {GOOD}")


def test_hotfix_while_an_alarm_already_fires_is_not_undone(tmp_path):
    code, calls, running, record = run_step(
        tmp_path,
        script(),
        record=BAD_IMAGE,
        running=BAD_IMAGE,
        IMAGE_URI=HOTFIX,
        FIRING_AT_START="a-5xx",
    )
    assert code == 0
    assert applied(calls) == [HOTFIX]
    assert (running, record) == (HOTFIX, HOTFIX)


def test_hotfix_is_undone_when_another_alarm_enters_alarm(tmp_path):
    code, calls, running, record = run_step(
        tmp_path,
        script(),
        record=GOOD,
        running=GOOD,
        IMAGE_URI=BAD_IMAGE,
        BAD=BAD_IMAGE,
        HANG="1",
        FIRING_AT_START="a-5xx",
        FIRING_LATER="a-5xx\ta-latency",
    )
    assert code == 1
    assert applied(calls) == [BAD_IMAGE, GOOD]
    assert (running, record) == (GOOD, GOOD)


def test_failed_rollout_restores_the_known_good_image_and_fails(tmp_path):
    code, calls, running, record = run_step(tmp_path, script(alarms=()), record=GOOD, running=GOOD, IMAGE_URI=BAD_IMAGE, BAD=BAD_IMAGE)
    assert code == 1
    assert applied(calls) == [BAD_IMAGE, GOOD]
    # The restore is waited for and verified like the deployment, then the record's metrics go out.
    assert calls[-4:] == [
        "kubectl rollout status deployment/app --namespace ns --timeout=15m",
        "kubectl get deployment/app --namespace ns -o json",
        "kubectl get pods --namespace ns -l app.kubernetes.io/name=app -o json",
        f"aws cloudwatch put-metric-data --namespace ContainerCicd/Deployments --metric-data {(tmp_path / 'state' / 'metric-data').read_text().strip()}",
    ]
    assert (running, record) == (GOOD, GOOD)
    assert not any("describe-alarms" in c for c in calls)
    assert outcome(tmp_path) == ("ROLLED_BACK", f"rollout not ready within 15m; restored {GOOD}")


def test_a_restore_that_fails_too_is_recorded_failed(tmp_path):
    code, calls, running, _ = run_step(tmp_path, script(alarms=()), record=GOOD, running=GOOD, IMAGE_URI=BAD_IMAGE, BAD=f"{BAD_IMAGE} {GOOD}")
    assert (code, applied(calls), running) == (1, [BAD_IMAGE, GOOD], GOOD)
    assert outcome(tmp_path) == ("FAILED", f"rollout not ready within 15m; restoring {GOOD} failed too")


def test_stage_rollback_execution_ends_green_with_the_good_image(tmp_path):
    """The bad image passed its rollout (and was recorded as what runs, never as known good); the alarm fired in
    the bake time; the stage rollback re-runs the step with the previous execution's IMAGE_URI while the alarm
    still fires."""
    code, calls, running, record = run_step(
        tmp_path,
        script(),
        record=BAD_IMAGE,
        known_good=GOOD,
        running=BAD_IMAGE,
        IMAGE_URI=GOOD,
        FIRING_AT_START="a-5xx",
    )
    assert code == 0
    assert applied(calls) == [GOOD]
    assert (running, record) == (GOOD, GOOD)
    assert f"aws ssm put-parameter --name {RECORD} --type String --overwrite --value {GOOD}" in calls
    assert outcome(tmp_path) == ("SUCCEEDED", None)


def test_deploy_bake_fails_then_a_rollback_while_another_alarm_fires_restores_only_what_passed_its_bake(tmp_path):
    """The sequence: BAD deploys and is verified (recorded as running, not known good); its bake fails (a-5xx); the
    stage rollback runs the step with GOOD while a-5xx still fires, and a-latency newly fires during that rollout.
    The step restores the known-good image, GOOD: never BAD, which never passed its bake."""
    deploy, calls, running, record = run_step(tmp_path / "deploy", script(), record=GOOD, running=GOOD, IMAGE_URI=BAD_IMAGE)
    assert (deploy, running, record) == (0, BAD_IMAGE, BAD_IMAGE)
    known_good = fake_aws.FakeAws(tmp_path / "deploy").parameter(KNOWN_GOOD)
    assert known_good == GOOD  # the deploy step records what runs; only the Release stage, after the bake, records known good
    code, calls, running, record = run_step(
        tmp_path / "rollback",
        script(),
        record=BAD_IMAGE,
        known_good=known_good,
        running=BAD_IMAGE,
        IMAGE_URI=GOOD,
        # The rollback's rollout waits while a-latency enters ALARM; the restore's rollout completes.
        BAD=GOOD,
        HANG_ONCE="1",
        FIRING_AT_START="a-5xx",
        FIRING_LATER="a-5xx\ta-latency",
    )
    assert code == 1
    assert applied(calls) == [GOOD, GOOD] and BAD_IMAGE not in applied(calls)
    assert running == GOOD
    assert outcome(tmp_path / "rollback") == ("ROLLED_BACK", f"alarm entered ALARM: a-latency; restored {GOOD}")


def test_config_apply_run_applies_the_recorded_image_and_records_nothing(tmp_path):
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD)
    assert code == 0
    assert applied(calls) == [GOOD]
    assert (running, record) == (GOOD, GOOD)
    assert not any("put-parameter" in c or c.startswith("aws ecr") for c in calls)
    # Verified like a deployment (the recorded digest), but no deployment: no record, no metrics.
    assert "kubectl get pods --namespace ns -l app.kubernetes.io/name=app -o json" in calls
    assert deployment_records(tmp_path) == [] and metric_data(tmp_path) is None


def test_unreadable_record_fails_before_touching_the_cluster(tmp_path):
    code, calls, _, _ = run_step(tmp_path, script(), record=None, running=GOOD, IMAGE_URI=HOTFIX)
    assert code == 1
    assert not any(c.startswith("kubectl") for c in calls)
    assert outcome(tmp_path) == ("FAILED", f"Cannot read the image record {KNOWN_GOOD}; nothing applied")


def test_a_config_apply_run_keeps_the_image_that_runs_even_before_its_bake_passed(tmp_path):
    """`pulumi up` changes the manifests while HOTFIX bakes (deployed, not yet known good): the config-apply run
    applies HOTFIX, not the older known-good image, and records nothing."""
    code, calls, running, record = run_step(tmp_path, script(), record=HOTFIX, known_good=GOOD, running=HOTFIX)
    assert (code, applied(calls), running, record) == (0, [HOTFIX], HOTFIX, HOTFIX)
    assert fake_aws.FakeAws(tmp_path).parameter(KNOWN_GOOD) == GOOD


def test_record_failure_fails_the_step(tmp_path):
    """A deployment whose image is not recorded would be reverted by the next config-apply run."""
    failing = script().replace("aws ssm put-parameter", "false && aws ssm put-parameter")
    code, _, running, record = run_step(tmp_path, failing, record=GOOD, running=GOOD, IMAGE_URI=HOTFIX)
    assert code == 1
    assert (running, record) == (HOTFIX, GOOD)
    assert outcome(tmp_path) == ("FAILED", f"Deployed and verified {HOTFIX} but could not record it in the image record")


def test_existing_cluster_without_the_administrators_role_fails_before_applying(tmp_path):
    """An existing cluster whose administrators did not bind the TargetGroupBinding Role: the step says so and
    applies nothing (a half-applied workload, Deployment without its binding, would serve no traffic)."""
    code, calls, running, record = run_step(tmp_path, script(create_namespace=False), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX, CANNOT="targetgroupbindings.eks.amazonaws.com")
    assert (code, applied(calls), running, record) == (1, [], GOOD, GOOD)
    assert "kubectl auth can-i create targetgroupbindings.eks.amazonaws.com --namespace ns" in calls
    admins = "the cluster's administrators apply the stack output clusterAdministratorManifests (docs/eks.md, Existing cluster)"
    assert outcome(tmp_path) == ("FAILED", f"The deploy identity may not create targetgroupbindings.eks.amazonaws.com in namespace ns: {admins}; nothing applied")


@pytest.mark.parametrize("create_namespace", [True, False])
def test_existing_cluster_checks_the_namespace_instead_of_creating_it(create_namespace):
    text = script(create_namespace=create_namespace)
    assert ("kubectl get namespace ns" in text) is (not create_namespace)
    with_ns = manifests.workload(SPEC, "arn", include_namespace=create_namespace)
    assert [i["kind"] for i in with_ns["items"]] == (["Namespace"] if create_namespace else []) + ["Deployment", "Service", "TargetGroupBinding"]


def test_the_image_is_replaced_by_container_name_only(tmp_path):
    """jq sets the image of the named container of the Deployment; nothing else in the manifests changes."""
    out = tmp_path / "out.json"
    body = script().split("apply_with() {")[1].split("}\n")[0].splitlines()[1].replace("/tmp/applied.json", str(out)).replace('"$1"', f'"{GOOD}"').replace(" || return 1", "")
    subprocess.run(["bash", "-c", body], env={"MANIFESTS": eks_deploy.manifests_json(MANIFESTS), "PATH": os.environ["PATH"]}, check=True)
    result = json.loads(out.read_text())
    expected = json.loads(json.dumps(MANIFESTS))
    expected["items"][1]["spec"]["template"]["spec"]["containers"][0]["image"] = GOOD
    assert result == expected


@pytest.mark.parametrize(
    ("kubectl_minor", "cluster", "passes"),
    [("35", "1.34", True), ("35", "1.36", True), ("35", "1.35", True), ("35", "1.37", False), ("35", "1.33", False), ("33", "1.36", False)],
)
def test_the_step_stops_when_the_images_kubectl_cannot_manage_the_cluster(tmp_path, kubectl_minor, cluster, passes):
    """kubectl is supported within one minor version of the API server (the version EKS reports, which an upgrade
    EKS made itself changes): outside it the step stops before it touches the cluster."""
    from tests.fake_kubectl import FakeKubectl

    cloud = fake_aws.FakeAws(tmp_path)
    FakeKubectl(cloud.state, cloud.bin)
    body = "set -uo pipefail\n" + "\n".join(eks_deploy.kubectl_skew_commands())
    env = {"PATH": f"{cloud.bin}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls"), "CLUSTER_NAME": "c", **cloud.env()}
    proc = subprocess.run(["bash", "-c", body], env={**env, "KUBECTL_CLIENT_MINOR": kubectl_minor, "CLUSTER_VERSION_REPORTED": cluster}, capture_output=True, text=True, timeout=30)
    assert (proc.returncode == 0) is passes, proc.stdout
    if passes:
        assert proc.stdout.strip().endswith(f"kubectl 1.{kubectl_minor}, cluster {cluster}")
    else:
        assert proc.stdout.strip() == (
            f"kubectl 1.{kubectl_minor} of the CodeBuild image cannot manage a Kubernetes {cluster} cluster "
            "(kubectl supports 1 minor version either way): use a newer CodeBuild image or upgrade the cluster"
        )
