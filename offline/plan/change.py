"""The report's change section (`--from`): what `pulumi up` from the deployed configuration does, step by
step, to what the production listeners forward to, and a warning for each interruption the docs list.

The step order and the traffic model are offline/traffic.py's; the interruptions offline/interruptions.py's.
The plan does not know where ECS's last deployment left production traffic: it assumes the primary target
group, and the warning on leaving blue-green, canary or linear says how to check.
"""

from __future__ import annotations

from offline.changes import plan_change
from offline.interruptions import interruptions
from offline.mocks import StackResult
from offline.plan.sections import md, stack_settings
from offline.traffic import Moment, plan_traffic


def _forwards(moment: Moment) -> str:
    if not moment.forwards:
        return "nothing (no production listener)"
    return "<br>".join(f"{f.listener} → `{f.target_group}` {f.share:g} %: {'healthy' if f.healthy else '**EMPTY**'}, {md(f.why)}" for f in moment.forwards)


def change_warnings(before: StackResult, after: StackResult) -> list[str]:
    """The titles of the change's warnings: each documented interruption, and gaps nothing documented explains."""
    found = [i.title for i in interruptions(stack_settings(before), stack_settings(after), before, after)]
    if not found and plan_traffic(before, after, plan_change(before, after)).gaps:
        found.append("the listener forwards to a target group with nothing healthy in it (no documented change explains it)")
    return found


def change_section(before: StackResult, after: StackResult) -> list[str]:
    """The `## Change from the deployed configuration` section's lines."""
    change = plan_change(before, after)
    traffic = plan_traffic(before, after, change)
    lines = [
        f"From the deployed configuration (`--from`) to this one, `pulumi up` creates {len(change.created)}, replaces {len(change.replaced)} "
        f"and deletes {len(change.deleted)} resources (creates and updates first, each once what it depends on is done; deletions last). "
        "What the production listeners forward to after each step that changes it (seconds are the model's, coarse):",
        "",
        "| At (s) | Step | Production traffic goes to |",
        "|---|---|---|",
    ]
    shown = None
    for moment in traffic.moments:
        text = _forwards(moment)
        if text != shown or moment is traffic.moments[-1]:
            lines.append(f"| {moment.step.at} | {md(moment.step.label)} | {text} |")
            shown = text
    found = interruptions(stack_settings(before), stack_settings(after), before, after)
    if not traffic.gaps and not found:
        return [*lines, "", "Something healthy is behind every production listener at every step."]
    for interruption in found:
        lines += [
            "",
            f"### Warning: {interruption.title}",
            "",
            f"- Interruption: {interruption.cause}",
            f"- Safe sequence instead (docs/safety.md#{interruption.anchor}):",
            *(f"  {step}" for step in interruption.steps),
        ]
    if traffic.gaps:
        lines += ["", "Gaps found by the model:", *(f"- {md(str(gap))}" for gap in traffic.gaps)]
    if traffic.gaps and not found:
        lines.append("- No documented change explains these gaps: treat the change as interrupting, and report it.")
    return lines
