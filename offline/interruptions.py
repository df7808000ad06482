"""The configuration changes that interrupt production traffic in one `pulumi up`, and the safe sequence
for each: the explicit list the offline plan warns about (offline/plan/change.py) and docs/safety.md
("Traffic during a configuration change") describes.

Every other change keeps something healthy behind the production listener at every step
(offline/traffic.py; tests/test_changes.py checks every change pair against this list, and
tests/test_interruptions.py walks every safe sequence below through the same model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from components.settings import DeployTargetKind, Settings
from offline.mocks import StackResult

SERVICE = "aws:ecs/service:Service"


@dataclass(frozen=True)
class Interruption:
    title: str
    cause: str
    steps: tuple[str, ...]
    """The safe sequence, one entry per step: what to run (`pulumi config` commands and `pulumi up`)."""
    anchor: str
    """Where docs/safety.md explains it."""


def _network(s: Settings) -> str:
    return s.network.vpc_id or f"created:{s.network.vpc_cidr}"


def _keys(kind: DeployTargetKind) -> str:
    return "ecsCpu, ecsMemory" if kind is DeployTargetKind.ECS else "every eks* key"


def _target_switch(before: Settings, after: Settings, _old: StackResult, _new: StackResult) -> Interruption | None:
    if before.deploy_target is after.deploy_target or before.next_deploy_target is after.deploy_target:
        return None
    old, new = before.deploy_target.value, after.deploy_target.value
    shifting = before.ecs is not None and before.deploy_target is DeployTargetKind.ECS and before.ecs.strategy.kind.shifts_traffic
    first = (
        [
            "0. The ECS service shifts traffic: leave it for a rolling update first (see the warning on leaving blue-green, canary or linear): "
            "`pulumi config set deploymentStrategy rolling`, `pulumi up`."
        ]
        if shifting
        else []
    )
    return Interruption(
        title=f"Switching deployTarget from {old} to {new} in one `pulumi up`",
        cause=(
            f"The listener moves to the {new} target's own target group in the same update that creates the target. "
            + (
                "EKS registers the pods only in the deploy project's run after `pulumi up` returns (a created cluster takes 10-15 minutes before that), "
                if new == "eks"
                else "The ECS service is created after the listener (ECS requires a target group the load balancer uses) and registers its tasks only then, "
            )
            + f"so the listener forwards to an empty target group (503) meanwhile; the {old} target is deleted at the end."
        ),
        steps=(
            *first,
            f"1. Bring {new} up beside {old}, with no production traffic: `pulumi config set nextDeployTarget {new}` (and the {new} target's keys), "
            "`pulumi up`. Wait until its targets are healthy: "
            '`aws elbv2 describe-target-health --target-group-arn "$(pulumi stack output nextTargetGroupArn)"`' + (" (after the deploy project's run)." if new == "eks" else "."),
            f"2. Move the traffic and remove {old}: `pulumi config set deployTarget {new}`, `pulumi config rm nextDeployTarget`, "
            f"remove {_keys(before.deploy_target)} (`pulumi config rm`), `pulumi up`.",
        ),
        anchor="switching-deploytarget",
    )


def _leaving_traffic_shifting(before: Settings, after: Settings, old: StackResult, _new: StackResult) -> Interruption | None:
    if before.deploy_target is not DeployTargetKind.ECS or after.deploy_target is not DeployTargetKind.ECS:
        return None
    assert before.ecs is not None and after.ecs is not None
    if not before.ecs.strategy.kind.shifts_traffic or after.ecs.strategy.kind.shifts_traffic:
        return None
    [service] = old.of_type(SERVICE) or [None]
    cluster = service.inputs["cluster"].rsplit("/", 1)[-1] if service else f"{before.prefix}-cluster"
    name = service.inputs["name"] if service else f"{before.prefix}-service"
    return Interruption(
        title=f"Leaving {before.ecs.strategy.kind.value} for a rolling update while production traffic is on the alternate target group",
        cause=(
            "ECS moves production traffic between the primary and the alternate target group at every deployment; the production listener "
            "rule's weights are ECS's, and `pulumi up` deletes the rule last. The service update registers the new tasks in the primary target "
            "group and stops the old ones, so if the rule sends production to the alternate one, it forwards to a drained target group (503) "
            "from the end of the service update until the rule is deleted. With production on the primary target group the change keeps serving."
        ),
        steps=(
            "1. Check where production traffic is: "
            f'`aws elbv2 describe-rules --rule-arns "$(aws ecs describe-services --cluster {cluster} --services {name} --query '
            "'services[0].loadBalancers[0].advancedConfiguration.productionListenerRule' --output text)\" "
            "--query 'Rules[0].Actions[0].ForwardConfig.TargetGroups'`. "
            f"If the target group ending in `-tg-alt` has the weight, deploy once more (`aws ecs update-service --cluster {cluster} --service {name} "
            f"--force-new-deployment`, then `aws ecs wait services-stable --cluster {cluster} --services {name}`, which gives up after 10 "
            "minutes: repeat it until it returns): ECS starts the new revision in the primary target group and moves production there. Check again.",
            "2. `pulumi config set deploymentStrategy rolling`, `pulumi up`, before another deployment moves production back.",
        ),
        anchor="switching-strategies",
    )


def _eks_port(before: Settings, after: Settings, _old: StackResult, _new: StackResult) -> Interruption | None:
    if before.deploy_target is not DeployTargetKind.EKS or after.deploy_target is not DeployTargetKind.EKS:
        return None
    old, new = before.workload.container_port, after.workload.container_port
    if old == new:
        return None
    rolling = " deploymentStrategy rolling" if after.production else ""
    return Interruption(
        title=f"Changing containerPort from {old} to {new} on EKS",
        cause=(
            f"The pods move to port {new} only in the deploy project's run after `pulumi up` returns, while `pulumi up` deletes the security "
            f"group rules of port {old} at its end: the load balancer cannot reach the running pods (503) until the run has rolled them."
        ),
        steps=(
            f"1. `pulumi config set nextDeployTarget ecs`{' and' + rolling if rolling else ''} (keep containerPort {old}), `pulumi up`; wait for "
            "healthy targets in `nextTargetGroupArn`.",
            "2. `pulumi config set deployTarget ecs`, `pulumi config rm nextDeployTarget`, remove every eks* key, `pulumi up`: ECS serves.",
            f"3. `pulumi config set containerPort {new}` and `pulumi config set nextDeployTarget eks` (and the eks* keys), `pulumi up`: the ECS "
            "service moves port in place; EKS comes up beside on the new port. Wait for healthy targets in `nextTargetGroupArn`.",
            "4. `pulumi config set deployTarget eks`, `pulumi config rm nextDeployTarget`, remove ecsCpu and ecsMemory"
            + (" and deploymentStrategy" if rolling else "")
            + ", `pulumi up`.",
        ),
        anchor="changing-containerport",
    )


def _vpc_move(before: Settings, after: Settings, _old: StackResult, _new: StackResult) -> Interruption | None:
    if _network(before) == _network(after):
        return None
    return Interruption(
        title="Moving the stack to another VPC",
        cause=(
            "A load balancer cannot change VPC: a new one is created, with a new DNS name "
            + ("(`loadBalancerDnsName`; `serviceUrl` keeps serviceDomain). " if after.network.service_domain else "(`serviceUrl`). ")
            + "The old one stops serving when the "
            "service moves to the new VPC, before `pulumi up` returns"
            + (", and the new one serves only after the deploy project's run registers the pods (EKS)." if after.deploy_target is DeployTargetKind.EKS else ".")
        ),
        steps=(
            "1. No sequence of `pulumi up` runs of this stack keeps the old URL serving. To move without an interruption, create a second stack "
            "in the new VPC (`pulumi stack init`, the same config with the new vpcId or vpcCidr; its names differ by stack name), `pulumi up` "
            "it and let its pipeline deploy.",
            "2. Move your clients (DNS) to the new stack's `serviceUrl`, then `pulumi destroy` this stack. Otherwise run the change when an interruption is acceptable.",
        ),
        anchor="changes-that-replace-the-load-balancer",
    )


INTERRUPTIONS: tuple[Callable[[Settings, Settings, StackResult, StackResult], Interruption | None], ...] = (
    _target_switch,
    _leaving_traffic_shifting,
    _eks_port,
    _vpc_move,
)


def interruptions(before: Settings, after: Settings, old: StackResult, new: StackResult) -> list[Interruption]:
    """The documented interruptions the change from `before` to `after` is one of."""
    return [found for rule in INTERRUPTIONS if (found := rule(before, after, old, new)) is not None]
