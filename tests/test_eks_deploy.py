"""The deploy step's script, run by bash against stand-ins for kubectl and the AWS CLI.

The stand-ins keep state as the cluster and the account would: the image the Deployment runs (what the
last `kubectl apply` set), the image record in SSM, the repository's images and tags (tests/fake_registry.py)
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
from tests import fake_registry

KUBECTL = r"""#!/bin/bash
echo "kubectl $*" >> "$CALLS"
case "$1" in
  apply)
    file="${@: -1}"
    image="$(jq -r '.items[] | select(.kind == "Deployment") | .spec.template.spec.containers[0].image' "$file")"
    echo "$image" > "$STATE/running"
    echo "APPLIED $image" >> "$CALLS"
    exit 0 ;;
  rollout)
    running="$(cat "$STATE/running")"
    case " ${BAD:-} " in
      *" $running "*)
        # exec: the script's kill must hit the waiting process itself, as it does with kubectl.
        if [ -n "${HANG:-}" ]; then exec sleep 20; fi
        exit 1 ;;
    esac
    exit 0 ;;
  get) exit 0 ;;
esac
exit 0
"""
AWS = r"""#!/bin/bash
echo "aws $*" >> "$CALLS"
case "$*" in
  "ssm get-parameter"*) cat "$STATE/record" ;;
  "ssm put-parameter"*)
    while [ $# -gt 0 ]; do [ "$1" = "--value" ] && echo "$2" > "$STATE/record"; shift; done ;;
  "cloudwatch describe-alarms"*)
    if [ -e "$STATE/polled" ]; then echo "${FIRING_LATER-${FIRING_AT_START:-}}"; else touch "$STATE/polled"; echo "${FIRING_AT_START:-None}"; fi ;;
  "ecr "*) exec "$STATE/../bin/fake-ecr" "$@" ;;
esac
exit 0
"""
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo"
# The repository's images as the build pushed them (commit tags), referenced by digest as the build exports them.
IMAGES = [fake_registry.image([tag]) for tag in ("900d111", "bad2222", "f1e3333")]
GOOD, BAD_IMAGE, HOTFIX = (f"{REGISTRY}@{i['imageDigest']}" for i in IMAGES)
RECORD = "/container-cicd/prod/app/deployed-image"
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
    text = eks_deploy.deploy_script(
        namespace="ns",
        deployment="app",
        container_name="app",
        timeout_minutes=15,
        alarm_names=alarms,
        record_parameter=RECORD,
        repository_url=REGISTRY,
        repository_name="repo",
        create_namespace=create_namespace,
    )
    # The poll interval would make the alarm tests slow; the behaviour does not depend on it.
    return text.replace(f"sleep {eks_deploy.ALARM_POLL_SECONDS}", "sleep 0.2")


def run_step(tmp_path: Path, body: str, *, record: str | None, running: str, manifests_json: str | None = None, **env: str) -> tuple[int, list[str], str, str]:
    """Run the step; return (exit code, calls, the image running afterwards, the record afterwards)."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, stub in (("kubectl", KUBECTL), ("aws", AWS)):
        (bin_dir / name).write_text(stub)
        (bin_dir / name).chmod(0o755)
    fake_registry.install(bin_dir, state, IMAGES)
    if record is not None:
        (state / "record").write_text(record + "\n")
    else:
        (state / "record").write_text("")
    (state / "running").write_text(running + "\n")
    calls = tmp_path / "calls"
    calls.touch()
    proc = subprocess.run(
        ["bash", "-c", body],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "STATE": str(state), "MANIFESTS": manifests_json or eks_deploy.manifests_json(MANIFESTS), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (proc.returncode, calls.read_text().splitlines(), (state / "running").read_text().strip(), (state / "record").read_text().strip())


def applied(calls: list[str]) -> list[str]:
    return [c.removeprefix("APPLIED ") for c in calls if c.startswith("APPLIED ")]


def test_normal_deploy_applies_the_pipeline_image_and_records_it(tmp_path):
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD, IMAGE_URI=HOTFIX)
    assert code == 0
    assert applied(calls) == [HOTFIX]
    assert (running, record) == (HOTFIX, HOTFIX)
    assert "kubectl apply --server-side --force-conflicts --field-manager=container-cicd-deploy -f /tmp/applied.json" in calls
    assert "kubectl rollout status deployment/app --namespace ns --timeout=15m" in calls
    assert f"aws ssm put-parameter --name {RECORD} --type String --overwrite --value {HOTFIX}" in calls
    assert not any("rollout undo" in c for c in calls)
    # Checked against the registry before the cluster is touched; tagged deployed once it runs.
    first_ecr, first_kubectl = (next(i for i, c in enumerate(calls) if c.startswith(p)) for p in ("aws ecr describe-images", "kubectl"))
    assert first_ecr < first_kubectl
    assert fake_registry.tags_of(tmp_path / "state", IMAGES[2]["imageDigest"]) == ["f1e3333", "deployed-f1e3333"]


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
    assert calls[-1] == "kubectl rollout status deployment/app --namespace ns --timeout=15m"
    assert (running, record) == (GOOD, GOOD)
    assert not any("describe-alarms" in c for c in calls)


def test_stage_rollback_execution_ends_green_with_the_good_image(tmp_path):
    """The bad image passed its rollout (and was recorded); the alarm fired in the bake time; the stage
    rollback re-runs the step with the previous execution's IMAGE_URI while the alarm still fires."""
    code, calls, running, record = run_step(
        tmp_path,
        script(),
        record=BAD_IMAGE,
        running=BAD_IMAGE,
        IMAGE_URI=GOOD,
        FIRING_AT_START="a-5xx",
    )
    assert code == 0
    assert applied(calls) == [GOOD]
    assert (running, record) == (GOOD, GOOD)
    assert f"aws ssm put-parameter --name {RECORD} --type String --overwrite --value {GOOD}" in calls


def test_config_apply_run_applies_the_recorded_image_and_records_nothing(tmp_path):
    code, calls, running, record = run_step(tmp_path, script(), record=GOOD, running=GOOD)
    assert code == 0
    assert applied(calls) == [GOOD]
    assert (running, record) == (GOOD, GOOD)
    assert not any("put-parameter" in c or c.startswith("aws ecr") for c in calls)


def test_unreadable_record_fails_before_touching_the_cluster(tmp_path):
    code, calls, _, _ = run_step(tmp_path, script(), record=None, running=GOOD, IMAGE_URI=HOTFIX)
    assert code == 1
    assert not any(c.startswith("kubectl") for c in calls)


def test_record_failure_fails_the_step(tmp_path):
    """A deployment whose image is not recorded would be reverted by the next config-apply run."""
    failing = script().replace("aws ssm put-parameter", "false && aws ssm put-parameter")
    code, _, running, record = run_step(tmp_path, failing, record=GOOD, running=GOOD, IMAGE_URI=HOTFIX)
    assert code == 1
    assert (running, record) == (HOTFIX, GOOD)


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
