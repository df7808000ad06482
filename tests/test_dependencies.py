"""Ordering: a resource that names another resource of the stack waits for it.

The engine creates resources in parallel and orders them only by dependencies: those an input
`Output` carries and those `depends_on` lists. A resource that names another by a plain string
(a name typed twice, an ARN assembled from parts) has neither, so the engine may create it first,
and the AWS call fails (CreateAccessEntry on a cluster that does not exist yet). The SDK records a
component in `depends_on` as its custom children (pulumi/runtime/rpc.py `_add_dependency`), so the
recorded dependencies are already expanded; children of a *custom* resource are not included,
which is why a role's inline policy has to be carried by what callers use (`ServiceRole.arn`).

The check here is generic: for every custom resource R of every stack variant, every string in its
inputs (JSON strings parsed), split into tokens, is compared with the physical names, ARNs and ids
of the other resources S of the same stack. A token that names S must have S in the transitive
closure of R's dependencies. Names of things outside the stack (an existing VPC, a cluster
given by name) match no S and pass by construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from offline.changes import implied_names, physical_name
from offline.mocks import Resource, StackResult

# Inputs by which a resource names *itself* (not a reference to another).
OWN_NAME_KEYS = ("name", "namePrefix", "bucket", "repositoryName", "alarmName", "dashboardName", "family")
# Shell, YAML, JSON and alarm-rule punctuation that separates names inside a larger string.
TOKEN_SEPARATORS = re.compile(r"[\s\"'`=,;()\[\]{}<>|]+")

IAM_DOCUMENT_PATHS = ("*<json>.Statement[*].Resource*", "*<json>.Statement[*].NotResource*", "*<json>.Statement[*].Condition.*")


@dataclass(frozen=True)
class Exemption:
    resource_type: str
    """Type of the naming resource R (`*` matches anything)."""
    paths: tuple[str, ...]
    """Input paths in R (`*` matches anything) that may name S without depending on it."""
    reason: str
    named: str = "*"
    """Type of the named resource S (`*` matches anything)."""


# Every place where naming another resource without depending on it is correct, and why.
EXEMPTIONS: tuple[Exemption, ...] = (
    Exemption("*", ("description", "tags.*", "tagsAll.*"), "Descriptions and tags are free text to AWS; they reference nothing."),
    Exemption(
        "*",
        IAM_DOCUMENT_PATHS,
        "IAM policy Resource and Condition elements are patterns matched per request; IAM accepts ARNs of "
        "resources that do not exist yet (https://docs.aws.amazon.com/IAM/latest/UserGuide/"
        "reference_policies_elements_resource.html). Principals are not exempt: resource policies "
        "reject principals that do not exist.",
    ),
    Exemption(
        "aws:ecs/service:Service",
        ("alarms.alarmNames[*]",),
        "Forward reference by design: the service's deployment alarms are created after the service, "
        "with names known up front (components/deploy/ecs/target.py; CDK aws_ecs.DeploymentAlarmConfig).",
        named="aws:cloudwatch/metricAlarm:MetricAlarm",
    ),
    Exemption(
        "aws:codebuild/project:Project",
        ("source.buildspec",),
        "Forward reference by design: the EKS deploy step's buildspec names the service alarms it watches "
        "while rolling out; they exist before any pipeline run, which is what the step needs.",
        named="aws:cloudwatch/metricAlarm:MetricAlarm",
    ),
    Exemption("aws:cloudwatch/eventRule:EventRule", ("eventPattern*",), "Event patterns are string matchers over events; EventBridge does not resolve the names in them."),
    Exemption(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        ("dimensions.*", "metricQueries[*].metric.dimensions.*"),
        "Metric dimensions are names, not resources: an alarm on a metric nobody publishes yet is INSUFFICIENT_DATA until the resource reports.",
    ),
    Exemption("aws:cloudwatch/dashboard:Dashboard", ("dashboardBody<json>*",), "Dashboard widgets name metrics, not resources; PutDashboard does not resolve them."),
)

VARIANTS: dict[str, tuple[str, dict]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "dev-eks": ("dev", {"deployTarget": "eks"}),
    "github": ("dev", {"sourceProvider": "github", "sourceRepository": "my-org/my-service", "sourceFilePaths": ["app/**"]}),
    "eks-existing": (
        "dev",
        {
            "deployTarget": "eks",
            "eksClusterName": "shared-cluster",
            "vpcId": "vpc-0a1b2c3d4e5f60718",
            "publicSubnetIds": ["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"],
            "privateSubnetIds": ["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"],
        },
    ),
}


@pytest.fixture(scope="module", params=[*VARIANTS, "prod-ecs"])
def variant(request, evaluate, prod_ecs) -> StackResult:
    if request.param == "prod-ecs":
        return prod_ecs
    stack, overrides = VARIANTS[request.param]
    return evaluate(stack, **overrides)


@dataclass(frozen=True)
class Violation:
    resource: Resource
    named: tuple[Resource, ...]
    path: str

    def __str__(self) -> str:
        named = " or ".join(f"{s.name} ({s.type})" for s in self.named)
        return f"{self.resource.name} ({self.resource.type}) names {named} via {self.path} without depending on it"


def identities(s: Resource) -> tuple[set[str], set[str]]:
    """S's physical names and ids (compared whole) and ARNs (also as prefixes of longer ARNs)."""
    names = {v for k in OWN_NAME_KEYS if isinstance(v := s.inputs.get(k), str) and v}
    metadata = s.inputs.get("metadata")
    if s.type.startswith("kubernetes:") and isinstance(metadata, dict) and metadata.get("name"):
        names.add(metadata["name"])
    if isinstance(s.outputs.get("name"), str) and s.outputs["name"]:
        names.add(s.outputs["name"])
    if s.id:
        names.add(s.id)
    arns = set()
    # An `arn` *input* (EventTarget, TopicPolicy) is the resource it points at, not its own ARN.
    if "arn" not in s.inputs and isinstance(s.outputs.get("arn"), str):
        arns.add(s.outputs["arn"])
    return names, arns


def strings(value, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) for every string in `value`; strings holding JSON are parsed and walked (path<json>...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}[{i}]")
    elif isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, (dict, list)):
                yield from strings(parsed, f"{path}<json>")
                return
        yield path, value


def dependency_closure(r: Resource, by_ref: dict[str, Resource]) -> set[str]:
    seen: set[str] = set()
    todo = list(r.depends_on)
    while todo:
        ref = todo.pop()
        if ref not in seen:
            seen.add(ref)
            if ref in by_ref:
                todo.extend(by_ref[ref].depends_on)
    return seen


def matches(text: str, pattern: str) -> bool:
    """`*` matches anything; every other character (brackets included) stands for itself."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text) is not None


def exemption(r: Resource, path: str, named: tuple[Resource, ...]) -> Exemption | None:
    for e in EXEMPTIONS:
        if matches(r.type, e.resource_type) and any(matches(path, p) for p in e.paths) and all(matches(s.type, e.named) for s in named):
            return e
    return None


def visible(r: Resource, s: Resource) -> bool:
    """Kubernetes object names are scoped to their namespace: only Kubernetes objects name them (a container
    called `app` in a buildspec is not the Deployment `app`). Namespaces are cluster-wide and named anywhere."""
    return not s.type.startswith("kubernetes:") or s.type == "kubernetes:core/v1:Namespace" or r.type.startswith("kubernetes:")


class Identities:
    """`names` over every candidate at once: which candidates (by position) a token names. A token names a
    candidate when it is one of its names or ARNs, or one of its ARNs followed by `:` or `/`; so the ARNs to
    look up are the token's own prefixes that end before a `:` or `/` (a few per token, not every ARN of the stack)."""

    def __init__(self, candidates: list[tuple[Resource, set[str], set[str]]]):
        self.whole: dict[str, set[int]] = {}
        self.prefix: dict[str, set[int]] = {}
        for i, (_, names_, arns) in enumerate(candidates):
            for name in names_ | arns:
                self.whole.setdefault(name, set()).add(i)
            for arn in arns:
                self.prefix.setdefault(arn, set()).add(i)

    def named_by(self, token: str) -> list[int]:
        found = set(self.whole.get(token, ()))
        for end, char in enumerate(token):
            if char in ":/" and token[:end] in self.prefix:
                found |= self.prefix[token[:end]]
        return sorted(found)


def unordered_references(result: StackResult) -> Iterator[tuple[Violation, Exemption | None]]:
    """Every place where a custom resource names another without depending on it, with its exemption."""
    by_ref = {r.ref: r for r in result.resources}
    # Local components have no physical identity; the remote pulumi-eks Cluster has (its name).
    candidates = [(s, *identities(s)) for s in result.resources if s.custom or s.type == "eks:index:Cluster"]
    index = Identities(candidates)
    for r in result.resources:
        if not r.custom:
            continue
        closure = dependency_closure(r, by_ref)
        own = {k for k in OWN_NAME_KEYS if k in r.inputs}
        if r.type.startswith("kubernetes:"):
            own.add("metadata.name")
        for path, text in strings(r.inputs):
            if path in own:
                continue
            reported: set[tuple[str, ...]] = set()
            for token in dict.fromkeys(t for t in TOKEN_SEPARATORS.split(text) if t):
                named = tuple(s for s in (candidates[i][0] for i in index.named_by(token)) if s.ref != r.ref and visible(r, s))
                # The same value can belong to several resources (a shared mock ARN, a namespace named like a
                # repository): depending on one of them is enough.
                key = tuple(s.ref for s in named)
                if named and key not in reported and not any(s.ref in closure for s in named):
                    reported.add(key)
                    yield Violation(r, named, path), exemption(r, path, named)


def named_without_dependency(result: StackResult) -> list[Violation]:
    return [v for v, e in unordered_references(result) if e is None]


# The unordered references of each shared (read-only) stack, by its identity, kept with the stack: the test of
# its violations and the test of the exemptions read the same stacks.
_REFERENCES: dict[int, tuple[StackResult, list[tuple[Violation, Exemption | None]]]] = {}


def shared_references(result: StackResult) -> list[tuple[Violation, Exemption | None]]:
    if id(result) not in _REFERENCES:
        _REFERENCES[id(result)] = (result, list(unordered_references(result)))
    return _REFERENCES[id(result)][1]


def test_a_resource_depends_on_every_resource_it_names(variant):
    violations = [str(v) for v, e in shared_references(variant) if e is None]
    assert violations == []


@pytest.mark.parametrize("name", ["prod", "dev-eks"])
def test_eks_access_waits_for_the_cluster(name, evaluate):
    """CreateAccessEntry fails until the cluster exists: everything that names the cluster depends on it."""
    stack, overrides = VARIANTS[name]
    result = evaluate(stack, **overrides)
    cluster = result.one("aws:eks/cluster:Cluster")
    by_ref = {r.ref: r for r in result.resources}
    for type_ in ("aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/addon:Addon"):
        for r in result.of_type(type_):
            assert r.inputs["clusterName"] == cluster.outputs["name"]
            assert cluster.ref in dependency_closure(r, by_ref), (type_, r.name)


def implied_without_the_stack(result: StackResult) -> list[str]:
    """What AWS would create on a resource's behalf outside the stack (offline/changes.py `implied_names`: a
    logging EKS cluster's control-plane log group) unless the stack creates it first: each must be a resource
    of the stack, among the writer's dependencies (else the writer may start first and AWS creates its own)."""
    by_ref = {r.ref: r for r in result.resources}
    own = {name: r for r in result.resources if (name := physical_name(r)) is not None}
    found = []
    for r in result.resources:
        for name in implied_names(r):
            target = own.get(name)
            if target is None:
                found.append(f"{r.name} ({r.type}) makes AWS create {name[1][0]} ({name[0]}), which the stack does not create")
            elif target.ref not in dependency_closure(r, by_ref):
                found.append(f"{r.name} ({r.type}) may start before {target.name} ({target.type}) exists")
    return found


def test_what_aws_would_create_for_a_resource_the_stack_creates_first(variant):
    assert implied_without_the_stack(variant) == []


def test_the_implied_check_sees_a_missing_or_late_control_plane_log_group(prod):
    cluster = prod.one("aws:eks/cluster:Cluster")
    group = prod.named("deploy-control-plane-logs")
    late = replace(prod, resources=[replace(cluster, depends_on=tuple(d for d in cluster.depends_on if d != group.ref)) if r is cluster else r for r in prod.resources])
    assert implied_without_the_stack(late) == ["deploy-cluster (aws:eks/cluster:Cluster) may start before deploy-control-plane-logs (aws:cloudwatch/logGroup:LogGroup) exists"]
    missing = replace(late, resources=[r for r in late.resources if r is not group])
    assert implied_without_the_stack(missing) == [
        f"deploy-cluster (aws:eks/cluster:Cluster) makes AWS create /aws/eks/{cluster.inputs['name']}/cluster (aws:cloudwatch/logGroup:LogGroup), which the stack does not create"
    ]


def test_the_check_sees_a_name_typed_twice(dev):
    """The check itself: a task definition that names its execution role without depending on it is reported."""
    role = dev.named("deploy-execution-role")
    task = dev.one("aws:ecs/taskDefinition:TaskDefinition")
    forged = replace(task, depends_on=())
    result = replace(dev, resources=[forged if r is task else r for r in dev.resources])
    assert any(v.resource is forged and role in v.named and v.path == "executionRoleArn" for v in named_without_dependency(result))


def test_every_exemption_is_still_needed(evaluate, prod_ecs):
    """An exemption no stack variant uses any more is stale: remove it rather than let it hide a new case."""
    results = [evaluate(stack, **overrides) for stack, overrides in VARIANTS.values()] + [prod_ecs]
    used = {e for result in results for _, e in shared_references(result) if e is not None}
    assert [e.reason for e in EXEMPTIONS if e not in used] == []


def role_permissions(result: StackResult) -> dict[str, list[Resource]]:
    """Role ARN -> the resources that grant the role its permissions (inline policies, attachments)."""
    roles = {r.ref: r for r in result.of_type("aws:iam/role:Role")}
    grants: dict[str, list[Resource]] = {role.outputs["arn"]: [] for role in roles.values()}
    for r in result.resources:
        if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment") and r.parent_urn in roles:
            grants[roles[r.parent_urn].outputs["arn"]].append(r)
    return grants


@dataclass(frozen=True)
class EarlyUse:
    user: Resource
    path: str
    grant: Resource

    def __str__(self) -> str:
        return f"{self.user.name} ({self.user.type}) uses its role via {self.path} before {self.grant.name} ({self.grant.type}) exists"


def used_before_permitted(result: StackResult) -> list[EarlyUse]:
    by_ref = {r.ref: r for r in result.resources}
    grants = role_permissions(result)
    found = []
    for r in result.resources:
        if not r.custom or r.type == "aws:iam/role:Role":
            continue
        closure = dependency_closure(r, by_ref)
        for path, text in strings(r.inputs):
            # A policy naming a role (iam:PassRole on it) does not use the role's permissions.
            if any(matches(path, p) for p in IAM_DOCUMENT_PATHS):
                continue
            tokens = TOKEN_SEPARATORS.split(text)
            found += [EarlyUse(r, path, g) for arn, gs in grants.items() if arn in tokens for g in gs if g.ref not in closure]
    return found


@pytest.mark.parametrize("name", [*VARIANTS, "prod-ecs"])
def test_a_role_is_used_only_once_its_permissions_exist(name, evaluate, prod_ecs):
    """CodeBuild projects, the pipeline, task definitions, EventBridge targets, the trail, EKS access entries:
    whatever takes a role's ARN may use the role at once, so its policies must exist by then."""
    result = prod_ecs if name == "prod-ecs" else evaluate(VARIANTS[name][0], **VARIANTS[name][1])
    assert [str(u) for u in used_before_permitted(result)] == []


def test_every_role_user_is_checked(dev):
    """The users the issue names are among those the check above covers."""
    grants = role_permissions(dev)
    users = {
        r.type for r in dev.resources if r.custom and r.type != "aws:iam/role:Role" and any(arn in TOKEN_SEPARATORS.split(text) for _, text in strings(r.inputs) for arn in grants)
    }
    assert {"aws:codebuild/project:Project", "aws:codepipeline/pipeline:Pipeline", "aws:ecs/taskDefinition:TaskDefinition", "aws:cloudwatch/eventTarget:EventTarget"} <= users


def test_service_role_arn_carries_the_policy(dev):
    """What `components.iam.ServiceRole.arn` is for: the recorded dependencies of a resource taking it hold the
    policy itself (not only the role, whose children the SDK leaves out)."""
    project = dev.named("build-project")
    assert dev.named("build-role-policy").ref in project.depends_on
    assert dev.named("build-role").ref in project.depends_on
