"""Pipeline: CodePipeline V2 assembled from the stages the other components contribute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.contracts import BUILD_NAMESPACE, SOURCE_NAMESPACE, StageContribution, Statement
from components.delivery.source import SourceContribution
from components.iam import service_role


@dataclass(frozen=True)
class PipelineArgs:
    pipeline_name: str
    """Physical pipeline name (unique per account and region)."""
    artifact_bucket_name: pulumi.Input[str]
    """S3 bucket of the pipeline's artifact store."""
    artifact_key_arn: pulumi.Input[str]
    """KMS key that encrypts the artifact store."""
    artifact_statements: Sequence[Statement]
    """What the pipeline's role needs to read and write artifacts (bucket and key)."""
    source: SourceContribution
    """The Source stage, its triggers and, for sources without triggers, the event that starts the pipeline."""
    stages: Sequence[StageContribution]
    """Stages after Source, in order, before the approval and the deploy stages: Build (or a promoting
    stack's Check)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the component's taggable children. Omitted: untagged."""
    deploy_stages: Sequence[StageContribution] = ()
    """The deploy target's stage(s), after `stages`: they get the gates below. Omitted: no gated stages."""
    gates: PipelineGates | None = None
    """Approval, rollback and alarm conditions around `deploy_stages`. Omitted: none."""
    final_stages: Sequence[StageContribution] = ()
    """Stages after the deploy stages, without gates of their own: they run only once every deploy stage
    succeeded, its success conditions included (a building stack's Publish). Omitted: none."""
    started_by_router: bool = False
    """True: the stack's path router (components/delivery/path_router.py) starts this pipeline on the pushes that
    change its files, so it gets no start rule of its own for its CodeCommit source's push events. Omitted: the
    pipeline starts on every event of `source.start_event_pattern`."""


@dataclass(frozen=True)
class PipelineGates:
    """Delivery-safety wiring around the deploy stages."""

    topic_arn: pulumi.Input[str]
    """Notification topic: the manual approval's NotificationArn."""
    topic_statements: Sequence[Statement]
    """What the pipeline role needs to publish to the (encrypted) topic."""
    alarm_name: pulumi.Input[str] | None = None
    """Composite alarm watched by the bake time and the alarm entry gate. Omitted: no alarm conditions."""
    manual_approval: bool = False
    """An `Approve` stage (Approval/Manual) before the deploy stages. Omitted: deploys without approval."""
    approval_message: pulumi.Input[str] | None = None
    """The approval's CustomData (at most 1000 characters before variables resolve: botocore's
    ActionConfigurationValue). Omitted: `APPROVAL_TEXT`, the commit and image of the build."""
    bake_time_minutes: int = 0
    """When > 0 (and `alarm_name`): the deploy stage succeeds only after the alarm stayed quiet this long;
    otherwise it rolls back. 0: the stage succeeds when the deploy action does."""
    rollback_on_failure: bool = True
    """Deploy stage on_failure ROLLBACK: re-deploys the last successful artifact of the stage."""
    deployment_window: tuple[str, str] | None = None
    """(cron, time zone) of a DeploymentWindow rule. Alone: on the first deploy stage's entry. With the alarm
    entry gate: around the stage before the deploy stages instead (see `window_stage`). Omitted: deploy any time."""
    block_while_alarming: bool = False
    """Entry rule: fail the first deploy stage's entry while `alarm_name` is in ALARM."""

    @property
    def alarm_entry(self) -> bool:
        """The first deploy stage's entry checks the alarm."""
        return self.block_while_alarming and self.alarm_name is not None

    @property
    def window_before_deploy(self) -> bool:
        """The window gates the stage before the deploy stages, so the alarm is checked after it opened.

        CodePipeline's DeploymentWindow reference: with a DeploymentWindow and a CloudWatchAlarm rule in one
        entry condition, "the CloudWatchAlarm alarm might succeed before the deployment window [...] opens.
        After the deployment window opens, CodePipeline does not check the CloudWatchAlarm alarm again", and
        a stage has one entry condition (BeforeEntryConditions.conditions: 1 item), so the two rules go on
        different stages: https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
        """
        return self.deployment_window is not None and self.alarm_entry


def _rule_configuration(provider: str, configuration: dict[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    # Rule structure: https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference.html
    if provider == "CloudWatchAlarm":
        # The rule fails while the alarm is in one of AlarmStates (ALARM, OK, INSUFFICIENT_DATA), which the
        # rule reference marks required: https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html
        configuration = {"AlarmStates": "ALARM", **configuration}
    return configuration


# The SDK has one rule class per stage block (entry, success), with the same fields.
def _entry_rule(name: str, provider: str, configuration: dict[str, pulumi.Input[str]]) -> aws.codepipeline.PipelineStageBeforeEntryConditionRuleArgs:
    return aws.codepipeline.PipelineStageBeforeEntryConditionRuleArgs(
        name=name,
        rule_type_id=aws.codepipeline.PipelineStageBeforeEntryConditionRuleRuleTypeIdArgs(category="Rule", owner="AWS", provider=provider, version="1"),
        configuration=_rule_configuration(provider, configuration),
    )


def _success_rule(name: str, provider: str, configuration: dict[str, pulumi.Input[str]]) -> aws.codepipeline.PipelineStageOnSuccessConditionRuleArgs:
    return aws.codepipeline.PipelineStageOnSuccessConditionRuleArgs(
        name=name,
        rule_type_id=aws.codepipeline.PipelineStageOnSuccessConditionRuleRuleTypeIdArgs(category="Rule", owner="AWS", provider=provider, version="1"),
        configuration=_rule_configuration(provider, configuration),
    )


# CodePipeline refuses an action configuration value over 1000 characters
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html, "Maximum length of the action
# configuration value"); the approval text stays under it with its variables resolved.
CONFIGURATION_VALUE_MAX_CHARS = 1000
# What the approver sees: the commit and the digest reference the Deploy stage will run.
APPROVAL_TEXT = f"Deploy commit #{{{SOURCE_NAMESPACE}.CommitId}} as image #{{{BUILD_NAMESPACE}.IMAGE_URI}}? The image is named by its digest: exactly these bytes will run."


def approval_stage(topic_arn: pulumi.Input[str], message: pulumi.Input[str] = APPROVAL_TEXT) -> aws.codepipeline.PipelineStageArgs:
    """Manual approval naming the commit and the digest reference about to be deployed."""
    return aws.codepipeline.PipelineStageArgs(
        name="Approve",
        actions=[
            aws.codepipeline.PipelineStageActionArgs(
                name="ApproveDeploy",
                category="Approval",
                owner="AWS",
                provider="Manual",
                version="1",
                configuration={
                    "NotificationArn": topic_arn,
                    "CustomData": message,
                },
            )
        ],
    )


def _window(gates: PipelineGates) -> dict[str, pulumi.Input[str]]:
    """The DeploymentWindow rule's configuration."""
    if gates.deployment_window is None:
        raise ValueError("PipelineGates: no deployment_window to gate with")
    cron, zone = gates.deployment_window
    return {"Cron": cron, "TimeZone": zone}


def window_stage(stage: aws.codepipeline.PipelineStageArgs, gates: PipelineGates) -> aws.codepipeline.PipelineStageArgs:
    """The stage before the deploy stages (Approve, Build or Check) with the deployment window on both sides.

    Entry: the execution waits for the window before the build runs or the approver is asked. On success: the
    window again once the stage's actions are done, so a build that ended or an approval given after the
    window closed goes no further (CodePipeline's stage declaration shows a DeploymentWindow rule in an
    onSuccess condition: https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-requirements.html).
    Nothing runs between that check and the deploy stage's entry, which reads the alarm: the alarm is checked
    after the window opened, never before it (see `PipelineGates.window_before_deploy`).
    """
    entry = aws.codepipeline.PipelineStageBeforeEntryArgs(
        condition=aws.codepipeline.PipelineStageBeforeEntryConditionArgs(result="FAIL", rules=[_entry_rule("DeploymentWindow", "DeploymentWindow", _window(gates))])
    )
    # On-success results are ROLLBACK or FAIL; rolling back a build or an approval would undo nothing.
    success = aws.codepipeline.PipelineStageOnSuccessArgs(
        condition=aws.codepipeline.PipelineStageOnSuccessConditionArgs(result="FAIL", rules=[_success_rule("StillInDeploymentWindow", "DeploymentWindow", _window(gates))])
    )
    return aws.codepipeline.PipelineStageArgs(
        name=stage.name,
        actions=stage.actions,
        before_entry=_merge(stage, "before_entry", entry),
        on_failure=stage.on_failure,
        on_success=_merge(stage, "on_success", success),
    )


def gate_stage(stage: aws.codepipeline.PipelineStageArgs, gates: PipelineGates, first: bool) -> aws.codepipeline.PipelineStageArgs:
    """`stage` with rollback on failure, the bake-time success condition and (first deploy stage) entry rules."""
    # One entry rule at most: with both gates the window moves to the stage before (`window_stage`).
    entry_rule = None
    if first and gates.block_while_alarming and gates.alarm_name is not None:  # gates.alarm_entry
        entry_rule = _entry_rule("ServiceHealthy", "CloudWatchAlarm", {"AlarmName": gates.alarm_name})
    elif first and gates.deployment_window is not None:
        entry_rule = _entry_rule("DeploymentWindow", "DeploymentWindow", _window(gates))
    before_entry = (
        aws.codepipeline.PipelineStageBeforeEntryArgs(condition=aws.codepipeline.PipelineStageBeforeEntryConditionArgs(result="FAIL", rules=[entry_rule])) if entry_rule else None
    )
    on_success = None
    if gates.bake_time_minutes > 0 and gates.alarm_name:
        on_success = aws.codepipeline.PipelineStageOnSuccessArgs(
            condition=aws.codepipeline.PipelineStageOnSuccessConditionArgs(
                result="ROLLBACK",
                rules=[
                    _success_rule("BakeTime", "CloudWatchAlarm", {"AlarmName": gates.alarm_name, "WaitTime": str(gates.bake_time_minutes)}),
                ],
            )
        )
    on_failure = aws.codepipeline.PipelineStageOnFailureArgs(result="ROLLBACK") if gates.rollback_on_failure else None
    return aws.codepipeline.PipelineStageArgs(
        name=stage.name,
        actions=stage.actions,
        before_entry=_merge(stage, "before_entry", before_entry),
        on_failure=_merge(stage, "on_failure", on_failure),
        on_success=_merge(stage, "on_success", on_success),
    )


_Block = TypeVar("_Block")


def _merge(stage: aws.codepipeline.PipelineStageArgs, field_name: str, gate: _Block | None) -> pulumi.Input[_Block] | None:
    """The gate's block, or the stage's own when the gates set none; both set is a wiring error."""
    own = getattr(stage, field_name)
    if own is not None and gate is not None:
        raise ValueError(f"stage {stage.name!r} sets {field_name} itself and the pipeline gates set it too; let the gates own it (remove it from the deploy target's stage)")
    return gate if gate is not None else own


def gate_statements(gates: PipelineGates, context: AwsContext) -> list[Statement]:
    statements = list(gates.topic_statements)
    if gates.alarm_name and (gates.bake_time_minutes > 0 or gates.block_while_alarming):
        statements.append(
            {
                # CloudWatchAlarm rules run with the pipeline role.
                "Sid": "WatchServiceAlarm",
                "Effect": "Allow",
                "Action": "cloudwatch:DescribeAlarms",
                "Resource": context.arn("cloudwatch", pulumi.Output.concat("alarm:", gates.alarm_name)),
            }
        )
    return statements


class Pipeline(pulumi.ComponentResource):
    """CodePipeline V2 in QUEUED mode with its own role; starts on pushes to the source branch.

    Outputs: `pipeline_name`, `pipeline_arn`, `console_url`.
    """

    def __init__(self, name: str, args: PipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("container-cicd:pipeline:Pipeline", name, None, opts)
        contributions: list[StageContribution] = [args.source, *args.stages, *args.deploy_stages, *args.final_stages]
        statements = [*args.artifact_statements]
        for contribution in contributions:
            statements.extend(contribution.pipeline_statements)
        stage_args = [c.stage for c in [args.source, *args.stages]]
        deploy_args = [c.stage for c in args.deploy_stages]
        context = AwsContext(self)
        if args.gates is not None:
            statements.extend(gate_statements(args.gates, context))
            if args.gates.manual_approval:
                message = APPROVAL_TEXT if args.gates.approval_message is None else args.gates.approval_message
                stage_args.append(approval_stage(args.gates.topic_arn, message))
            if args.gates.window_before_deploy:
                if len(stage_args) < 2:
                    raise ValueError("PipelineArgs: the deployment window with the alarm entry gate needs a stage between Source and the deploy stages (Build or Check)")
                stage_args[-1] = window_stage(stage_args[-1], args.gates)
            deploy_args = [gate_stage(s, args.gates, i == 0) for i, s in enumerate(deploy_args)]
        role = service_role(
            f"{name}-role",
            "codepipeline.amazonaws.com",
            statements,
            parent=self,
            tags=args.tags,
            description=f"CodePipeline service role of {args.pipeline_name}",
        )
        pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            name=args.pipeline_name,
            pipeline_type="V2",
            # QUEUED: every push is deployed, in order; none is superseded mid-flight, and stage
            # rollback (which V2 needs a non-PARALLEL mode for) stays available.
            execution_mode="QUEUED",
            role_arn=role.arn,
            artifact_stores=[
                {
                    "location": args.artifact_bucket_name,
                    "type": "S3",
                    "encryption_key": {"id": args.artifact_key_arn, "type": "KMS"},
                }
            ],
            stages=[*stage_args, *deploy_args, *(c.stage for c in args.final_stages)],
            triggers=list(args.source.triggers) or None,
            tags=args.tags,
            # role.arn waits for the role's policy: the first execution finds its permissions.
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.started_by_router and args.source.start_event_pattern is None:
            raise ValueError(f"PipelineArgs.started_by_router: {args.pipeline_name}'s source starts it by its own triggers (a connection); only a CodeCommit source is routed")
        if args.source.start_event_pattern is not None and not args.started_by_router:
            self._start_on(name, args, pipeline)
        region = context.region
        self.pipeline_name = pipeline.name
        self.pipeline_arn = pipeline.arn
        self.console_url = pulumi.Output.concat(
            "https://",
            region,
            ".console.aws.amazon.com/codesuite/codepipeline/pipelines/",
            pipeline.name,
            "/view?region=",
            region,
        )
        self.register_outputs({"pipeline_name": self.pipeline_name, "pipeline_arn": self.pipeline_arn, "console_url": self.console_url})

    def _start_on(self, name: str, args: PipelineArgs, pipeline: aws.codepipeline.Pipeline) -> None:
        """Change detection by EventBridge (a CodeCommit push, a promotion written to the inbox): a rule starts the pipeline."""
        rule = aws.cloudwatch.EventRule(
            f"{name}-start",
            description=f"Start {args.pipeline_name} on {args.source.start_trigger}",
            event_pattern=pulumi.Output.json_dumps(args.source.start_event_pattern),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        role = service_role(
            f"{name}-start-role",
            "events.amazonaws.com",
            [
                {
                    "Sid": "StartPipeline",
                    "Effect": "Allow",
                    "Action": "codepipeline:StartPipelineExecution",
                    "Resource": pipeline.arn,
                }
            ],
            parent=self,
            tags=args.tags,
            description=f"Lets EventBridge start {args.pipeline_name}",
        )
        aws.cloudwatch.EventTarget(
            f"{name}-start-target",
            rule=rule.name,
            arn=pipeline.arn,
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=rule),
        )
