"""Would IAM allow this request? A small evaluator of identity-based policy statements, for tests.

    allowed(statements, action, resource, context) -> bool
    decision(statements, action, resource, context) -> Decision(allowed, reason)

`statements` are policy statements as the program renders them (dicts with Effect, Action or NotAction,
Resource or NotResource, and an optional Condition and Sid). `context` holds the request's condition keys:
a string for a single-valued key, a list of strings for a multivalued one (e.g. kms:EncryptionContextKeys).

What it follows (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements: Condition operators",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html, and
"Single-valued vs. multivalued context keys"):
- an explicit Deny of a matching statement wins; otherwise a matching Allow allows; otherwise the request is
  implicitly denied;
- a statement matches when its action, its resource and every condition in it hold: the operators of a
  Condition block, and the keys under one operator, are ANDed; the values of one key are ORed;
- actions and condition key names compare case-insensitively; resources and String* values case-sensitively
  (the *IgnoreCase operators excepted); `*` and `?` are wildcards in actions, resources, *Like and Arn*
  values (ArnEquals and ArnLike alike, each of the ARN's six colon-separated parts matched on its own);
- a key missing from the request: the condition is false, except for a negated operator (StringNotEquals,
  StringNotLike, ArnNotEquals, ArnNotLike, ...), which is true, an ...IfExists operator, which is true, and
  Null, which tests exactly that;
- ForAnyValue: true when at least one request value matches; false when the key is missing or empty.
  ForAllValues: true when every request value matches, and when the key is missing or empty. A multivalued
  key needs one of them (a list given to an operator without one is an error here, not a guess).

Left out, and refused rather than guessed: policy variables (`${...}`), Numeric*, Date*, IpAddress, Binary
operators, and statements with a Principal (resource-based policies, which also need the account's view).
Resource and NotResource match the whole ARN with `*` and `?` (a `*` may run across colons); write wildcards
in the resource part, as the program does, where IAM and this evaluator agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Context = Mapping[str, str | Sequence[str]]

_OPERATOR = re.compile(r"^(?:(?P<set>ForAnyValue|ForAllValues):)?(?P<base>[A-Za-z]+?)(?P<if_exists>IfExists)?$")
_STRING = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"}
_ARN = {"ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def allowed(statements: Sequence[Mapping[str, Any]], action: str, resource: str, context: Context | None = None) -> bool:
    """True when IAM would allow `action` on `resource` with these condition keys under these statements alone."""
    return decision(statements, action, resource, context).allowed


def decision(statements: Sequence[Mapping[str, Any]], action: str, resource: str, context: Context | None = None) -> Decision:
    """The verdict and why: the statement that allowed or denied the request, or, for an implicit deny, each
    statement that names the action and resource and the condition that stopped it."""
    keys = {k.lower(): v for k, v in (context or {}).items()}
    allows: list[str] = []
    stopped: list[str] = []
    for index, statement in enumerate(statements):
        label = _label(statement, index)
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError(f"{label}: Effect {effect!r} is neither 'Allow' nor 'Deny'")
        if "Principal" in statement or "NotPrincipal" in statement:
            raise ValueError(f"{label}: has a Principal; this evaluator reads identity-based statements only")
        if not (_action_matches(statement, action, label) and _resource_matches(statement, resource, label)):
            continue
        failed = _failed_condition(statement.get("Condition") or {}, keys, label)
        if failed is not None:
            stopped.append(f"{label} ({effect}) names {action} on {resource} but {failed}")
            continue
        if effect == "Deny":
            return Decision(False, f"explicitly denied by {label}")
        allows.append(label)
    if allows:
        return Decision(True, f"allowed by {', '.join(allows)}")
    reason = f"implicitly denied: no statement allows {action} on {resource}"
    return Decision(False, reason + "".join(f"; {s}" for s in stopped))


def _label(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if sid else f"statement #{index}"


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` and `?` wildcards, matching the whole value."""
    if "${" in pattern:
        raise ValueError(f"{pattern!r}: policy variables are not supported by this evaluator")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _action_matches(statement: Mapping[str, Any], action: str, label: str) -> bool:
    if ("Action" in statement) == ("NotAction" in statement):
        raise ValueError(f"{label}: give exactly one of Action and NotAction")
    if "Action" in statement:
        return any(wildcard(a, action, ignore_case=True) for a in _as_list(statement["Action"]))
    return not any(wildcard(a, action, ignore_case=True) for a in _as_list(statement["NotAction"]))


def _resource_matches(statement: Mapping[str, Any], resource: str, label: str) -> bool:
    if ("Resource" in statement) == ("NotResource" in statement):
        raise ValueError(f"{label}: give exactly one of Resource and NotResource")
    if "Resource" in statement:
        return any(wildcard(r, resource) for r in _as_list(statement["Resource"]))
    return not any(wildcard(r, resource) for r in _as_list(statement["NotResource"]))


def _text(value: Any) -> str:
    """A condition value as IAM compares it: JSON true/false as 'true'/'false', numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"condition value {value!r} is not a string, number or boolean")


def _arn_matches(pattern: str, value: str) -> bool:
    """Arn* operators: each of the six colon-separated parts on its own (the resource part keeps its colons)."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(wildcard(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _positive_match(base: str, policy_value: str, request_value: str) -> bool:
    """The operator without its negation: does one request value match one policy value?"""
    core = base.replace("Not", "", 1) if base in _NEGATED else base
    if core == "StringEquals":
        return policy_value == request_value
    if core == "StringEqualsIgnoreCase":
        return policy_value.lower() == request_value.lower()
    if core == "StringLike":
        return wildcard(policy_value, request_value)
    if core in ("ArnEquals", "ArnLike"):
        return _arn_matches(policy_value, request_value)
    if core == "Bool":
        return policy_value.lower() == request_value.lower()
    raise AssertionError(core)


def _value_holds(base: str, policy_values: list[str], request_value: str) -> bool:
    hit = any(_positive_match(base, p, request_value) for p in policy_values)
    return not hit if base in _NEGATED else hit


def _condition_holds(operator: str, key: str, raw_values: Any, context: Mapping[str, Any], label: str) -> bool:
    parsed = _OPERATOR.match(operator)
    base = parsed.group("base") if parsed else ""
    if not parsed or base not in _STRING | _ARN | {"Bool", "Null"}:
        raise ValueError(f"{label}: condition operator {operator!r} is not supported by this evaluator")
    qualifier, if_exists = parsed.group("set"), bool(parsed.group("if_exists"))
    policy_values = [_text(v) for v in _as_list(raw_values)]
    present = key.lower() in context
    request = context.get(key.lower())
    if base == "Null":
        if qualifier or if_exists:
            raise ValueError(f"{label}: {operator!r}: Null takes neither a set operator nor IfExists")
        empty = not present or request in ("", [], ())
        return any(v.lower() == ("true" if empty else "false") for v in policy_values)
    if qualifier is None:
        if isinstance(request, list | tuple):
            raise ValueError(f"{label}: {key} has several values in the request; use ForAnyValue:{operator} or ForAllValues:{operator}")
        if not present:
            return if_exists or base in _NEGATED
        return _value_holds(base, policy_values, str(request))
    values = [str(v) for v in _as_list(request)] if present else []
    if not values:
        return if_exists or qualifier == "ForAllValues"
    results = [_value_holds(base, policy_values, v) for v in values]
    return any(results) if qualifier == "ForAnyValue" else all(results)


def _failed_condition(condition: Mapping[str, Any], context: Mapping[str, Any], label: str) -> str | None:
    """None when every condition holds; otherwise the first that does not, as text."""
    for operator, keys in condition.items():
        for key, values in keys.items():
            if not _condition_holds(operator, key, values, context, label):
                request = context.get(key.lower(), "(not in the request)")
                return f"its condition {operator} {key} {_as_list(values)} does not hold for {request!r}"
    return None
