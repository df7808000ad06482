"""What every service module of the pack shares: the shapes a rule works on, the registry that declares a
rule once next to its check, and the helpers that read the engine's property form.

Mappings and sequences are tested with collections.abc, not dict/list: during `pulumi preview` the
engine passes read-only proxies that raise pulumi_policy's UnknownValueError when a value is not known
yet; the engine turns that into an advisory "can't run policy during preview" note, never a pass.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ResourceCheck = Callable[[str, Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class Subject:
    """One resource of a stack, as a stack rule sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    """The resource option `protect`: the program sets it on stateful resources of a production stack only."""


StackCheck = Callable[[Sequence[Subject]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    resource_types: tuple[str, ...]
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None


class Registry:
    """Rules as their service modules declare them. A check is declared once, by decorator, with the
    resource types it reads; the registered check sees only those types, so its body carries no type
    guard that could drift from the declaration."""

    def __init__(self) -> None:
        self._declared: list[tuple[str, Rule]] = []

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule, in declaration order."""
        return tuple(r for _, r in self._declared)

    def declared_in(self, module: str) -> tuple[Rule, ...]:
        """The rules module `module` declares, in its order."""
        return tuple(r for m, r in self._declared if m == module)

    def _add(self, module: str, rule: Rule) -> None:
        if not rule.resource_types:
            raise ValueError(f"policy rule {rule.name!r} declares no resource types: pass types=(...) with the types its check reads")
        if any(r.name == rule.name for _, r in self._declared):
            raise ValueError(f"policy rule {rule.name!r} is declared twice: give each rule its own name")
        self._declared.append((module, rule))

    def rule(self, name: str, description: str, *, types: tuple[str, ...]) -> Callable[[ResourceCheck], ResourceCheck]:
        """Declare a resource rule: the check runs on resources of `types` only; any other resource is compliant."""

        def register(body: ResourceCheck) -> ResourceCheck:
            @functools.wraps(body)
            def check(type_: str, props: Mapping[str, Any]) -> list[str]:
                return body(type_, props) if type_ in types else []

            self._add(body.__module__, Rule(name, description, tuple(types), check=check))
            return check

        return register

    def stack_rule(self, name: str, description: str, *, types: tuple[str, ...]) -> Callable[[StackCheck], StackCheck]:
        """Declare a stack rule: the check sees the stack's resources of `types` only, in stack order."""

        def register(body: StackCheck) -> StackCheck:
            @functools.wraps(body)
            def stack_check(resources: Sequence[Subject]) -> list[tuple[str, str]]:
                return body([r for r in resources if r.type in types])

            self._add(body.__module__, Rule(name, description, tuple(types), stack_check=stack_check))
            return stack_check

        return register


# The pack's registry: policy/rules/__init__.py reads it service module by service module, in pack order.
REGISTRY = Registry()
rule = REGISTRY.rule
stack_rule = REGISTRY.stack_rule


# ----------------------------------------------------------------------------------------------
# Helpers


def _is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _get(value: Any, *path: str | int) -> Any:
    """value[path0][path1]...; None where a step is missing or of the wrong shape."""
    for step in path:
        if isinstance(step, int):
            if not _is_seq(value) or step >= len(value):
                return None
        elif not _is_map(value) or step not in value:
            return None
        value = value[step]
    return value


def _items(value: Any) -> list[Any]:
    """A list of the elements of a sequence; a lone value becomes a one-element list; None none."""
    if value is None:
        return []
    if _is_seq(value):
        return list(value)
    return [value]


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _document(value: Any) -> Mapping[str, Any] | None:
    """A JSON policy document as a mapping; None when absent or not parseable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if _is_map(value) else None


def _statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [s for s in _items(_get(document, "Statement")) if _is_map(s)]


def _sid(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if sid else f"statement #{index}"


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if _is_map(principal):
        return any(v == "*" or (_is_seq(v) and "*" in v) for v in principal.values())
    return False


# An AWS access key ID: long-term (AKIA) or temporary (ASIA), as CodeBuild and ECS rules look for it in plain values.
_ACCESS_KEY_VALUE = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
