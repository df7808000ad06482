"""Supply-chain panels of the dashboard: the scan gate's verdict per deployment, from CloudWatch Logs Insights over the
deployment records (`scan`, `sbom`, `digest`, `commit`: functions/deployment_record.py). No code runs in the account.

A blocked image never deploys, so it has no deployment record: the notification "Image blocked by the supply-chain
gate" (components/safety/notifications.py) reports it, and `python -m tools.sbom` lists the verdicts the records
bucket keeps (a digest VerifyImage's own check refused among them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from functions.deployment_record import RECORD_TYPE

SCAN_ROWS = 50
# title -> (the query after the record filter, view, width)
PANELS: dict[str, tuple[str, str, int]] = {
    f"Scan verdict per deployment (last {SCAN_ROWS})": (
        f"fields finishedAt, outcome, scan, commit, digest, sbom | sort finishedAt desc | limit {SCAN_ROWS}",
        "table",
        16,
    ),
    # coalesce (a general function: the first of its arguments that is not null) counts a record written without the
    # gate, or before it existed, as not scanned.
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
    "Deployments per week by scan verdict": ("fields coalesce(scan, 'not scanned') as verdict | stats count(*) as deployments by verdict, bin(1w)", "table", 8),
}


def scan_query(log_groups: Sequence[str], body: str) -> str:
    """A panel's full query: the record log groups, the record filter, then `body`."""
    sources = " | ".join(f"SOURCE '{group}'" for group in log_groups)
    return f"{sources} | filter recordType = '{RECORD_TYPE}' | {body}"


def supply_widgets(region: pulumi.Input[str], log_groups: Sequence[pulumi.Input[str]], y: int) -> list[dict[str, Any]]:
    """The panels side by side from row `y` (8 rows); none without record log groups."""
    if not log_groups:
        return []
    widgets: list[dict[str, Any]] = []
    x = 0
    for title, (body, view, width) in PANELS.items():
        query = pulumi.Output.all(*log_groups).apply(lambda groups, body=body: scan_query(groups, body))
        widgets.append({"type": "log", "x": x, "y": y, "width": width, "height": 8, "properties": {"title": title, "region": region, "query": query, "view": view}})
        x += width
    return widgets
