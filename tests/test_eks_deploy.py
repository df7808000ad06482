"""The deploy step's script, run by bash against stand-ins for kubectl and the AWS CLI: it sets the image,
waits for the rollout, and rolls back and fails when the rollout fails or an alarm fires."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.deploy import eks_deploy

KUBECTL = """#!/bin/bash
echo "kubectl $*" >> "$CALLS"
if [ "$1 $2" = "rollout status" ]; then
  if [ -e "$UNDONE" ]; then exit 0; fi
  # exec: the script's kill must hit the waiting process itself, as it does with kubectl.
  if [ -n "${ROLLOUT_SECONDS:-}" ]; then exec sleep "$ROLLOUT_SECONDS"; fi
  exit "${ROLLOUT_EXIT:-0}"
fi
if [ "$1 $2" = "rollout undo" ]; then touch "$UNDONE"; fi
exit 0
"""
AWS = """#!/bin/bash
echo "aws $*" >> "$CALLS"
echo "${FIRING:-}"
"""
TARGET = "deployment/app --namespace ns"


def run(tmp_path: Path, alarms: tuple[str, ...], **env: str) -> tuple[int, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("kubectl", KUBECTL), ("aws", AWS)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()
    script = eks_deploy.deploy_script(
        namespace="ns", deployment="app", container_name="app", timeout_minutes=15, alarm_names=alarms
    )
    # The poll interval would make the alarm test slow; the behaviour does not depend on it.
    script = script.replace(f"sleep {eks_deploy.ALARM_POLL_SECONDS}", "sleep 0.2")
    proc = subprocess.run(
        ["bash", "-c", script],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "CALLS": str(calls),
            "UNDONE": str(tmp_path / "undone"),
            "IMAGE_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:abc1234",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.returncode, calls.read_text().splitlines()


def test_successful_rollout_sets_the_image_and_does_not_undo(tmp_path):
    code, calls = run(tmp_path, ("a-5xx",))
    assert code == 0
    assert f"kubectl set image {TARGET} app=123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:abc1234" in calls
    assert f"kubectl rollout status {TARGET} --timeout=15m" in calls
    assert not any("rollout undo" in c for c in calls)


def test_failed_rollout_is_undone_and_fails_the_action(tmp_path):
    code, calls = run(tmp_path, (), ROLLOUT_EXIT="1")
    assert code == 1
    assert calls[-2:] == [f"kubectl rollout undo {TARGET}", f"kubectl rollout status {TARGET} --timeout=15m"]


def test_alarm_during_rollout_undoes_and_fails_the_action(tmp_path):
    code, calls = run(tmp_path, ("a-5xx", "a-latency"), ROLLOUT_SECONDS="20", FIRING="a-5xx")
    assert code == 1
    assert "aws cloudwatch describe-alarms --alarm-names a-5xx a-latency --state-value ALARM " \
           "--query MetricAlarms[].AlarmName --output text" in calls
    assert f"kubectl rollout undo {TARGET}" in calls


@pytest.mark.parametrize("image", ["", None])
def test_missing_image_fails_before_touching_the_cluster(tmp_path, image):
    env = {} if image is None else {"IMAGE_URI": image}
    bin_dir = tmp_path
    script = eks_deploy.deploy_script(namespace="ns", deployment="app", container_name="app", timeout_minutes=5, alarm_names=())
    proc = subprocess.run(["bash", "-c", script], env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env}, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "IMAGE_URI is empty" in proc.stdout
