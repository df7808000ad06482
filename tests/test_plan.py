"""The offline plan command: its report, its diagrams and its exit codes (run in-process)."""

from __future__ import annotations

import copy
import dataclasses
import re
import stat
from datetime import date

import pytest

from offline import plan
from policy.rules import run_rules, subjects

SECTIONS = [
    "## Summary",
    "## Configuration",
    "## Pipeline",
    "### Entry conditions and gates",
    "## Supply chain",
    "## Deploy target",
    "## What `pulumi up` needs",
    "## Delivery metrics (DORA)",
    "## Needs a person at deploy time",
    "## Monthly cost while idle",
    "## Policy pack",
    "## Diagrams",
    "## Stack outputs",
    "## Resource counts by type",
    "## Component tree",
]


@pytest.fixture
def cached(monkeypatch, evaluate):
    """The plan evaluates through the session cache, so the suite evaluates each stack once; records calls."""
    calls = []

    def run(stack, overrides):
        calls.append((stack, dict(overrides)))
        return evaluate(stack, **overrides)

    monkeypatch.setattr(plan, "evaluate_stack", run)
    return calls


def _run(argv, capsys):
    code = plan.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _section(report: str, title: str) -> str:
    return report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table(section: str) -> dict[str, str]:
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {row.split("|")[1].strip().strip("`"): row.split("|")[2].strip() for row in rows}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_report_has_every_section_and_the_stack_results_counts(stack, tmp_path, cached, capsys, evaluate):
    result = evaluate(stack)
    violations = run_rules(subjects(result.resources))
    code, out, _ = _run([stack, "--out", str(tmp_path)], capsys)
    assert code == (plan.EXIT_POLICY_VIOLATIONS if violations else plan.EXIT_OK)
    report = (tmp_path / "plan.md").read_text()
    positions = [report.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert _table(_section(report, "Resource counts by type")) == {t: str(n) for t, n in result.count_by_type().items()}
    assert f"- Resources: {len(result.resources)} (" in report
    tree = _section(report, "Component tree")
    assert len([line for line in tree.splitlines() if line.lstrip().startswith("- **")]) == len(result.resources)
    for r in result.resources:
        assert f"**{r.name}** `{r.type}`" in tree
    assert f"plan {stack}: {len(result.resources)} resources of {len(result.count_by_type())} types" in out
    assert cached == [(stack, {})]


def test_component_tree_nests_children_under_their_parent(tmp_path, cached, capsys):
    _run(["dev", "--out", str(tmp_path)], capsys)
    tree = _section((tmp_path / "plan.md").read_text(), "Component tree")
    assert "- **artifacts** `container-cicd:pipeline:ArtifactStore` (component)\n  - **artifacts-bucket** `aws:s3/bucket:Bucket`" in tree.replace(
        "  - **artifacts-key** `aws:kms/key:Key`\n", ""
    )
    assert "\n    - **artifacts-public-access** `aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock`" in tree


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pipeline_section_lists_every_stage_action_in_order(stack, tmp_path, cached, capsys, evaluate):
    pipeline = evaluate(stack).one("aws:codepipeline/pipeline:Pipeline").inputs
    _run([stack, "--out", str(tmp_path)], capsys)
    section = _section((tmp_path / "plan.md").read_text(), "Pipeline")
    rows = [line.split("|")[1:4] for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Stage")]
    expected = [[f" {s['name']} ", f" {a['name']} ", f" {a['category']}/{a['provider']} "] for s in pipeline["stages"] for a in s["actions"]]
    assert rows == expected
    assert f"- Type: `{pipeline['pipelineType']}`, execution mode: `{pipeline['executionMode']}`" in section
    trigger = {
        "dev": 'on CodeCommit pushes to `["main"]`',
        # prod promotes from dev: its pipeline starts on what the collector writes into its inbox.
        "prod": "when `promotion.zip` is written to the promotion inbox `promotion-inbox-bucket-mock`",
    }[stack]
    assert f"- Trigger: EventBridge rule `pipeline-start` starts the pipeline {trigger}" in section


def test_deploy_section_shows_the_targets_key_settings(tmp_path, cached, capsys, dev):
    service = dev.one("aws:ecs/service:Service").inputs
    _run(["dev", "--out", str(tmp_path)], capsys)
    section = _section((tmp_path / "plan.md").read_text(), "Deploy target")
    assert "- Deploy target: `ecs` — component `deploy` `container-cicd:deploy:EcsTarget`" in section
    assert f"desiredCount=`{int(service['desiredCount'])}`" in section
    assert "networkConfiguration.assignPublicIp=`False`" in section
    assert "log driver `awslogs`" in section


def test_diagram_files_are_mermaid_of_the_pipeline_and_architecture(tmp_path, cached, capsys, dev, monkeypatch):
    monkeypatch.setattr(plan.shutil, "which", lambda name: None)
    _run(["dev", "--out", str(tmp_path)], capsys)
    stages = [s["name"] for s in dev.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]]
    pipeline = (tmp_path / "pipeline.mmd").read_text()
    assert pipeline.splitlines()[0] == "flowchart LR"
    assert re.findall(r'subgraph \w+\["(\w+)"\]', pipeline) == stages
    ids = re.findall(r"subgraph (\w+)\[", pipeline)
    chain = [f"  {a} --> {b}" for a, b in zip(ids, ids[1:], strict=False)]
    assert chain[:2] + ["  s2_Scan_a0 --> s2_Scan_a1"] + chain[2:3] + ["  s3_Deploy_a0 --> s3_Deploy_a1", "  s3_Deploy_a1 --> s3_Deploy_a2"] + chain[3:] == [
        line for line in pipeline.splitlines() if "-->" in line
    ]  # stages in order, the Scan stage's (scan, verify) and the Deploy stage's run orders (deploy, verify, record), then Publish
    assert '  s3_Deploy -. "rollback" .-> s3_Deploy' in pipeline  # dev's Deploy stage rolls back on failure
    assert 's0_Source_a0["Source<br/>CodeCommit"]' in pipeline
    architecture = (tmp_path / "architecture.mmd").read_text()
    for edge in (
        'aws_codebuild_project_Project -- "pushes image" --> aws_ecr_repository_Repository',
        'aws_lb_loadBalancer_LoadBalancer -- "routes to" --> aws_ecs_service_Service',
        'aws_codepipeline_pipeline_Pipeline -- "deploys" --> aws_ecs_service_Service',
    ):
        assert f"  {edge}\n" in architecture
    assert "aws_eks_cluster_Cluster" not in architecture
    report = (tmp_path / "plan.md").read_text()
    assert f"```mermaid\n{pipeline}```" in report and f"```mermaid\n{architecture}```" in report
    assert "Graphviz `dot` is not on PATH: no SVG written" in report
    assert not list(tmp_path.glob("*.svg"))


def test_svg_is_rendered_when_graphviz_is_on_path(tmp_path, cached, capsys, monkeypatch):
    fake = tmp_path / "dot"
    fake.write_text('#!/bin/sh\n# fake dot: -Tsvg IN -o OUT\ncp "$2" "$4"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(plan.shutil, "which", lambda name: str(fake) if name == "dot" else None)
    out = tmp_path / "out"
    assert _run(["dev", "--out", str(out)], capsys)[0] == plan.EXIT_OK
    dot = (out / "architecture.svg").read_text()
    assert dot.startswith("digraph architecture {")
    assert '  aws_codebuild_project_Project -> aws_ecr_repository_Repository [label="pushes image"];' in dot
    assert "`architecture.svg` written by Graphviz." in (out / "plan.md").read_text()


def test_set_values_are_strings_as_pulumi_config_set_stores_them():
    assert plan.parse_overrides(
        ["desiredCount=3", "production=true", "manualApproval=on", "logRetentionDays=", 'ingressCidrs=["10.0.0.0/8"]', "deploymentWindowCron=* * 9-16 ? * MON-THU"]
    ) == {
        "desiredCount": "3",
        "production": "true",
        "manualApproval": "on",
        "logRetentionDays": None,
        "ingressCidrs": '["10.0.0.0/8"]',
        "deploymentWindowCron": "* * 9-16 ? * MON-THU",
    }


@pytest.mark.parametrize(
    ("value", "code"),
    [("manualApproval=on", plan.EXIT_OK), ("manualApproval=off", plan.EXIT_OK), ("production=yes", plan.EXIT_SETTINGS_ERROR)],
)
def test_set_values_mean_what_they_mean_on_the_command_line(tmp_path, capsys, value, code):
    """`on` is a value of manualApproval, not YAML 1.1's true; `yes` is no boolean for production."""
    result, _, err = _run(["dev", "--set", value, "--out", str(tmp_path)], capsys)
    assert result == code, err
    if code == plan.EXIT_SETTINGS_ERROR:
        assert "production: 'yes' is not valid; expected true or false" in err


def test_set_overrides_reach_the_program(tmp_path, cached, capsys):
    assert _run(["dev", "--set", "desiredCount=3", "--out", str(tmp_path)], capsys)[0] == plan.EXIT_OK
    assert cached == [("dev", {"desiredCount": "3"})]
    report = (tmp_path / "plan.md").read_text()
    assert "| `desiredCount` | `3` | `--set` |" in _section(report, "Configuration")
    assert "desiredCount=`3`" in _section(report, "Deploy target")
    assert "- Overrides: `desiredCount=3`" in report


def test_from_plans_the_change_and_warns_about_a_documented_interruption(tmp_path, cached, capsys):
    code, out, err = _run(["dev", "--set", "deployTarget=eks", "--from", "--no-checkov", "--out", str(tmp_path)], capsys)
    assert code == plan.EXIT_OK
    # The deployed configuration is the stack file as it is; the planned one has --set.
    assert cached == [("dev", {"deployTarget": "eks"}), ("dev", {})]
    assert err == "warning: Switching deployTarget from ecs to eks in one `pulumi up` (see the report's change section)\n"
    change = _section((tmp_path / "plan.md").read_text(), "Change from the deployed configuration")
    rows = [line for line in change.splitlines() if line.startswith("| ") and not line.startswith("| At")]
    assert rows[1:3] == [
        "| 10 | update lb/listener deploy-lb-http | deploy-lb-http → `container-cicd-dev-app-tg-37a8f9` 100 %: **EMPTY**, nothing is registered in it |",
        "| 1465 | EKS deploy project run (after pulumi up) | deploy-lb-http → `container-cicd-dev-app-tg-37a8f9` 100 %: healthy, EKS pods of "
        "container-cicd-dev-app-deploy on port 8080 |",
    ]
    assert "### Warning: Switching deployTarget from ecs to eks in one `pulumi up`" in change
    assert "1. Bring eks up beside ecs, with no production traffic: `pulumi config set nextDeployTarget eks`" in change
    assert "2. Move the traffic and remove ecs: `pulumi config set deployTarget eks`, `pulumi config rm nextDeployTarget`" in change


def test_from_with_overrides_is_the_deployed_configuration_and_a_safe_change_says_so(tmp_path, cached, capsys):
    code, out, err = _run(["dev", "--set", "desiredCount=3", "--from", "desiredCount=2", "--no-checkov", "--out", str(tmp_path)], capsys)
    assert (code, err) == (plan.EXIT_OK, "")
    assert cached == [("dev", {"desiredCount": "3"}), ("dev", {"desiredCount": "2"})]
    assert "change: something healthy is behind every production listener at every step" in out
    change = _section((tmp_path / "plan.md").read_text(), "Change from the deployed configuration")
    assert change.rstrip().endswith("Something healthy is behind every production listener at every step.")
    assert "### Warning" not in change
    code, _, err = _run(["dev", "--from", "deployTaget=eks", "--no-checkov", "--out", str(tmp_path / "bad")], capsys)
    assert code == plan.EXIT_SETTINGS_ERROR
    assert err.startswith("settings error in stack dev: the deployed configuration (--from): container-cicd:deployTaget: unknown config key")


def test_bad_key_is_a_settings_error_exit_2(tmp_path, cached, capsys):
    code, out, err = _run(["dev", "--set", "deployTaget=ecs", "--out", str(tmp_path)], capsys)
    assert code == plan.EXIT_SETTINGS_ERROR == 2
    assert err.startswith("settings error in stack dev: container-cicd:deployTaget: unknown config key; did you mean 'deployTarget'?")
    assert out == "" and not (tmp_path / "plan.md").exists()


def test_policy_violation_exits_3_and_lists_it(tmp_path, monkeypatch, capsys, dev):
    broken = copy.deepcopy(dev)
    repo = broken.one("aws:ecr/repository:Repository")
    repo.inputs["imageTagMutability"] = "MUTABLE"
    monkeypatch.setattr(plan, "evaluate_stack", lambda stack, overrides: broken)
    code, _, err = _run(["dev", "--out", str(tmp_path)], capsys)
    assert code == plan.EXIT_POLICY_VIOLATIONS == 3
    message = "ECR repository has imageTagMutability 'MUTABLE': set 'IMMUTABLE' so a pushed tag always names the same image"
    policy, checkov = err.split("checkov: ", 1)
    assert policy == f"policy: 1 violation(s):\n  [ecr-immutable-tags] aws:ecr/repository:Repository registry-repo: {message}\n"
    # checkov, the independent authority, finds the same mutable tags (CKV_AWS_51) and fails it too.
    assert checkov.startswith("FAIL, 1 failure(s) neither fixed nor excepted") and checkov.endswith(
        "\n  CKV_AWS_51 aws_ecr_repository.registry-repo: Ensure ECR Image Tags are immutable\n"
    )
    report = (tmp_path / "plan.md").read_text()
    assert "- Policy pack: FAIL (1 violations)" in report
    assert f"| `ecr-immutable-tags` | `aws:ecr/repository:Repository` registry-repo | {message} |" in report


def test_other_program_failures_exit_1(tmp_path, monkeypatch, capsys):
    def fail(stack, overrides):
        raise NotImplementedError("deployTarget: 'lambda' has no deploy target module yet")

    monkeypatch.setattr(plan, "evaluate_stack", fail)
    code, _, err = _run(["dev", "--out", str(tmp_path)], capsys)
    assert code == plan.EXIT_PROGRAM_ERROR == 1
    assert err == "the program failed for stack dev: NotImplementedError: deployTarget: 'lambda' has no deploy target module yet\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "usage error: no stack file Pulumi.nope.yaml in "),
        (["dev", "--set", "desiredCount"], "usage error: --set 'desiredCount': expected KEY=VALUE, e.g. --set desiredCount=3"),
        ([], "usage error: the following arguments are required: stack"),
    ],
)
def test_usage_errors_exit_64_not_2(argv, message, monkeypatch, capsys):
    monkeypatch.setattr(plan, "evaluate_stack", lambda *a: pytest.fail("must not evaluate"))
    code, _, err = _run(argv, capsys)
    assert code == plan.EXIT_USAGE == 64
    assert err.startswith(message)


def test_exit_codes_are_distinct():
    codes = [plan.EXIT_OK, plan.EXIT_PROGRAM_ERROR, plan.EXIT_SETTINGS_ERROR, plan.EXIT_POLICY_VIOLATIONS, plan.EXIT_USAGE]
    assert len(set(codes)) == len(codes)


def test_plan_uses_the_one_mocks_module():
    import offline.mocks

    assert plan.evaluate_stack is offline.mocks.evaluate_stack
    source = open(plan.__file__).read()
    assert "from offline.mocks import" in source and "set_mocks" not in source


def test_docs_document_every_exit_code():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "plan.md").read_text()
    for code in (plan.EXIT_OK, plan.EXIT_PROGRAM_ERROR, plan.EXIT_SETTINGS_ERROR, plan.EXIT_POLICY_VIOLATIONS, plan.EXIT_USAGE):
        assert f"\n| {code} | " in doc


# ----------------------------------------------------------------------------------------------
# Effective settings


def _config_rows(report: str) -> dict[str, tuple[str, str]]:
    rows = [line for line in _section(report, "Configuration").splitlines() if line.startswith("| `")]
    return {row.split(" | ")[0].strip("| `"): (row.split(" | ")[1], row.split(" | ")[2].rstrip(" |")) for row in rows}


def test_configuration_lists_every_key_with_its_effective_value_and_origin(tmp_path, cached, capsys):
    from components.settings import KEYS

    _run(["dev", "--set", "desiredCount=3", "--set", "logRetentionDays=", "--set", "production=true", "--set", "allowPlainHttp=true", "--out", str(tmp_path)], capsys)
    report = (tmp_path / "plan.md").read_text()
    rows = _config_rows(report)
    assert list(rows) == list(KEYS)  # every key once, in the table's order
    assert rows["allowPlainHttp"] == ("`true`", "`--set`")
    assert rows["albAccessLogs"] == rows["waf"] == rows["albDeletionProtection"] == ("`auto` → on (production is true)", "default")
    assert rows["desiredCount"] == ("`3`", "`--set`")
    assert rows["production"] == ("`true`", "`--set`")
    assert rows["imageRetentionCount"] == ("`20`", "stack file")
    assert rows["logRetentionDays"] == ("`30`", "default")  # removed by --set: the default applies
    assert rows["containerPort"] == ("`8080`", "default")
    assert rows["ecsCpu"] == ("`256`", "default")
    assert rows["ingressCidrs"] == ('`["0.0.0.0/0"]`', "default")
    assert rows["manualApproval"] == ("`auto` → on (production is true)", "default")
    assert rows["sourceRepository"] == ('`""` → `container-cicd-dev-app`', "default")
    for key in ("eksClusterName", "eksKubernetesVersion", "eksPublicAccessCidrs", "eksLoadBalancing", "eksPodCpuMillicores", "eksPodMemoryMiB"):
        assert rows[key] == ("—", "not used by `ecs`")
    assert "AWS region: `us-east-1` (stack file)." in report


def test_configuration_of_prod_marks_the_ecs_keys_unused_and_resolves_auto(prod):
    from offline.plan.sections import configuration_section
    from offline.stackfile import stack_config

    rows = _config_rows("## Configuration\n" + "\n".join(configuration_section(prod, stack_config("prod"), {})))
    assert rows["ecsCpu"] == rows["ecsMemory"] == ("—", "not used by `eks`")
    assert rows["eksPodCpuMillicores"] == ("`500`", "stack file")
    assert rows["eksPublicAccessCidrs"] == ("`[]` → private API endpoint only", "default")
    assert rows["auditTrail"] == ("`auto` → on (production is true)", "default")
    assert rows["bakeTimeMinutes"] == ("`10`", "default")


# ----------------------------------------------------------------------------------------------
# Gates, deployment safety, the EKS workload


def _gates(result) -> list[str]:
    from offline.plan.sections import pipeline_section

    return "\n".join(pipeline_section(result)).split("### Entry conditions and gates\n\n", 1)[1].splitlines()


def test_gates_of_dev_and_prod(dev, prod):
    assert _gates(dev) == ["- `Deploy` on failure: ROLLBACK"]
    assert _gates(prod) == [
        "- `Approve`: action `ApproveDeploy` waits for a person to approve or reject it in the CodePipeline console",
        "- `Deploy` on success: rule `BakeTime` (CloudWatchAlarm): alarm `container-cicd-prod-app-alarm-service-unhealthy` "
        "must not be in `ALARM` for 10 minutes; otherwise ROLLBACK",
        "- `Deploy` on failure: ROLLBACK",
    ]


def test_entry_conditions_come_from_the_recorded_pipeline(evaluate):
    window = evaluate("dev", deploymentWindowCron="* * 9-16 ? * MON-THU", deploymentWindowTimeZone="Europe/Berlin")
    assert _gates(window)[0] == (
        "- `Deploy` entry: rule `DeploymentWindow` (DeploymentWindow): only inside the window `* * 9-16 ? * MON-THU` "
        "(time zone `Europe/Berlin`); outside it the execution waits here until the window opens"
    )
    alarm = evaluate("dev", blockDeployWhileAlarming="true")
    assert _gates(alarm)[0] == (
        "- `Deploy` entry: rule `ServiceHealthy` (CloudWatchAlarm): alarm `container-cicd-dev-app-alarm-service-unhealthy` "
        "must not be in `ALARM`; otherwise the execution stops here (FAIL) and must be retried"
    )
    both = evaluate("dev", deploymentWindowCron="* * 9-16 ? * MON-THU", blockDeployWhileAlarming="true")
    assert _gates(both) == [
        "- `Scan` entry: rule `DeploymentWindow` (DeploymentWindow): only inside the window `* * 9-16 ? * MON-THU` "
        "(time zone `UTC`); outside it the execution waits here until the window opens",
        "- `Scan` on success: rule `StillInDeploymentWindow` (DeploymentWindow): only inside the window `* * 9-16 ? * MON-THU` (time zone `UTC`); otherwise FAIL",
        "- `Deploy` entry: rule `ServiceHealthy` (CloudWatchAlarm): alarm `container-cicd-dev-app-alarm-service-unhealthy` "
        "must not be in `ALARM`; otherwise the execution stops here (FAIL) and must be retried",
        "- `Deploy` on failure: ROLLBACK",
    ]


def test_ecs_deployment_alarms_and_circuit_breaker_are_shown(dev, evaluate):
    from offline.plan.sections import deploy_section

    names = dev.one("aws:ecs/service:Service").inputs["alarms"]["alarmNames"]
    lines = deploy_section(dev)
    assert "  - circuit breaker: on, rolls back when tasks fail to become healthy" in lines
    assert (f"  - deployment alarms: {', '.join(f'`{n}`' for n in names)}; one in ALARM during a deployment rolls the deployment back") in lines
    assert len(names) == 5
    record = "(what the image record `/container-cicd/dev/app/deployed-image` holds at this `pulumi up`)"
    assert f"  - container `app`: image `public.ecr.aws/docker/library/traefik:v3.7` {record}, ports [8080], log driver `awslogs`" in lines


def test_eks_workload_on_arm64_shows_its_node_pool(evaluate):
    from offline.plan.sections import deploy_section

    lines = deploy_section(evaluate("dev", deployTarget="eks", cpuArchitecture="arm64"))
    assert (
        "- NodePool `container-cicd-dev-app` (cluster-scoped): nodes of NodeClass `default` with `kubernetes.io/arch` In arm64; "
        "`karpenter.sh/capacity-type` In on-demand; `eks.amazonaws.com/instance-category` In c, m, r; "
        "`eks.amazonaws.com/instance-generation` Gt 4"
    ) in lines
    assert '  - node selector `{"kubernetes.io/arch": "arm64"}`' in lines


def test_eks_workload_shows_image_replicas_resources_probes_and_placement(prod):
    from offline.plan.sections import deploy_section

    lines = deploy_section(prod)
    start = lines.index(next(line for line in lines if line.startswith("- Deployment `app`")))
    assert lines[start:] == [
        "- Deployment `app` in namespace `container-cicd-prod-app`: replicas `3`, strategy "
        '`{"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}, "type": "RollingUpdate"}`, progress deadline `900` s',
        '  - node selector `{"kubernetes.io/arch": "amd64"}`',
        "  - container `app`: image: the image record `/container-cicd/prod/app/deployed-image` holds "
        "`public.ecr.aws/docker/library/traefik:v3.7` (the bootstrap image until the pipeline's first deployment, then the "
        "image the deploy step recorded); the deploy step puts it in place of the manifest's placeholder",
        '  - requests `{"cpu": "500m", "memory": "1024Mi"}`, limits `{"cpu": "500m", "memory": "1024Mi"}`',
        "  - readiness probe: GET `/ping` on port `http`, every 5 s, timeout 2 s, 3 failures",
        "  - liveness probe: GET `/ping` on port `http`, every 15 s, after 10 s, timeout 5 s, 3 failures",
    ]


# ----------------------------------------------------------------------------------------------
# What needs a person


CONNECTION = "- Source connection `container-cicd-dev-app-src` (GitHub) is created PENDING"
PRIVATE = "has a private API endpoint only: the stack still comes up (the deploy step runs inside the VPC)"
EMAIL = "- Notification email subscriptions `ops@example.com`: each address confirms once"
HTTPS = "- Notification https subscriptions `https://hooks.example.com/x`: each endpoint confirms"
NOTHING = "- Nothing: no connection, subscription or private endpoint waits for a person."
SUPPORT_ENDS = "- eksKubernetesVersion 1.35: EKS standard support ends on 2027-03-27 (in 26 days)."
# Before prod's Kubernetes version (1.35) nears its end of standard support, and within the warning window.
CALM, NEAR_THE_END = date(2026, 12, 7), date(2027, 3, 1)


@pytest.mark.parametrize(
    ("stack", "overrides", "expected"),
    [
        ("dev", {}, [NOTHING]),
        ("dev", {"sourceProvider": "github", "sourceRepository": "org/svc"}, [CONNECTION]),
        ("dev", {"sourceProvider": "github", "sourceRepository": "org/svc", "sourceConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/abc-123"}, [NOTHING]),
        ("prod", {}, [PRIVATE]),
        ("prod", {"eksPublicAccessCidrs": '["203.0.113.0/24"]'}, [NOTHING]),
        ("prod", {"__today": NEAR_THE_END}, [PRIVATE, SUPPORT_ENDS]),
        ("dev", {"notificationEmails": '["ops@example.com"]', "notificationHttpsEndpoints": '["https://hooks.example.com/x"]'}, [EMAIL, HTTPS]),
    ],
)
def test_each_warning_appears_exactly_when_it_applies(stack, overrides, expected, evaluate):
    from offline.plan.sections import human_section

    today = overrides.get("__today", CALM)
    lines = human_section(evaluate(stack, **{k: v for k, v in overrides.items() if k != "__today"}), today)
    assert len(lines) == len(expected)
    for line, start in zip(lines, expected, strict=True):
        assert start in line


# ----------------------------------------------------------------------------------------------
# Cost


def test_report_has_the_idle_cost_of_its_own_stack(tmp_path, cached, capsys, dev, prod):
    from offline.cost import estimate

    _run(["dev", "--out", str(tmp_path)], capsys)
    section = _section((tmp_path / "plan.md").read_text(), "Monthly cost while idle")
    assert section.strip() == estimate(dev).markdown().strip()
    assert f"| **Total while idle** | | **{estimate(dev).total:.2f}** |" in section
    assert estimate(dev).total != estimate(prod).total


# ----------------------------------------------------------------------------------------------
# Graphviz


DEV_PIPELINE_DOT = """\
digraph pipeline {
  rankdir=LR;
  compound=true;
  node [shape=box, style=rounded];
  subgraph cluster_s0_Source {
    label="Source";
    s0_Source_a0 [label="Source\\nCodeCommit"];
  }
  subgraph cluster_s1_Build {
    label="Build";
    s1_Build_a0 [label="BuildImage\\nCodeBuild"];
  }
  subgraph cluster_s2_Scan {
    label="Scan";
    s2_Scan_a0 [label="ImageScan\\nInspectorScan"];
    s2_Scan_a1 [label="VerifyImage\\nCodeBuild"];
  }
  subgraph cluster_s3_Deploy {
    label="Deploy";
    s3_Deploy_a0 [label="DeployToEcs\\nECS"];
    s3_Deploy_a1 [label="VerifyDeployment\\nLambda"];
    s3_Deploy_a2 [label="RecordImage\\nCodeBuild"];
  }
  subgraph cluster_s4_Release {
    label="Release";
    s4_Release_a0 [label="MarkKnownGood\\nCodeBuild"];
  }
  subgraph cluster_s5_Publish {
    label="Publish";
    s5_Publish_a0 [label="MarkVerified\\nCodeBuild"];
  }
  s0_Source_a0 -> s1_Build_a0 [ltail=cluster_s0_Source, lhead=cluster_s1_Build];
  s1_Build_a0 -> s2_Scan_a0 [ltail=cluster_s1_Build, lhead=cluster_s2_Scan];
  s2_Scan_a0 -> s2_Scan_a1;
  s2_Scan_a1 -> s3_Deploy_a0 [ltail=cluster_s2_Scan, lhead=cluster_s3_Deploy];
  s3_Deploy_a0 -> s3_Deploy_a1;
  s3_Deploy_a1 -> s3_Deploy_a2;
  s3_Deploy_a2 -> s4_Release_a0 [ltail=cluster_s3_Deploy, lhead=cluster_s4_Release];
  s4_Release_a0 -> s5_Publish_a0 [ltail=cluster_s4_Release, lhead=cluster_s5_Publish];
  s3_Deploy_a0 -> s3_Deploy_a0 [label="rollback", style=dashed];
}
"""

DEV_ARCHITECTURE_DOT = """\
digraph architecture {
  rankdir=LR;
  node [shape=box, style=rounded];
  aws_codecommit_repository_Repository [label="CodeCommit repository"];
  aws_codepipeline_pipeline_Pipeline [label="CodePipeline V2"];
  aws_codebuild_project_Project [label="CodeBuild project ×5"];
  aws_ecr_repository_Repository [label="ECR repository"];
  aws_signer_signingProfile_SigningProfile [label="AWS Signer profile"];
  aws_s3_bucket_Bucket [label="S3 bucket ×2"];
  aws_lb_loadBalancer_LoadBalancer [label="Application Load Balancer"];
  aws_ecs_cluster_Cluster [label="ECS cluster"];
  aws_ecs_service_Service [label="ECS Fargate service"];
  aws_lambda_function_Function [label="Lambda function (verifier, smoke-test hook, canary judge)"];
  aws_sns_topic_Topic [label="SNS topic"];
  aws_cloudwatch_metricAlarm_MetricAlarm [label="CloudWatch alarm ×5"];
  aws_codecommit_repository_Repository -> aws_codepipeline_pipeline_Pipeline [label="source"];
  aws_codepipeline_pipeline_Pipeline -> aws_codebuild_project_Project [label="runs"];
  aws_codepipeline_pipeline_Pipeline -> aws_s3_bucket_Bucket [label="artifacts"];
  aws_codebuild_project_Project -> aws_ecr_repository_Repository [label="pushes image"];
  aws_codebuild_project_Project -> aws_signer_signingProfile_SigningProfile [label="signs, verifies"];
  aws_codepipeline_pipeline_Pipeline -> aws_ecs_service_Service [label="deploys"];
  aws_ecs_cluster_Cluster -> aws_ecs_service_Service [label="runs"];
  aws_lb_loadBalancer_LoadBalancer -> aws_ecs_service_Service [label="routes to"];
  aws_ecr_repository_Repository -> aws_ecs_service_Service [label="pulls"];
  aws_cloudwatch_metricAlarm_MetricAlarm -> aws_sns_topic_Topic [label="notifies"];
  aws_codepipeline_pipeline_Pipeline -> aws_lambda_function_Function [label="verifies the deployment", style=dashed];
}
"""


def test_dot_files_connect_stages_and_actions(tmp_path, cached, capsys, monkeypatch):
    """Written with or without Graphviz; every stage is a cluster, consecutive stages are joined."""
    monkeypatch.setattr(plan.shutil, "which", lambda name: None)
    _run(["dev", "--out", str(tmp_path)], capsys)
    assert (tmp_path / "pipeline.dot").read_text() == DEV_PIPELINE_DOT
    assert (tmp_path / "architecture.dot").read_text() == DEV_ARCHITECTURE_DOT
    assert "`pipeline.dot`, `architecture.dot` render with any Graphviz" in (tmp_path / "plan.md").read_text()


def test_dot_and_mermaid_draw_the_same_graph(dev, prod, evaluate):
    """Same nodes, clusters and edges in both languages, for every shipped stack and an EKS dev."""
    from offline.plan import plan_diagrams
    from offline.plan.diagrams import to_dot, to_mermaid

    for result in (dev, prod, evaluate("dev", deployTarget="eks")):
        for graph in plan_diagrams(result).values():
            dot, mermaid = to_dot(graph), to_mermaid(graph)
            nodes = [n.id for n in graph.nodes] + [n.id for c in graph.clusters for n in c.nodes]
            assert re.findall(r"^\s+(\w+) \[label=", dot, re.MULTILINE) == nodes
            assert re.findall(r'^\s+(\w+)\["', mermaid, re.MULTILINE) == nodes
            assert re.findall(r"subgraph cluster_(\w+) \{", dot) == re.findall(r"subgraph (\w+)\[", mermaid) == [c.id for c in graph.clusters]
            assert len(re.findall(r" -> ", dot)) == len(re.findall(r"-->|\.->", mermaid)) == len(graph.edges)
            first = {c.id: c.nodes[0].id for c in graph.clusters}
            last = {c.id: c.nodes[-1].id for c in graph.clusters}
            for edge in graph.edges:
                tail = first[edge.tail] if edge.tail == edge.head and edge.tail in first else last.get(edge.tail, edge.tail)
                assert f"  {tail} -> {first.get(edge.head, edge.head)}" in dot


def test_dot_labels_escape_quotes_and_backslashes():
    from offline.plan.diagrams import Edge, Graph, Node, to_dot

    graph = Graph("g", nodes=(Node("a", ('say "hi"', "C:\\x")), Node("b", ("b",))), edges=(Edge("a", "b", "x"),))
    assert to_dot(graph) == ('digraph g {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n  a [label="say \'hi\'\\nC:\\\\x"];\n  b [label="b"];\n  a -> b [label="x"];\n}\n')


# ----------------------------------------------------------------------------------------------
# Determinism: same inputs, same bytes out


def _scrambled(result):
    """The same stack as if the program had registered its resources in another order and the engine
    had handed back every object's keys in another order."""

    def flip(value):
        if isinstance(value, dict):
            return {k: flip(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [flip(v) for v in value]
        return value

    scrambled = copy.deepcopy(result)
    scrambled.resources = [dataclasses.replace(r, inputs=flip(r.inputs), outputs=flip(r.outputs)) for r in reversed(scrambled.resources)]
    scrambled.config = flip(scrambled.config)
    scrambled.outputs = flip(scrambled.outputs)
    return scrambled


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_output_does_not_depend_on_registration_or_key_order(stack, evaluate):
    from offline.stackfile import stack_config

    result = evaluate(stack)
    violations = run_rules(subjects(result.resources))
    scrambled = _scrambled(result)
    files = plan.render_files(result, {}, violations, stack_config(stack))
    assert plan.render_files(scrambled, {}, list(reversed(violations)), stack_config(stack)) == files
    promotion = {"promotion.mmd", "promotion.dot"} if stack == "prod" else set()  # prod promotes from dev
    assert set(files) == {"plan.md", "pipeline.mmd", "pipeline.dot", "architecture.mmd", "architecture.dot"} | promotion


def test_violations_are_listed_in_a_fixed_order(dev):
    broken = copy.deepcopy(dev)
    for r in broken.of_type("aws:ecr/repository:Repository") + broken.of_type("aws:s3/bucket:Bucket"):
        r.inputs["imageTagMutability"] = "MUTABLE"
        r.inputs.pop("serverSideEncryptionConfiguration", None)
    violations = run_rules(subjects(broken.resources))
    assert plan.sorted_violations(violations) == plan.sorted_violations(list(reversed(violations)))


def test_a_run_under_another_hash_seed_writes_the_same_bytes(tmp_path, cached, capsys):
    """The plan of dev and prod, written here and by a fresh interpreter under another hash seed (set
    iteration order changes with PYTHONHASHSEED): every output file is byte-identical."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(plan.__file__).resolve().parents[2]
    # --no-checkov: the scan adds about 4 s a run; its section lists sorted findings (tests/test_checkov.py).
    for stack in ("dev", "prod"):
        assert plan.main([stack, "--no-checkov", "--out", str(tmp_path / "here" / stack)]) == plan.EXIT_OK
    capsys.readouterr()
    # One interpreter plans both stacks through the CLI's entry point (half the start-up cost of two).
    driver = "import sys; from offline.plan import main; sys.exit(max(main([s, '--no-checkov', '--out', f'{sys.argv[1]}/{s}']) for s in ('dev', 'prod')))"
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    fresh = subprocess.run(
        [sys.executable, "-c", driver, str(tmp_path / "fresh")], cwd=root, env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=120
    )
    assert fresh.returncode == 0, fresh.stderr
    for stack in ("dev", "prod"):
        here, there = tmp_path / "here" / stack, tmp_path / "fresh" / stack
        names = sorted(p.name for p in here.iterdir())
        assert {"plan.md", "pipeline.mmd", "pipeline.dot", "architecture.mmd", "architecture.dot"} <= set(names)
        assert sorted(p.name for p in there.iterdir()) == names
        for name in names:
            if name.endswith(".svg"):
                continue  # Graphviz's own output; its input (.dot) is compared
            assert (there / name).read_bytes() == (here / name).read_bytes(), f"{stack}: {name} differs between runs"
