"""The dashboard's DORA panels: Logs Insights queries over exactly the target's deployment-record log groups, on
ECS (dev) and EKS (prod), reading only fields the record has."""

from __future__ import annotations

import json
import re

import pytest

from components.safety.dora import NOTE, QUERIES, dora_query
from functions.deployment_record import FIELDS, RECORD_TYPE

# The Logs Insights commands and functions the panels may use (CWL_QuerySyntax pages).
COMMANDS = ("SOURCE", "filter", "fields", "stats")
FUNCTIONS = {"strcontains", "sum", "avg", "count", "count_distinct", "bin"}


def dora_panels(stack):
    widgets = json.loads(stack.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])["widgets"]
    return [w for w in widgets if w["type"] == "log" and w["properties"]["title"] in QUERIES], widgets


def record_log_groups(stack):
    """The names of the log groups the record writer logs to (ECS: the verify function's; EKS: the deploy step's)."""
    groups = {r.name: r for r in stack.of_type("aws:cloudwatch/logGroup:LogGroup")}
    prefix = "/aws/lambda/" if stack.config.get("container-cicd:deployTarget", "ecs") == "ecs" else "/aws/codebuild/"
    writer = "verify" if prefix == "/aws/lambda/" else "-deploy-"
    return [r.outputs["name"] for r in groups.values() if r.inputs.get("namePrefix", "").startswith(prefix) and writer in r.inputs["namePrefix"]]


@pytest.mark.parametrize("which", ["dev", "prod"])
def test_each_dora_panel_queries_the_targets_record_log_groups(which, request):
    stack = request.getfixturevalue(which)
    panels, widgets = dora_panels(stack)
    groups = record_log_groups(stack)
    assert len(groups) == 1, groups
    assert [p["properties"]["title"] for p in panels] == list(QUERIES)
    for panel in panels:
        title = panel["properties"]["title"]
        assert panel["properties"]["query"] == dora_query(groups, QUERIES[title])
        assert panel["properties"]["query"].startswith(f"SOURCE '{groups[0]}' | filter recordType = '{RECORD_TYPE}' | ")
    assert [w["properties"]["markdown"] for w in widgets if w["type"] == "text" and "DORA" in w["properties"]["markdown"]] == [NOTE]


@pytest.mark.parametrize("title", sorted(QUERIES))
def test_queries_use_known_commands_functions_and_record_fields(title):
    query = dora_query(["/aws/lambda/group"], QUERIES[title])
    commands = [part.strip().split(" ", 1) for part in query.split(" | ")]
    assert all(command in COMMANDS for command, _ in commands)
    assert commands[-1][0] == "stats" and " by bin(" in commands[-1][1]
    body = re.sub(r"'[^']*'", "''", query)  # literals out
    used = set(re.findall(r"([A-Za-z_]+)\(", body))
    assert used <= FUNCTIONS
    aliases = set(re.findall(r" as (\w+)", body))
    names = set(re.findall(r"\b([A-Za-z_]\w*)\b(?!\()", body)) - aliases - FUNCTIONS - set(COMMANDS) - {"as", "by", "1d", "1w"}
    assert names <= set(FIELDS), names - set(FIELDS)
