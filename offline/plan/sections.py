"""The sections of plan.md, each a list of Markdown lines computed from one evaluated stack.

Order never depends on the order the program registered resources in (which follows when Outputs
resolve): resources are sorted by URN, settings follow the key table, pipeline stages and actions
follow the pipeline's own declaration, and JSON objects are written with sorted keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from components.deploy.report import Recorded, get, show
from components.settings import KEYS, Key, Settings, parse_settings
from offline.mocks import PROJECT, Resource, StackResult, config_strings
from offline.plan.promotion import trigger_line as inbox_trigger
from program.targets import TARGETS, TargetModule, module_of_type

PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
DEPLOY_COMPONENT_PREFIX = f"{PROJECT}:deploy:"
IMAGE_RECORD_TYPE = f"{PROJECT}:delivery:ImageRecord"

# Settings worth reading in the report, per shared resource type (dotted paths into the inputs); each
# target adds its own types' (TargetReport.key_settings).
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("name", "internal", "loadBalancerType"),
    "aws:lb/listener:Listener": ("port", "protocol"),
    "aws:lb/targetGroup:TargetGroup": ("name", "port", "protocol", "targetType", "healthCheck.path", "deregistrationDelay"),
    "aws:codebuild/project:Project": ("name", "environment.computeType", "environment.image", "environment.privilegedMode", "buildTimeout"),
}


# ----------------------------------------------------------------------------------------------
# Helpers


def md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def by_urn(resources: Sequence[Resource]) -> list[Resource]:
    return sorted(resources, key=lambda r: r.urn)


def of_type(result: StackResult, type_: str) -> list[Resource]:
    return by_urn(result.of_type(type_))


def pipeline_resource(result: StackResult) -> Resource | None:
    found = of_type(result, PIPELINE_TYPE)
    return found[0] if found else None


def descendants(result: StackResult, root: Resource) -> list[Resource]:
    """Every resource under `root`, by URN (found by walking parents, whatever the registration order)."""
    parents = {r.ref: r.parent_urn for r in result.resources}
    found = []
    for r in result.resources:
        parent = r.parent_urn
        while parent is not None and parent != root.ref:
            parent = parents.get(parent)
        if parent == root.ref:
            found.append(r)
    return by_urn(found)


def buildspec(r: Recorded) -> dict:
    if r.type != "aws:codebuild/project:Project":
        return {}
    try:
        return yaml.safe_load(get(r.inputs, "source.buildspec") or "") or {}
    except yaml.YAMLError:
        return {}


def _short(key: str) -> str:
    return key.split(":", 1)[1] if key.startswith(f"{PROJECT}:") else key


def raw_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The project's config without its namespace, as the strings `load_settings` hands to `parse_settings`."""
    return {_short(k): v for k, v in config_strings(config).items() if k.startswith(f"{PROJECT}:")}


def stack_settings(result: StackResult) -> Settings:
    return parse_settings(raw_settings(result.config), PROJECT, result.stack)


# ----------------------------------------------------------------------------------------------
# Configuration: every key with its effective value and where it comes from


def _typed(spec: Key, value: Any) -> Any:
    """A config value as the settings read it (the program has already accepted it)."""
    if spec.type == "integer":
        return int(str(value).strip())
    if spec.type == "number":
        return float(str(value).strip())
    if spec.type == "boolean":
        return value if isinstance(value, bool) else str(value).strip().lower() == "true"
    if spec.type == "array":
        return list(json.loads(value)) if isinstance(value, str) else list(value)
    return str(value).strip()


def _resolved(key: str, value: Any, settings: Settings) -> str:
    """What a value that defers to something else turns into for this stack ('' when nothing)."""
    toggles = {
        "manualApproval": settings.safety.manual_approval,
        "auditTrail": settings.safety.audit_trail,
        "albAccessLogs": settings.network.alb_access_logs,
        "waf": settings.network.waf,
        "albDeletionProtection": settings.network.alb_deletion_protection,
    }
    if key in toggles and value == "auto":
        return f"→ {'on' if toggles[key] else 'off'} (production is {str(settings.production).lower()})"
    if key == "bakeTimeMinutes" and not settings.production:
        return "→ no bake time (production is false)"
    module = TARGETS.get(settings.deploy_target)
    note = module.report.resolved_note(key, value, settings) if module else ""
    if note:
        return note
    if value not in ("", []):
        return ""
    if key == "sourceRepository":
        return f"→ `{settings.source.repository}`"
    if key == "sourceConnectionArn" and settings.source.provider.uses_connection:
        return "→ the stack creates a connection (PENDING until confirmed)"
    if key == "vpcId":
        return f"→ the stack creates a VPC ({settings.network.vpc_cidr})"
    if key == "certificateArn":
        return "→ HTTP only"
    if key == "deploymentWindowCron":
        return "→ deploy at any time"
    return module.report.empty_key_notes.get(key, "") if module else ""


def configuration_section(result: StackResult, stack_file: Mapping[str, Any], overrides: Mapping[str, Any]) -> list[str]:
    """Every key of the settings table, in its declared order: the value the program uses (defaults
    resolved) and its origin. Keys the deploy target does not read are listed as not used."""
    raw = raw_settings(result.config)
    settings = stack_settings(result)
    target = settings.deploy_target.value
    from_set = {_short(k) for k, v in overrides.items() if v is not None}
    from_file = {_short(k) for k in stack_file}
    region = result.config.get("aws:region")
    region_origin = "`--set`" if "aws:region" in from_set else "stack file" if "aws:region" in from_file else "default"
    lines = [
        f"AWS region: `{region or 'us-east-1'}` ({region_origin if region else 'default'}).",
        "",
        "| Key | Effective value | From |",
        "|---|---|---|",
    ]
    for key, spec in KEYS.items():
        if settings.deploy_target not in spec.targets:
            lines.append(f"| `{key}` | — | not used by `{target}` |")
            continue
        value = _typed(spec, raw[key]) if key in raw else spec.default
        origin = ("`--set`" if key in from_set else "stack file" if key in from_file else "stack config") if key in raw else "default"
        note = _resolved(key, value, settings)
        # Booleans as the stack file and `pulumi config set` spell them.
        shown = f"`{str(value).lower()}`" if isinstance(value, bool) else show(value)
        lines.append(f"| `{key}` | {md(shown)}{' ' + md(note) if note else ''} | {origin} |")
    return lines


# ----------------------------------------------------------------------------------------------
# Pipeline


def _rule_text(rule: dict) -> str:
    provider = get(rule, "ruleTypeId.provider")
    config = rule.get("configuration") or {}
    if provider == "DeploymentWindow":
        detail = f"only inside the window `{config.get('Cron')}` (time zone `{config.get('TimeZone', 'UTC')}`)"
    elif provider == "CloudWatchAlarm":
        detail = f"alarm `{config.get('AlarmName')}` must not be in {', '.join(f'`{s}`' for s in str(config.get('AlarmStates', 'ALARM')).split(','))}"
        if config.get("WaitTime"):
            detail += f" for {config['WaitTime']} minutes"
    else:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(config.items()))
    return f"rule `{rule.get('name')}` ({provider}): {detail}"


def gates_lines(stages: Sequence[dict]) -> list[str]:
    """Entry conditions, approvals, success conditions and failure handling, stage by stage."""
    lines, held = [], {"DeploymentWindow": "outside it the execution waits here until the window opens"}  # as its rule reference says
    for stage in stages:
        name = stage.get("name")
        entry = get(stage, "beforeEntry.condition")
        if entry:
            for rule in entry.get("rules") or []:
                otherwise = held.get(get(rule, "ruleTypeId.provider"), f"otherwise the execution stops here ({entry.get('result')}) and must be retried")
                lines.append(f"- `{name}` entry: {_rule_text(rule)}; {otherwise}")
        for action in stage.get("actions") or []:
            if action.get("category") == "Approval":
                lines.append(f"- `{name}`: action `{action.get('name')}` waits for a person to approve or reject it in the CodePipeline console")
        success = get(stage, "onSuccess.condition")
        if success:
            for rule in success.get("rules") or []:
                lines.append(f"- `{name}` on success: {_rule_text(rule)}; otherwise {success.get('result')}")
        if get(stage, "onFailure.result"):
            lines.append(f"- `{name}` on failure: {get(stage, 'onFailure.result')}")
    return lines or ["- None: every successful build is deployed at once, at any time."]


def pipeline_section(result: StackResult) -> list[str]:
    pipeline = pipeline_resource(result)
    if pipeline is None:
        return ["No CodePipeline pipeline is registered."]
    p = pipeline.inputs
    lines = [
        f"- Name: `{p.get('name')}`",
        f"- Type: `{p.get('pipelineType') or 'V1'}`, execution mode: `{p.get('executionMode') or 'SUPERSEDED'}`",
    ]
    for store in p.get("artifactStores") or []:
        lines.append(f"- Artifact store: `{store.get('location')}` encrypted with `{get(store, 'encryptionKey.type') or 'aws/s3 default'}`")
    triggers = p.get("triggers") or []
    for t in triggers:
        push = get(t, "gitConfiguration.pushes") or []
        lines.append(f"- Trigger: `{t.get('providerType')}` on push {show(push)}")
    started = False
    for rule in of_type(result, "aws:cloudwatch/eventRule:EventRule"):
        pattern = json.loads(rule.inputs.get("eventPattern") or "{}")
        if "aws.codecommit" in (pattern.get("source") or []):
            branches = get(pattern, "detail.referenceName") or []
            lines.append(f"- Trigger: EventBridge rule `{rule.name}` starts the pipeline on CodeCommit pushes to {show(branches)}")
            started = True
        elif rule.name == "pipeline-start" and (line := inbox_trigger(rule, pattern)):
            lines.append(line)
            started = True
    if not triggers and not started:
        lines.append("- Trigger: none (start the pipeline manually)")
    stages = p.get("stages") or []
    lines += ["", "| Stage | Action | Provider | Configuration | Conditions |", "|---|---|---|---|---|"]
    for stage in stages:
        gates = []
        if get(stage, "beforeEntry.condition"):
            rules = [r.get("name") for r in get(stage, "beforeEntry.condition.rules") or []]
            gates.append(f"before entry: {', '.join(map(str, rules))} → {get(stage, 'beforeEntry.condition.result')}")
        if get(stage, "onFailure.result"):
            gates.append(f"on failure: {get(stage, 'onFailure.result')}")
        if get(stage, "onSuccess.condition"):
            rules = [r.get("name") for r in get(stage, "onSuccess.condition.rules") or []]
            gates.append(f"on success: {', '.join(map(str, rules))} → {get(stage, 'onSuccess.condition.result')}")
        for action in stage.get("actions") or []:
            config = ", ".join(f"{k}={v}" for k, v in sorted((action.get("configuration") or {}).items()))
            lines.append(
                f"| {md(stage.get('name'))} | {md(action.get('name'))} | {md(action.get('category'))}/{md(action.get('provider'))} | {md(config)} | {md('; '.join(gates))} |"
            )
    return [*lines, "", "### Entry conditions and gates", "", *gates_lines(stages)]


# ----------------------------------------------------------------------------------------------
# Deploy target


def deploy_component(result: StackResult) -> Resource | None:
    """The deploy target's component (with nextDeployTarget, the next target's is there too)."""
    found = by_urn([r for r in result.resources if r.type.startswith(DEPLOY_COMPONENT_PREFIX)])
    module = TARGETS.get(result.config.get(f"{PROJECT}:deployTarget", KEYS["deployTarget"].default))
    return next((r for r in found if module is not None and r.type == module.type), found[0] if found else None)


def stack_target(result: StackResult) -> TargetModule | None:
    """The registered target module whose component the stack has."""
    component = deploy_component(result)
    return module_of_type(component.type) if component is not None else None


def _image_record(result: StackResult) -> Resource | None:
    """The record of the image that runs (the ImageRecord's `<name>-parameter`; beside it, the known-good record)."""
    for record in by_urn([r for r in result.resources if r.type == IMAGE_RECORD_TYPE]):
        for r in descendants(result, record):
            if r.type == "aws:ssm/parameter:Parameter" and r.name == f"{record.name}-parameter":
                return r
    return None


@dataclass(frozen=True)
class StackView:
    """An evaluated stack as a target's report sees it (components.deploy.report.PlanView)."""

    result: StackResult
    as_of: date = field(default_factory=date.today)  # the date the plan is made on

    def of_type(self, type_: str) -> list[Resource]:
        return of_type(self.result, type_)

    def image_record(self) -> Resource | None:
        return _image_record(self.result)

    def buildspec(self, project: Recorded) -> dict:
        return buildspec(project)

    def settings(self) -> Settings:
        return stack_settings(self.result)


def deploy_section(result: StackResult) -> list[str]:
    target = deploy_component(result)
    target_name = result.config.get(f"{PROJECT}:deployTarget", f"{KEYS['deployTarget'].default} (default)")
    if target is None:
        return [f"- Deploy target: `{target_name}` (no deploy component registered)"]
    module = module_of_type(target.type)
    view = StackView(result)
    key_settings = {**KEY_SETTINGS, **(module.report.key_settings if module else {})}
    lines = [f"- Deploy target: `{target_name}` — component `{target.name}` `{target.type}`"]
    following = result.config.get(f"{PROJECT}:nextDeployTarget")
    if following:
        lines.append(
            f"- Next deploy target: `{following}` (nextDeployTarget) runs beside it with the recorded image, in its own target group "
            f"`{result.outputs.get('nextTargetGroupArn')}` with weight 0: no production traffic, no pipeline stage, no alarm. Check its "
            "targets' health before the switch's second step (docs/safety.md, Switching deployTarget)."
        )
    if "serviceUrl" in result.outputs:
        lines.append(f"- Service URL: `{result.outputs['serviceUrl']}` ({f'serviceDomain, to `{lb}`, mock' if (lb := result.outputs.get('loadBalancerDnsName')) else 'mock'})")
    for r in descendants(result, target):
        paths = key_settings.get(r.type)
        if not paths:
            continue
        shown = ", ".join(f"{p}={show(get(r.inputs, p))}" for p in paths if get(r.inputs, p) is not None)
        lines.append(f"- `{r.type}` **{r.name}**: {shown}")
        if module:
            lines += module.report.resource_rows(r, view)
    return lines + (module.report.deploy_rows(view) if module else [])


# ----------------------------------------------------------------------------------------------
# What deploying needs: of the machine, and of people


def deploy_time_section(result: StackResult) -> list[str]:
    """What the machine that runs `pulumi up` needs, and what happens after `pulumi up` returns."""
    region = result.config.get("aws:region", "us-east-1")
    lines = [
        "- Pulumi CLI and Python 3 (Pulumi.yaml's runtime creates `venv/` from requirements.txt)",
        f"- AWS credentials for the target account, region `{region}`; nothing else (no Docker: CodeBuild builds the image)",
    ]
    if "promotesFrom" in result.outputs:
        lines.append(
            f"- The stack it promotes from, `{result.outputs['promotesFrom']}`, deployed first (`pulumi up` there): this stack reads its "
            "`promotion` output, and a Pulumi backend the CLI can read both stacks from"
        )
    module = stack_target(result)
    return lines + (module.report.deploy_time_rows(StackView(result)) if module else [])


def human_section(result: StackResult, today: date | None = None) -> list[str]:
    """What a person has to do during or after `pulumi up` before the delivery works end to end (as of `today`, default: now)."""
    lines = []
    for connection in of_type(result, "aws:codeconnections/connection:Connection"):
        lines.append(
            f"- Source connection `{connection.inputs.get('name')}` ({connection.inputs.get('providerType')}) is created PENDING: "
            "until someone with access to that account confirms it once in the console (Developer Tools > Settings > "
            "Connections > Update pending connection), the Source action fails. Alternatively, name an existing, available "
            "connection in `sourceConnectionArn`."
        )
    module = stack_target(result)
    if module:
        lines += module.report.human_rows(StackView(result, as_of=today or date.today()))
    subscriptions = of_type(result, "aws:sns/topicSubscription:TopicSubscription")
    for protocol, how in (
        ("email", "each address confirms once by the link in AWS's email; until then it receives nothing"),
        ("https", "each endpoint confirms by visiting the SubscribeURL of SNS's SubscriptionConfirmation request; until then it receives nothing"),
    ):
        endpoints = [s.inputs.get("endpoint") for s in subscriptions if s.inputs.get("protocol") == protocol]
        if endpoints:
            lines.append(f"- Notification {protocol} subscriptions {', '.join(f'`{e}`' for e in endpoints)}: {how}.")
    if not lines:
        lines.append("- Nothing: no connection, subscription or private endpoint waits for a person.")
    return lines


# ----------------------------------------------------------------------------------------------
# Policy, tree


def component_tree(result: StackResult) -> list[str]:
    """Nested Markdown list of resources by parent (components first, then custom resources)."""
    by_ref = {r.ref: r for r in result.resources if r.ref}
    children: dict[str | None, list[Resource]] = {}
    for r in result.resources:
        parent = r.parent_urn if r.parent_urn in by_ref else None
        children.setdefault(parent, []).append(r)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda x: (x.custom, x.type, x.name, x.urn)):
            kind = "" if r.custom else " (component)"
            lines.append(f"{'  ' * depth}- **{r.name}** `{r.type}`{kind}")
            walk(r.ref, depth + 1)

    walk(None, 0)
    return lines
