"""What the plan shows of the DORA metrics: where `python -m tools.dora` reads each input on this stack, and
what the dashboard draws. Read from the recorded resources and the stack's settings only."""

from __future__ import annotations

from components.deploy.report import get
from components.settings import Settings
from offline.mocks import StackResult
from offline.plan.sections import PIPELINE_TYPE, pipeline_resource, stack_settings
from tools.dora import record_log_group_prefixes
from tools.revert import stack_target

LOG_GROUP_TYPE = "aws:cloudwatch/logGroup:LogGroup"
BAKE_RULE = "BakeTime"  # components/delivery/pipeline.py: the first deploy stage's on-success rule


def dora_section(result: StackResult) -> list[str]:
    """The section of a stack without `services`; with them, one block per service (`--service`, its own pipeline
    and records)."""
    lines: list[str] = []
    for service in stack_settings(result).service_list:
        lines += [*([""] if lines else []), *_service_section(result, service.settings, None if service.implicit else service.name)]
    return lines


def _service_section(result: StackResult, settings: Settings, service: str | None) -> list[str]:
    prefixes = record_log_group_prefixes(settings.prefix)
    groups = sorted(str(r.inputs["namePrefix"]) for r in result.of_type(LOG_GROUP_TYPE) if r.inputs.get("namePrefix") in prefixes)
    pipeline = stack_target(result.stack, settings.service_name, settings.project).pipeline
    upstream = settings.promotion.promote_from
    commits = (
        f"the source action of `{stack_target(upstream, settings.service_name, settings.project).pipeline}`, the upstream `{upstream}` that built them "
        "(this stack records the upstream's short commit)"
        if upstream and "/" not in upstream
        else f"the source action of `{upstream}`'s pipeline, in another project: lead time unknown to the command"
        if upstream
        else f"the source action of `{pipeline}`"
    )
    declared = next((r for r in result.of_type(PIPELINE_TYPE) if r.inputs.get("name") == pipeline), None) if service else pipeline_resource(result)
    stages = (declared.inputs.get("stages") or []) if declared else []
    bakes = [f"`{stage.get('name')}`" for stage in stages for rule in get(stage, "onSuccess.condition.rules") or [] if rule.get("name") == BAKE_RULE]
    bake = f"; a bake that fails after a green record ({', '.join(bakes)}) counts as a failure from the execution's result" if bakes else ""
    return [
        f"`python -m tools.dora --stack {result.stack}{f' --service {service}' if service else ''}` computes the five metrics"
        f"{f' of service {service}' if service else ''} (docs/dora.md):",
        "",
        f"- Deployment records: log groups {', '.join(f'`{g}…`' for g in groups) or 'none'} (FilterLogEvents; groups kept from the other target are read too)",
        f"- Executions, results and stage rollbacks: `{pipeline}` (ListPipelineExecutions, ListActionExecutions){bake}",
        f"- Commit times: the `AuthorDate` of {commits}",
        "- Dashboard: Logs Insights panels over the records (deployments and failures per day, failed share per week, redeployed commits per week)",
    ]
