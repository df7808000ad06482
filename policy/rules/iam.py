"""IAM rules, over identity policy documents (role, user, group and managed policies, a role's inline
policies) and policy attachments: no wildcard actions, no administrator, no iam:PassRole on '*'."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .common import _document, _get, _items, _sid, _statements, rule

IAM_DOCUMENT_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
IAM_ROLE = "aws:iam/role:Role"
IAM_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
_ADMIN_POLICY = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/AdministratorAccess$")


def identity_policies(type_: str, props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, document) for every identity policy document a resource carries."""
    if type_ in IAM_DOCUMENT_TYPES:
        doc = _document(_get(props, "policy"))
        return [("policy", doc)] if doc is not None else []
    if type_ == IAM_ROLE:
        found = []
        for i, inline in enumerate(_items(_get(props, "inlinePolicies"))):
            doc = _document(_get(inline, "policy"))
            if doc is not None:
                found.append((f"inlinePolicies[{i}] {_get(inline, 'name') or ''}".rstrip(), doc))
        return found
    return []


def _allow_statements(type_: str, props: Mapping[str, Any]) -> Iterable[tuple[str, str, Mapping[str, Any], list[str], list[str]]]:
    for where, doc in identity_policies(type_, props):
        for i, st in enumerate(_statements(doc)):
            if st.get("Effect") == "Allow":
                actions = [a for a in _items(st.get("Action")) if isinstance(a, str)]
                resources = [r for r in _items(st.get("Resource")) if isinstance(r, str)]
                yield where, _sid(st, i), st, actions, resources


@rule("iam-no-wildcard-actions", "IAM policies allow no '*' or 'service:*' actions (checkov CKV_AWS_63, cdk-nag AwsSolutions-IAM5).", types=(*IAM_DOCUMENT_TYPES, IAM_ROLE))
def iam_no_wildcard_actions(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    for where, sid, st, actions, _ in _allow_statements(type_, props):
        wild = [a for a in actions if a == "*" or a.endswith(":*")]
        if wild:
            found.append(f"IAM {where} {sid} allows wildcard action(s) {', '.join(wild)}: list the actions it needs")
        if "NotAction" in st:
            found.append(f"IAM {where} {sid} is Allow with NotAction, which grants every other action: list the actions it needs")
    return found


@rule(
    "iam-no-admin",
    "IAM policies grant no full administrator access (checkov CKV_AWS_62, cdk-nag NIST.800.53.R5-IAMPolicyNoStatementsWithAdminAccess).",
    types=(*IAM_DOCUMENT_TYPES, IAM_ROLE, *IAM_ATTACHMENTS),
)
def iam_no_admin(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = [
        f"IAM {where} {sid} allows '*' on '*' (full administrator): list the actions and resources it needs"
        for where, sid, _, actions, resources in _allow_statements(type_, props)
        if {"*", "*:*"} & set(actions) and "*" in resources
    ]
    arns = []
    if type_ in IAM_ATTACHMENTS:
        arns = [_get(props, "policyArn")]
    elif type_ == IAM_ROLE:
        arns = _items(_get(props, "managedPolicyArns"))
    found += [f"IAM attaches {arn}: grant the actions it needs instead" for arn in arns if isinstance(arn, str) and _ADMIN_POLICY.match(arn)]
    return found


@rule("iam-passrole-not-wildcard", "IAM policies never allow iam:PassRole on '*' (no checkov/cdk-nag equivalent).", types=(*IAM_DOCUMENT_TYPES, IAM_ROLE))
def iam_passrole_not_wildcard(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    for where, sid, _, actions, resources in _allow_statements(type_, props):
        passes = any(fnmatch.fnmatchcase("iam:passrole", a.lower()) for a in actions)
        wide = [r for r in resources if r == "*" or r.endswith(":role/*") or r.endswith(":*")]
        if passes and wide:
            found.append(f"IAM {where} {sid} allows iam:PassRole on {', '.join(wide)}: name the role ARNs it may pass (and add iam:PassedToService)")
    return found
