"""The deploy-target boundary: a new target is one module plus one line in TARGETS (program/targets.py).

This file is that module: a throwaway "static" target (an Amplify app and a Deploy stage with a manual
action) that attaches itself to the load balancer, registered into TARGETS with monkeypatch. The whole stack evaluates with it, and the pipeline,
notifications, alarms, dashboard, plan report and diagrams take everything target-specific from it.
No other module is edited: the settings stand-in below replaces only what a real target adds to
components/settings/ (its DeployTargetKind value), since the key table is settings' own.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

import components.settings as settings_module
import program.targets as targets
from components.contracts import DeployInputs, FailureEvents, MetricRef, ServiceMetrics, StageContribution
from components.deploy.report import ArchitectureEdge, PlanView, Recorded, TargetReport
from components.network.attach import AttachArgs
from components.settings import Settings
from offline.mocks import StackResult, evaluate_stack
from offline.plan import render_files
from offline.plan.checks import sorted_violations
from policy.rules import run_rules, subjects

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# The third target's module


class Kind(StrEnum):
    STATIC = "static"


TYPE = "container-cicd:deploy:StaticTarget"
SITE = "aws:amplify/app:App"


class StaticTarget(pulumi.ComponentResource):
    def __init__(self, name: str, inputs: DeployInputs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        lb = inputs.load_balancer
        self.attachment = lb.attach(AttachArgs(name=lb.pulumi_resource_name, target_kind="static", health_check_path=inputs.workload.health_check_path))
        aws.amplify.App(f"{name}-site", name=f"{name}-site", tags=inputs.tags, opts=pulumi.ResourceOptions(parent=self))
        self.stages: Sequence[StageContribution] = [
            StageContribution(
                stage=aws.codepipeline.PipelineStageArgs(
                    name="Deploy",
                    actions=[
                        aws.codepipeline.PipelineStageActionArgs(
                            name="PublishByHand",
                            category="Approval",
                            owner="AWS",
                            provider="Manual",
                            version="1",
                        )
                    ],
                ),
            )
        ]
        self.service_url = self.attachment.url
        dimensions: dict[str, pulumi.Input[str]] = {"Site": name}
        self.metrics = ServiceMetrics(
            load_balancer=self.attachment.load_balancer_arn_suffix,
            target_group=self.attachment.target_group_arn_suffix,
            saturation=[MetricRef("Static", "CpuPercent", dimensions, "cpu"), MetricRef("Static", "MemoryPercent", dimensions, "memory")],
        )
        self.failure_events: Sequence[FailureEvents] = [FailureEvents("static-publish-failed", "The site publisher gave up", {"source": ["static.publisher"]})]
        self.outputs: dict[str, str] = {}
        # A manual publish writes no deployment record.
        self.deployment_record_log_groups: Sequence[pulumi.Output[str]] = []
        self.register_outputs({"service_url": self.service_url})


def from_settings(name: str, settings: Settings, inputs: DeployInputs, opts: pulumi.ResourceOptions) -> StaticTarget:
    return StaticTarget(name, inputs, opts)


def _rows(view: PlanView) -> list[str]:
    return [f"- Static site `{b.name}`" for b in view.of_type(SITE)]


def _resource_rows(resource: Recorded, view: PlanView) -> list[str]:
    return ["  - published by hand"] if resource.type == SITE else []


REPORT = TargetReport(
    key_settings={SITE: ("tags.service",)},
    resource_rows=_resource_rows,
    deploy_rows=_rows,
    deploy_time_rows=lambda view: ["- Static: nothing beyond credentials"],
    human_rows=lambda view: ["- Static: someone approves PublishByHand"],
    architecture_nodes=((SITE, "Static site"),),
    architecture_edges=(ArchitectureEdge("aws:codepipeline/pipeline:Pipeline", SITE, "publishes"),),
)

# ---------------------------------------------------------------------------------------------
# Registering it, and the stack with it


@pytest.fixture(scope="module")
def static(dev) -> Iterator[StackResult]:
    """dev with the third target, registered while this module's tests run (the plan asks TARGETS too).

    Asks for the session's `dev` first: evaluated inside the patch, the shared dev stack would be this
    third-target variant for every later test module."""
    with pytest.MonkeyPatch.context() as patch:
        # The one line in TARGETS.
        patch.setitem(targets.TARGETS, Kind.STATIC, targets.TargetModule(TYPE, from_settings, REPORT))
        # Stands in for the DeployTargetKind value a real target adds to the settings.
        load = settings_module.load_settings
        patch.setattr(settings_module, "load_settings", lambda: dataclasses.replace(load(), deploy_target=Kind.STATIC, ecs=None))
        yield evaluate_stack("dev")
    assert set(targets.TARGETS) == {"ecs", "eks"}


def test_the_stack_runs_the_third_target(static):
    component = static.one(TYPE)
    assert [r.name for r in static.resources if r.parent_urn == component.ref] == ["deploy-site"]
    assert not [r for r in static.resources if r.type.startswith("aws:ecs/") or r.type.startswith("aws:eks/")]


def test_the_targets_stage_follows_the_build_and_precedes_publish(static):
    stages = static.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    assert [s["name"] for s in stages] == ["Source", "Build", "Scan", "Deploy", "Release", "Publish"]
    assert [(a["name"], a["provider"]) for a in stages[3]["actions"]] == [("PublishByHand", "Manual")]


def test_notifications_route_the_targets_failure_events_and_no_other_targets(static):
    rules = {r.name: r for r in static.of_type("aws:cloudwatch/eventRule:EventRule") if r.name.startswith("notifications-")}
    assert set(rules) == {f"notifications-{n}" for n in ("static-publish-failed", "image-findings", "pipeline-failed", "pipeline-executions", "approval-needed", "image-blocked")}
    assert json.loads(rules["notifications-static-publish-failed"].inputs["eventPattern"]) == {"source": ["static.publisher"]}


def test_alarms_and_dashboard_watch_the_targets_metrics(static):
    saturation = {a.inputs["metricName"]: a.inputs["namespace"] for a in static.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.inputs.get("namespace") == "Static"}
    assert saturation == {"CpuPercent": "Static", "MemoryPercent": "Static"}
    body = json.loads(static.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    assert '"Static", "CpuPercent"' in json.dumps(body)


def test_the_plan_and_diagrams_show_what_the_target_reports(static):
    files = render_files(static, {}, sorted_violations(run_rules(subjects(static.resources))), {})
    plan = files["plan.md"]
    assert f"component `deploy` `{TYPE}`" in plan
    assert "- `aws:amplify/app:App` **deploy-site**: tags.service=`app`\n  - published by hand" in plan
    assert "- Static site `deploy-site`" in plan
    assert "- Static: nothing beyond credentials" in plan
    assert "- Static: someone approves PublishByHand" in plan
    architecture = files["architecture.mmd"]
    assert 'aws_amplify_app_App["Static site"]' in architecture
    assert 'aws_codepipeline_pipeline_Pipeline -- "publishes" --> aws_amplify_app_App' in architecture
    # Drawn between the shared blocks, as the target's blocks always are.
    assert architecture.index("Application Load Balancer") < architecture.index("Static site") < architecture.index("SNS topic")
    assert "PublishByHand" in files["pipeline.mmd"]


def test_everything_outside_the_target_keeps_its_urn(static, dev):
    """Source, registry, build, pipeline, notifications, alarms: the same URNs as with ECS, except the
    targets' own contributions (their children, their failure-event rules, their target groups)."""

    def outside(result: StackResult) -> set[str]:
        name = lambda r: r.urn.rsplit("::", 1)[-1]  # noqa: E731
        return {r.urn for r in result.resources if "container-cicd:deploy:" not in r.urn and "-failed" not in name(r) and not name(r).startswith("deploy-lb-tg-")}

    assert outside(static) == outside(dev)


# Modules that must take everything target-specific from the target: they name no target's resource
# types, components, settings or config keys (prose in comments and docstrings may give examples).
TARGET_FREE = (
    "__main__.py",
    "components/delivery/pipeline.py",
    "components/safety/notifications.py",
    "components/safety/alarms.py",
    "components/safety/dashboard.py",
    "components/contracts.py",
    "offline/plan/__init__.py",
    "offline/plan/sections.py",
    "offline/plan/diagrams.py",
)
TARGET_NAMES = re.compile(
    r'"aws:(ecs|eks)/|E[ck]sTarget|DeployTargetKind\.|settings\.e[ck]s\b|"e[ck]s[A-Z]|from components\.deploy\.e[ck]s'
    r'|\be[ck]s_|:e[ck]s:|"aws\.e[ck]s"'
)


@pytest.mark.parametrize("path", TARGET_FREE)
def test_shared_modules_name_no_target(path):
    code = [line for line in (ROOT / path).read_text().splitlines() if not line.lstrip().startswith("#")]
    assert [line.strip() for line in code if TARGET_NAMES.search(line)] == []
