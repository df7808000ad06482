"""The engine's order of steps for a change (offline/changes.py plans which resources are created,
updated, replaced and deleted; this module orders them as `pulumi up` runs them).

- A create, update or replacement starts as soon as every resource it depends on (inputs and
  `depends_on`) has finished its own step; a resource whose inputs do not change (after
  `ignore_changes`) has no step.
- Deletions (of removed resources and of replaced originals) start once every other step is done, a
  resource after everything that depended on it in the old state (reverse dependency order).
  (A replacement is created before its original is deleted, https://www.pulumi.com/docs/iac/concepts/
  options/deletebeforereplace/; the engine creates everything new first and deletes at the very end,
  pulumi/pulumi#9979.)

Steps take `SECONDS` of model time: coarse, what matters is that most steps take seconds while an ECS
service waiting for steady state, a load balancer or an EKS cluster take minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

from offline.changes import Change, effective_inputs
from offline.mocks import Resource, StackResult

_SERVICE = "aws:ecs/service:Service"
_CLUSTER = "aws:eks/cluster:Cluster"
_LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"

# Model seconds a step takes, by (type, step kind); anything else takes DEFAULT_SECONDS.
DEFAULT_SECONDS = 5
SECONDS: dict[tuple[str, str], int] = {
    (_SERVICE, "create"): 300,
    (_SERVICE, "update"): 300,
    (_SERVICE, "delete"): 120,
    (_CLUSTER, "create"): 900,
    (_CLUSTER, "delete"): 600,
    (_LOAD_BALANCER, "create"): 180,
    ("aws:ec2/natGateway:NatGateway", "create"): 120,
    ("aws:eks/addon:Addon", "create"): 120,
}
# The EKS deploy project's run after `pulumi up`: start, kubectl, rollout.
DEPLOY_RUN_SECONDS = 300


def replaced_refs(change: Change) -> set[str]:
    """The program's references of the resources the change replaces: their ids and ARNs are new."""
    return {new.ref for _, new, _ in change.replaced}


def changed(old: Resource, new: Resource, replaced: set[str], inputs: tuple[str, ...] | None = None) -> bool:
    """`new` differs from `old` in its inputs (after `ignore_changes`), or takes one of them (of `inputs`, when
    given) from a resource the change replaces, whose new id or ARN the engine passes on."""
    effective = effective_inputs(old, new)
    keys = inputs if inputs is not None else tuple({*old.inputs, *effective})
    return any(old.inputs.get(k) != effective.get(k) or any(ref in replaced for ref in new.property_dependencies.get(k, ())) for k in keys)


def touched(change: Change) -> set[str]:
    """URNs (in the program) of the resources the update creates, replaces or changes."""
    replaced = replaced_refs(change)
    touched = {r.urn for r in change.created} | {new.urn for _, new, _ in change.replaced}
    return touched | {new.urn for old, new in change.updated if changed(old, new, replaced)}


def schedule(before: StackResult, after: StackResult, change: Change) -> Iterator[tuple[int, str, Resource | None, Resource | None]]:
    """(end time, kind, old, new) of every step, in the engine's order; kind is create, update, replace or delete."""
    by_ref = {r.ref: r for r in after.resources}
    steps: dict[str, tuple[str, Resource | None, Resource]] = {}
    for r in change.created:
        steps[r.urn] = ("create", None, r)
    for old, new, _ in change.replaced:
        steps[new.urn] = ("replace", old, new)
    replaced = replaced_refs(change)
    for old, new in change.updated:
        if changed(old, new, replaced):
            steps[new.urn] = ("update", old, new)
    done: dict[str, int] = {}

    def end(urn: str) -> int:
        if urn not in done:
            done[urn] = 0
            if urn in steps:
                kind, _, new = steps[urn]
                start = max((end(by_ref[d].urn) for d in new.depends_on if d in by_ref), default=0)
                done[urn] = start + SECONDS.get((new.type, "create" if kind == "replace" else kind), DEFAULT_SECONDS)
        return done[urn]

    timed = sorted(((end(urn), kind, old, new) for urn, (kind, old, new) in steps.items()), key=lambda s: (s[0], s[3].urn))
    yield from timed
    start = max((t for t, *_ in timed), default=0)
    gone = [*change.deleted, *(old for old, _, _ in change.replaced)]
    gone_refs = {r.ref: r for r in gone}
    dependents: dict[str, list[Resource]] = {r.urn: [] for r in gone}
    for r in gone:
        for d in r.depends_on:
            if d in gone_refs:
                dependents[gone_refs[d].urn].append(r)
    deleted: dict[str, int] = {}

    def delete_end(r: Resource) -> int:
        if r.urn not in deleted:
            deleted[r.urn] = max((delete_end(d) for d in dependents[r.urn]), default=start) + SECONDS.get((r.type, "delete"), DEFAULT_SECONDS)
        return deleted[r.urn]

    yield from sorted(((delete_end(r), "delete", r, None) for r in gone), key=lambda s: (s[0], s[2].urn))
