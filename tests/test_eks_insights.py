"""The Container Insights add-on and the alarms that read it: the pinned add-on version publishes, by
default, every ContainerInsights metric (name and dimension set) the stack's alarms and dashboard read.

components/deploy/eks/insights.py keeps the pin and a table of what each known add-on version publishes
by default. Changing the pin to a version missing from the table, or an alarm to a metric or dimension
set the pinned version does not publish, fails here: the alarm would otherwise sit in INSUFFICIENT_DATA
on a cluster that runs fine.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from components.deploy.eks.insights import ADDON_DEFAULTS, CONTAINER_INSIGHTS_ADDON, CONTAINER_INSIGHTS_ADDON_VERSION, CONTAINER_INSIGHTS_NAMESPACE, AddonDefaults
from offline.mocks import Resource, StackResult

ADDON = "aws:eks/addon:Addon"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
Metric = tuple[str, str, frozenset[str]]


def _alarm_metrics(alarm: Resource) -> list[Metric]:
    inputs = alarm.inputs
    found = []
    if inputs.get("metricName"):
        found.append((inputs["namespace"], inputs["metricName"], frozenset(inputs.get("dimensions") or {})))
    for query in inputs.get("metricQueries") or []:
        metric = query.get("metric")
        if metric:
            found.append((metric["namespace"], metric["metricName"], frozenset(metric.get("dimensions") or {})))
    return found


def _widget_metric(entry: list) -> Metric | None:
    """A dashboard metric array: namespace, name, then dimension name/value pairs, then optional rendering options."""
    if len(entry) < 2 or not all(isinstance(v, str) for v in entry[:2]) or entry[0] in (".", "..."):
        return None
    pairs = [v for v in entry[2:] if not isinstance(v, dict)]
    return (entry[0], entry[1], frozenset(pairs[0::2]))


def metrics_read(result: StackResult) -> set[Metric]:
    """Every (namespace, metric, dimension names) the stack's alarms and dashboards read."""
    found = {m for alarm in result.of_type(ALARM) for m in _alarm_metrics(alarm)}
    for dashboard in result.of_type(DASHBOARD):
        for widget in json.loads(dashboard.inputs["dashboardBody"])["widgets"]:
            for entry in (widget.get("properties") or {}).get("metrics") or []:
                metric = _widget_metric(entry)
                if metric is not None:
                    found.add(metric)
    return found


def unpublished(result: StackResult, table: dict[str, AddonDefaults]) -> list[str]:
    """The ContainerInsights metrics the stack reads that its add-on's pinned version does not publish by default."""
    [addon] = [a for a in result.of_type(ADDON) if a.inputs["addonName"] == CONTAINER_INSIGHTS_ADDON]
    version = addon.inputs.get("addonVersion")
    if version not in table:
        return [f"add-on version {version!r} is not in the table of what each version publishes"]
    read = {m for m in metrics_read(result) if m[0] == CONTAINER_INSIGHTS_NAMESPACE}
    return sorted(f"{name} by {sorted(dims)} is not published by {version}" for _, name, dims in read - table[version].metrics)


@pytest.fixture(scope="module")
def created_clusters(prod, evaluate) -> dict[str, StackResult]:
    return {"prod": prod, "dev on eks": evaluate("dev", deployTarget="eks")}


def test_the_addon_is_pinned_to_the_version_in_one_constant(created_clusters):
    for label, result in created_clusters.items():
        addon = result.one(ADDON)
        assert (addon.inputs["addonName"], addon.inputs.get("addonVersion")) == (CONTAINER_INSIGHTS_ADDON, "v6.2.0-eksbuild.1"), label
        assert CONTAINER_INSIGHTS_ADDON_VERSION == "v6.2.0-eksbuild.1"


def test_every_container_insights_metric_read_is_published_by_the_pinned_version(created_clusters):
    for label, result in created_clusters.items():
        read = {m for m in metrics_read(result) if m[0] == CONTAINER_INSIGHTS_NAMESPACE}
        # The CPU and memory alarms (and their dashboard graph) per Kubernetes service.
        assert {name for _, name, _ in read} == {"pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit"}, label
        assert {dims for _, _, dims in read} == {frozenset({"ClusterName", "Namespace", "Service"})}, label
        assert unpublished(result, ADDON_DEFAULTS) == [], label


def test_the_pinned_version_runs_only_the_classic_pipeline_by_default():
    """6.0.x and 6.1.x also run the OpenTelemetry pipeline: metrics under other names that no alarm here reads, ingested besides."""
    assert ADDON_DEFAULTS[CONTAINER_INSIGHTS_ADDON_VERSION].otel_by_default is False
    assert ADDON_DEFAULTS["v6.0.1-eksbuild.1"].otel_by_default is True


def test_the_check_fails_for_a_version_outside_the_table_or_a_metric_it_does_not_publish(prod):
    """The pairing check itself: a pin the table does not know, and an alarm on a metric the pinned version
    does not publish (an OpenTelemetry name, or the Classic metric by PodName), are each reported."""
    addon = prod.one(ADDON)
    other_pin = replace(prod, resources=[replace(r, inputs={**r.inputs, "addonVersion": "v6.5.0-eksbuild.1"}) if r is addon else r for r in prod.resources])
    assert unpublished(other_pin, ADDON_DEFAULTS) == ["add-on version 'v6.5.0-eksbuild.1' is not in the table of what each version publishes"]
    unpinned = replace(prod, resources=[replace(r, inputs={k: v for k, v in r.inputs.items() if k != "addonVersion"}) if r is addon else r for r in prod.resources])
    assert unpublished(unpinned, ADDON_DEFAULTS) == ["add-on version None is not in the table of what each version publishes"]
    cpu = prod.named("alarms-cpu")
    moved = {**cpu.inputs, "metricName": "container_cpu_usage_seconds_total"}
    by_pod = {**cpu.inputs, "dimensions": {**cpu.inputs["dimensions"], "PodName": "app"}}
    for inputs, problem in (
        (moved, "container_cpu_usage_seconds_total by ['ClusterName', 'Namespace', 'Service'] is not published by v6.2.0-eksbuild.1"),
        (by_pod, "pod_cpu_utilization_over_pod_limit by ['ClusterName', 'Namespace', 'PodName', 'Service'] is not published by v6.2.0-eksbuild.1"),
    ):
        changed = replace(prod, resources=[replace(r, inputs=inputs) if r is cpu else r for r in prod.resources])
        assert unpublished(changed, ADDON_DEFAULTS) == [problem]


def test_the_docs_name_the_pin_the_versions_and_how_to_move_it():
    eks = (Path(__file__).resolve().parent.parent / "docs" / "eks.md").read_text()
    assert f"`{CONTAINER_INSIGHTS_ADDON_VERSION}`" in eks
    assert "aws eks describe-addon-versions --addon-name amazon-cloudwatch-observability --kubernetes-version" in eks
    for version in ADDON_DEFAULTS:
        assert f"`{version}`" in eks, version
