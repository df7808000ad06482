"""The dashboard's supply-chain panels: the scan verdict of each deployment, from Logs Insights over the deployment
records of either target (the ECS verifier's log group, the EKS deploy step's); none when the gate does not scan."""

from __future__ import annotations

import json

import pytest

PANELS = ("Scan verdict per deployment (last 50)", "Deployments per week by scan verdict")


def widgets(result) -> dict[str, dict]:
    body = json.loads(result.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    return {w["properties"].get("title", ""): w for w in body["widgets"]}


@pytest.mark.parametrize(
    ("stack", "overrides", "log_group"),
    [("dev", {}, "deploy-verify-logs"), ("prod", {}, "deploy-deploy-logs"), ("dev", {"deployTarget": "eks"}, "deploy-deploy-logs")],
)
def test_the_scan_verdict_of_each_deployment_on_both_targets(evaluate, stack, overrides, log_group):
    result = evaluate(stack, **overrides)
    group = result.named(log_group).outputs["name"]
    found = widgets(result)
    table, weekly = (found[title] for title in PANELS)
    assert (table["type"], table["properties"]["view"], weekly["properties"]["view"]) == ("log", "table", "table")
    assert table["properties"]["query"] == (
        f"SOURCE '{group}' | filter recordType = 'deployment' | fields finishedAt, outcome, scan, commit, digest, sbom | sort finishedAt desc | limit 50"
    )
    assert weekly["properties"]["query"] == (
        f"SOURCE '{group}' | filter recordType = 'deployment' | fields coalesce(scan, 'not scanned') as verdict | stats count(*) as deployments by verdict, bin(1w)"
    )


def test_the_panels_sit_below_every_other_widget_side_by_side(dev):
    body = json.loads(dev.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])["widgets"]
    ours = [w for w in body if w["properties"].get("title") in PANELS]
    others = [w for w in body if w not in ours]
    assert {w["y"] for w in ours} == {max(w["y"] + w["height"] for w in others)}
    assert [(w["x"], w["width"]) for w in ours] == [(0, 16), (16, 8)]


def test_without_a_scan_there_are_no_scan_panels(evaluate):
    assert not set(PANELS) & set(widgets(evaluate("dev", scanSeverityThreshold="off")))
