"""Every documented interruption's safe sequence (offline/interruptions.py) keeps something healthy behind
the production listener at every step of every `pulumi up` it consists of (offline/traffic.py).

The target switch's two steps are walked in test_target_switch.py; the others here.
"""

from __future__ import annotations

import pytest

from offline.changes import plan_change
from offline.interruptions import interruptions
from offline.mocks import StackResult, evaluate_stack
from offline.plan.sections import stack_settings
from offline.traffic import Live, plan_traffic

PROD_EKS_KEYS_OFF = {"eksKubernetesVersion": None, "eksPodCpuMillicores": None, "eksPodMemoryMiB": None}
IMAGE_RECORD = "/container-cicd/dev/app/deployed-image"
NEXT_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/container-cicd-dev-app@sha256:" + "1" * 64


def _gaps(old: StackResult, new: StackResult, live: Live | None = None) -> list[str]:
    return [str(g) for g in plan_traffic(old, new, plan_change(old, new), live or Live()).gaps]


def _warning(old: StackResult, new: StackResult):
    [found] = interruptions(stack_settings(old), stack_settings(new), old, new)
    return found


def test_leaving_canary_after_one_more_deployment_puts_production_back_on_the_primary(evaluate):
    canary, rolling = evaluate("dev", deploymentStrategy="canary"), evaluate("dev")
    left_on_alternate = Live(production_on_alternate=True)
    [gap] = _gaps(canary, rolling, left_on_alternate)
    assert gap.startswith("deploy-lb-http forwards to container-cicd-dev-app-tg-alt with nothing healthy in it, from 'update ecs/service deploy-service'")
    # Step 1: one more deployment (here: a new image in the record, as the pipeline's or a forced one) starts the
    # new revision in the primary target group and moves production there.
    redeployed = evaluate_stack("dev", {"deploymentStrategy": "canary"}, ssm_parameters={IMAGE_RECORD: NEXT_IMAGE})
    plan = plan_traffic(canary, redeployed, plan_change(canary, redeployed), left_on_alternate)
    assert plan.gaps == []
    assert [(f.target_group, f.share) for f in plan.moments[-1].forwards] == [("container-cicd-dev-app-tg", 100)]
    # Step 2, from there: the switch keeps serving.
    assert _gaps(redeployed, rolling) == []
    assert "--force-new-deployment" in _warning(canary, rolling).steps[0]


@pytest.mark.parametrize(
    ("stack", "eks"),
    [
        ("dev", {"deployTarget": "eks"}),
        # Production: the ECS target would be a canary there (auto), and a next target is refused beside it.
        ("prod", {}),
    ],
)
def test_a_port_change_on_eks_through_ecs_keeps_serving(evaluate, stack, eks):
    rolling = {"deploymentStrategy": "rolling"} if stack == "prod" else {}
    # dev's stack file runs ECS already.
    on_ecs = {"deployTarget": "ecs", **PROD_EKS_KEYS_OFF, **rolling} if stack == "prod" else {}
    steps = [
        eks,
        {**eks, **rolling, "nextDeployTarget": "ecs"},
        on_ecs,
        {**on_ecs, **{k: v for k, v in eks.items() if k != "deployTarget"}, **(_prod_eks_keys() if stack == "prod" else {}), "containerPort": 9000, "nextDeployTarget": "eks"},
        {**eks, "containerPort": 9000},
    ]
    results = [evaluate(stack, **step) for step in steps]
    assert _gaps(results[0], results[-1]) != []
    # The warning's steps are these configurations.
    steps_text = _warning(results[0], results[-1]).steps
    expected = [
        ["`pulumi config set nextDeployTarget ecs`", *(["deploymentStrategy rolling"] if rolling else [])],
        ["`pulumi config set deployTarget ecs`", "`pulumi config rm nextDeployTarget`"],
        ["`pulumi config set containerPort 9000`", "`pulumi config set nextDeployTarget eks`"],
        ["`pulumi config set deployTarget eks`", "`pulumi config rm nextDeployTarget`"],
    ]
    assert len(steps_text) == len(expected) and all(all(part in text for part in parts) for text, parts in zip(steps_text, expected, strict=True))
    for old, new in zip(results, results[1:], strict=False):
        assert _gaps(old, new) == [], (old.config, new.config)


def _prod_eks_keys() -> dict:
    return {"eksKubernetesVersion": "1.35", "eksPodCpuMillicores": 500, "eksPodMemoryMiB": 1024}
