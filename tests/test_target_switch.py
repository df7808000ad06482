"""Switching deployTarget in two steps (nextDeployTarget): the settings, what the first step builds, and
that each step keeps something healthy behind the listener (offline/traffic.py) where a one-step switch
does not.

Step 1 sets nextDeployTarget: the other target runs beside the deploy target with the recorded image, in a
target group of its own that the listener's default action names with weight 0. Step 2 sets deployTarget
to it and removes nextDeployTarget: the listener moves to a target group whose tasks or pods are already
healthy, and the old target goes last.
"""

from __future__ import annotations

import pytest

from components.settings import DeploymentStrategyKind, DeployTargetKind, SettingsError, parse_settings
from offline.changes import plan_change
from offline.mocks import StackResult
from offline.traffic import plan_traffic

TG = "aws:lb/targetGroup:TargetGroup"


def parse(**raw):
    return parse_settings(raw, "container-cicd", "dev")


# ------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------


def test_the_next_target_gets_its_own_settings_and_an_ecs_one_rolls():
    s = parse(nextDeployTarget="eks", eksPodCpuMillicores=500)
    assert (s.deploy_target, s.next_deploy_target) == (DeployTargetKind.ECS, DeployTargetKind.EKS)
    assert s.ecs is not None and s.eks is not None and s.eks.pod_cpu_millicores == 500
    following = s.for_next_target()
    assert (following.deploy_target, following.next_deploy_target, following.eks) == (DeployTargetKind.EKS, None, s.eks)
    # Production on EKS: the next ECS target's keys are accepted, and it deploys with a rolling update until it
    # is the deploy target (where auto means canary).
    s = parse(deployTarget="eks", production=True, allowPlainHttp=True, nextDeployTarget="ecs", ecsCpu=512, ecsMemory=1024)
    assert s.ecs is not None and s.ecs.cpu == 512 and s.ecs.strategy.kind is DeploymentStrategyKind.ROLLING
    assert parse().next_deploy_target is None and parse(nextDeployTarget="").next_deploy_target is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"nextDeployTarget": "ecs"},
            "nextDeployTarget: 'ecs' is not valid; with deployTarget 'ecs' the next target can be 'eks'. Fix: set it to 'eks', or remove it",
        ),
        (
            {"deployTarget": "eks", "nextDeployTarget": "lambda"},
            "nextDeployTarget: 'lambda' is not valid; with deployTarget 'eks' the next target can be 'ecs'. Fix: set it to 'ecs', or remove it",
        ),
        (
            {"deploymentStrategy": "canary", "nextDeployTarget": "eks"},
            "nextDeployTarget: 'eks' is not valid; deploymentStrategy is 'canary': the switch's second step would delete the ECS service before "
            "ECS's production listener rule, which forwards every request to the service's target groups until it goes. Fix: set "
            "deploymentStrategy rolling and `pulumi up` first (docs/safety.md, Switching strategies), then set nextDeployTarget",
        ),
    ],
)
def test_a_next_target_is_the_other_target_and_leaves_no_traffic_shifting_service_behind(raw, message):
    with pytest.raises(SettingsError) as raised:
        parse(**raw)
    assert str(raised.value) == message


def test_the_other_targets_keys_need_it_as_the_next_target():
    with pytest.raises(SettingsError, match=r"^eksPodCpuMillicores: is set but deployTarget is 'ecs', and only eks uses it; "):
        parse(eksPodCpuMillicores=500)
    assert parse(eksPodCpuMillicores=500, nextDeployTarget="eks").eks is not None


# ------------------------------------------------------------------------------------------
# The first step's stack
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beside(evaluate) -> StackResult:
    """dev with EKS brought up beside ECS."""
    return evaluate("dev", nextDeployTarget="eks")


def test_the_next_target_runs_beside_in_its_own_target_group_with_no_traffic(beside):
    serving, following = beside.named("deploy-lb-tg-ecs"), beside.named("deploy-lb-tg-eks")
    assert beside.named("deploy-lb-http").inputs["defaultActions"] == [
        {"type": "forward", "forward": {"targetGroups": [{"arn": serving.outputs["arn"], "weight": 100}, {"arn": following.outputs["arn"], "weight": 0}]}}
    ]
    # Both targets, each a component named deploy; the EKS one binds its pods to its own target group.
    assert sorted(r.type for r in beside.resources if r.name == "deploy" and not r.custom) == ["container-cicd:deploy:EcsTarget", "container-cicd:deploy:EksTarget"]
    manifests = beside.named("deploy-deploy-project").inputs["source"]["buildspec"]
    assert following.outputs["arn"] in manifests and serving.outputs["arn"] not in manifests
    assert following.inputs["tags"]["eks:eks-cluster-name"] == beside.one("aws:eks/cluster:Cluster").inputs["name"]
    assert beside.outputs["nextTargetGroupArn"] == following.outputs["arn"]


def test_only_the_deploy_target_is_in_the_pipeline_and_watched_by_the_alarms(beside, dev):
    pipeline = beside.one("aws:codepipeline/pipeline:Pipeline")
    assert [[a["name"] for a in s["actions"]] for s in pipeline.inputs["stages"]] == [
        [a["name"] for a in s["actions"]] for s in dev.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"]
    ]
    watched = {r.name: r.inputs.get("dimensions") for r in beside.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert watched == {r.name: r.inputs.get("dimensions") for r in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}


def test_a_next_ecs_target_rolls_with_no_alarms_and_no_traffic_shifting(evaluate):
    result = evaluate("prod", nextDeployTarget="ecs")
    service = result.one("aws:ecs/service:Service")
    assert service.inputs["deploymentConfiguration"] == {"strategy": "ROLLING"}
    assert "alarms" not in service.inputs
    assert service.inputs["loadBalancers"] == [{"containerName": "app", "containerPort": 8080, "targetGroupArn": result.named("deploy-lb-tg-ecs").outputs["arn"]}]
    assert result.of_type("aws:lb/listenerRule:ListenerRule") == []
    assert [[a["name"] for a in s["actions"]] for s in result.one("aws:codepipeline/pipeline:Pipeline").inputs["stages"] if s["name"] == "Deploy"] == [["DeployToEks"]]


def test_the_plan_shows_the_deploy_target_and_names_the_next_one(evaluate):
    from offline.plan import deploy_section

    lines = deploy_section(evaluate("prod", nextDeployTarget="ecs"))
    assert lines[0] == "- Deploy target: `eks` — component `deploy` `container-cicd:deploy:EksTarget`"
    assert lines[1].startswith("- Next deploy target: `ecs` (nextDeployTarget) runs beside it with the recorded image, in its own target group ")
    assert not any("aws:ecs/" in line for line in lines)


def test_the_deploy_targets_target_group_answers_to_the_name_it_had(dev, prod, beside):
    """Stacks deployed before target groups were named for their target keep theirs; a next target's is new."""
    for result, kind in ((dev, "ecs"), (prod, "eks"), (beside, "ecs")):
        group = result.named(f"deploy-lb-tg-{kind}")
        assert f"urn:pulumi:{result.stack}::container-cicd::container-cicd:network:LoadBalancer${TG}::deploy-lb-tg" in group.aliases
    assert not any(alias.endswith("::deploy-lb-tg") for alias in beside.named("deploy-lb-tg-eks").aliases)
    # Planned from a state that holds the old name, the group is updated in place, not replaced.
    old = StackResult("dev", {}, [_renamed(r, "deploy-lb-tg") if r.name == "deploy-lb-tg-ecs" else r for r in dev.resources], {}, [])
    change = plan_change(old, beside)
    assert [new.name for old_, new in change.updated if new.type == TG] == ["deploy-lb-tg-ecs"]
    assert [r.name for r in change.created if r.type == TG] == ["deploy-lb-tg-eks"] and change.replaced == []


def _renamed(r, name):
    from dataclasses import replace

    return replace(r, name=name, urn=r.urn.rsplit("::", 1)[0] + "::" + name, aliases=())


# ------------------------------------------------------------------------------------------
# Traffic: both steps keep serving
# ------------------------------------------------------------------------------------------


def _gaps(evaluate, stack: str, before: dict, after: dict) -> list[str]:
    old, new = evaluate(stack, **before), evaluate(stack, **after)
    return [str(g) for g in plan_traffic(old, new, plan_change(old, new)).gaps]


ECS_KEYS_OFF = {"ecsCpu": None, "ecsMemory": None}
PROD_EKS_KEYS_OFF = {"eksKubernetesVersion": None, "eksPodCpuMillicores": None, "eksPodMemoryMiB": None}


@pytest.mark.parametrize(
    ("stack", "steps"),
    [
        ("dev", [{}, {"nextDeployTarget": "eks"}, {"deployTarget": "eks"}]),
        ("dev", [{"deployTarget": "eks"}, {"deployTarget": "eks", "nextDeployTarget": "ecs"}, {}]),
        # prod runs EKS; on ECS it deploys as a canary (production): the first ECS deployment shifts to it.
        ("prod", [{}, {"nextDeployTarget": "ecs"}, {"deployTarget": "ecs", **PROD_EKS_KEYS_OFF}]),
        # Back from a canary: rolling first (production on the primary target group), then the two steps.
        (
            "prod",
            [
                {"deployTarget": "ecs", **PROD_EKS_KEYS_OFF},
                {"deployTarget": "ecs", "deploymentStrategy": "rolling", **PROD_EKS_KEYS_OFF},
                {"deployTarget": "ecs", "deploymentStrategy": "rolling", "nextDeployTarget": "eks"},
                {},
            ],
        ),
    ],
)
def test_a_switch_in_two_steps_keeps_something_healthy_behind_the_listener(evaluate, stack, steps):
    for before, after in zip(steps, steps[1:], strict=False):
        assert _gaps(evaluate, stack, before, after) == [], (before, after)


def test_a_switch_in_one_step_leaves_the_listener_on_an_empty_target_group(evaluate):
    [gap] = _gaps(evaluate, "dev", {}, {"deployTarget": "eks"})
    assert gap.startswith("deploy-lb-http forwards to container-cicd-dev-app-tg-37a8f9 with nothing healthy in it, from 'update lb/listener deploy-lb-http' until 'EKS deploy")
