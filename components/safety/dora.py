"""DORA panels of the dashboard: CloudWatch Logs Insights queries over the deployment records (no code runs).

Logs Insights sees one record at a time and cannot join it with the pipeline's executions or the commits' times,
so the panels show what the records alone say: deployments and failures per day, the failure rate per week, and
redeployed commits per week (reverts and rollbacks). Lead time, recovery time and the failures a production bake
finds after the record was written come from `python -m tools.dora` (docs/dora.md). Functions used: `strcontains` returns 1 when
the string contains the value, else 0; `count_distinct` is approximate for many distinct values
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from functions.deployment_record import RECORD_TYPE, SUCCEEDED

# title -> the query after the record filter; each is what one panel draws.
QUERIES: dict[str, str] = {
    "Deployments per day (records)": (
        f"fields strcontains(outcome, '{SUCCEEDED}') as ok, 1 - strcontains(outcome, '{SUCCEEDED}') as ko | stats sum(ok) as succeeded, sum(ko) as failed by bin(1d)"
    ),
    "Failed deployments per week (records, % of deployments)": (
        f"fields 100 * (1 - strcontains(outcome, '{SUCCEEDED}')) as failedPercent | stats avg(failedPercent) as changeFailureRatePercent, count(*) as deployments by bin(1w)"
    ),
    "Redeployed commits per week (records: deployments minus distinct commits)": "stats count(*) as deployments, count_distinct(commit) as commits by bin(1w)",
}
NOTE = (
    "**DORA from the deployment records.** Lead time for changes, failed-deployment recovery time and rework rate, "
    "and the failures a production bake finds after the record was written: `python -m tools.dora --stack <stack>` "
    "(docs/dora.md)."
)


def dora_query(log_groups: Sequence[str], body: str) -> str:
    """A panel's full query: the record log groups, the record filter, then `body`."""
    sources = " | ".join(f"SOURCE '{group}'" for group in log_groups)
    return f"{sources} | filter recordType = '{RECORD_TYPE}' | {body}"


def dora_widgets(region: pulumi.Input[str], log_groups: Sequence[pulumi.Input[str]], y: int) -> list[dict[str, Any]]:
    """A note and one Logs Insights panel per query, from row `y` (8 rows in all)."""
    widgets: list[dict[str, Any]] = [{"type": "text", "x": 0, "y": y, "width": 24, "height": 2, "properties": {"markdown": NOTE}}]
    for index, (title, body) in enumerate(QUERIES.items()):
        view = "table" if index == len(QUERIES) - 1 else "bar"
        query = pulumi.Output.all(*log_groups).apply(lambda groups, body=body: dora_query(groups, body))
        widgets.append({"type": "log", "x": 8 * index, "y": y + 2, "width": 8, "height": 6, "properties": {"title": title, "region": region, "query": query, "view": view}})
    return widgets
