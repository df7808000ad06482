"""The offline plan command: its report, its diagrams and its exit codes (run in-process)."""

from __future__ import annotations

import copy
import re
import stat

import pytest

from offline import plan
from policy.rules import run_rules, subjects

SECTIONS = [
    "## Summary", "## Configuration", "## Pipeline", "### Entry conditions and gates", "## Deploy target", "## What `pulumi up` needs",
    "## Needs a person at deploy time", "## Monthly cost while idle", "## Policy pack", "## Diagrams",
    "## Stack outputs", "## Resource counts by type", "## Component tree",
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
    assert "- Trigger: EventBridge rule `pipeline-start` starts the pipeline on CodeCommit pushes to `[\"main\"]`" in section


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
    assert [f"  {a} --> {b}" for a, b in zip(ids, ids[1:], strict=False)] == [line for line in pipeline.splitlines() if "-->" in line]
    assert '  s2_Deploy -. "rollback" .-> s2_Deploy' in pipeline  # dev's Deploy stage rolls back on failure
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
    assert plan.parse_overrides(["desiredCount=3", "production=true", "manualApproval=on", "logRetentionDays=",
                                 'ingressCidrs=["10.0.0.0/8"]', "deploymentWindowCron=* * 9-16 ? * MON-THU"]) == {
        "desiredCount": "3", "production": "true", "manualApproval": "on", "logRetentionDays": None,
        "ingressCidrs": '["10.0.0.0/8"]', "deploymentWindowCron": "* * 9-16 ? * MON-THU",
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
    assert err == f"policy: 1 violation(s):\n  [ecr-immutable-tags] aws:ecr/repository:Repository registry-repo: {message}\n"
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


@pytest.mark.parametrize(("argv", "message"), [
    (["nope"], "usage error: no stack file Pulumi.nope.yaml in "),
    (["dev", "--set", "desiredCount"], "usage error: --set 'desiredCount': expected KEY=VALUE, e.g. --set desiredCount=3"),
    ([], "usage error: the following arguments are required: stack"),
])
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
