"""The policy pack's layout: RULES keeps its names and order, each rule's resource types are declared
once (in its decorator), and no file of the pack outgrows a reviewable size."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

from policy.rules import RULES, SERVICES, Subject
from policy.rules.common import REGISTRY, Registry

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
MAX_LINES = 400

# The pack's rules as they were before policy/rules.py was split by service. The engine reports and the
# offline plan list violations in this order, and docs/policy.md's table follows it.
RULE_ORDER = [
    "ecr-image-scanning",
    "ecr-immutable-tags",
    "ecr-kms-encryption",
    "ecr-no-public-policy",
    "s3-public-access-blocked",
    "s3-kms-encryption",
    "s3-versioning",
    "s3-tls-only",
    "codebuild-logging",
    "codebuild-kms-key",
    "codebuild-no-plaintext-credentials",
    "codebuild-privileged-only-for-docker",
    "codepipeline-artifacts-kms",
    "codepipeline-rollback-mode",
    "codepipeline-promotion-checked",
    "production-supply-chain-gate",
    "ecs-container-insights",
    "ecs-awslogs",
    "ecs-no-privileged",
    "ecs-separate-roles",
    "ecs-no-plain-secrets",
    "ecs-no-public-ip",
    "ecs-circuit-breaker",
    "ecs-traffic-shift-safety",
    "eks-control-plane-logs",
    "eks-secrets-encryption",
    "eks-public-endpoint",
    "iam-no-wildcard-actions",
    "iam-no-admin",
    "iam-passrole-not-wildcard",
    "sns-kms",
    "cloudtrail-log-validation",
    "cloudtrail-kms",
    "log-group-retention",
    "kms-rotation",
]


def test_rules_keep_their_names_and_order():
    assert [r.name for r in RULES] == RULE_ORDER


def test_every_declared_rule_is_in_the_pack():
    """A service module left out of SERVICES would drop its rules from the pack silently."""
    assert sorted(r.name for r in REGISTRY.rules) == sorted(r.name for r in RULES)
    modules = {p.stem for p in (POLICY_DIR / "rules").glob("*.py")} - {"__init__", "common"}
    assert {s.__name__.rsplit(".", 1)[-1] for s in SERVICES} == modules


def test_no_file_of_the_pack_exceeds_the_line_budget():
    files = sorted(p for p in POLICY_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert len(files) > 10
    too_long = {str(p.relative_to(POLICY_DIR)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}


# ---------------------------------------------------------------- types are declared once


def _body(rule):
    """The function the rule's decorator wrapped: the check as its module wrote it."""
    return inspect.unwrap(rule.check or rule.stack_check)


def test_check_bodies_carry_no_type_guard():
    guard = re.compile(r"\btype_\s*(!=|not\s+in)|(!=|not\s+in)\s*type_\b")
    for rule in RULES:
        assert _body(rule) is not (rule.check or rule.stack_check), f"{rule.name} is not registered by @rule/@stack_rule"
        assert not guard.search(inspect.getsource(_body(rule))), rule.name
    for path in sorted((POLICY_DIR / "rules").glob("*.py")):
        assert not guard.search(path.read_text()), path.name


def _types_named(rule) -> set[str]:
    """The resource types a check's body names through its module's constants."""
    body = _body(rule)
    module = sys.modules[body.__module__]
    named: set[str] = set()
    for word in set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", inspect.getsource(body))):
        value = getattr(module, word, None)
        values = value if isinstance(value, tuple) else (value,)
        if values and all(isinstance(v, str) and v.startswith("aws:") for v in values):
            named.update(values)
    return named


def test_a_check_names_only_types_its_decorator_declares():
    """A type named in a body but not declared would be a branch the rule never reaches."""
    checked = 0
    for rule in RULES:
        named = _types_named(rule)
        assert named <= set(rule.resource_types), (rule.name, sorted(named - set(rule.resource_types)))
        checked += bool(named)
    assert checked >= 7  # ecr-image-scanning, ecr-no-public-policy, iam-no-admin, the four S3 rules


# ---------------------------------------------------------------- the registry


def test_a_resource_rule_sees_only_its_declared_types():
    registry = Registry()
    seen = []

    @registry.rule("demo", "A demo rule.", types=("aws:a/a:A", "aws:b/b:B"))
    def demo(type_, props):
        seen.append(type_)
        return [f"{type_} fails"]

    assert demo("aws:a/a:A", {}) == ["aws:a/a:A fails"]
    assert demo("aws:b/b:B", {}) == ["aws:b/b:B fails"]
    assert demo("aws:c/c:C", {}) == []
    assert seen == ["aws:a/a:A", "aws:b/b:B"]
    [rule] = registry.rules
    assert (rule.name, rule.description, rule.resource_types, rule.check, rule.stack_check) == (
        "demo",
        "A demo rule.",
        ("aws:a/a:A", "aws:b/b:B"),
        demo,
        None,
    )
    assert registry.declared_in(__name__) == (rule,)
    assert registry.declared_in("elsewhere") == ()


def test_a_stack_rule_sees_only_resources_of_its_declared_types_in_stack_order():
    registry = Registry()

    @registry.stack_rule("demo-stack", "A demo stack rule.", types=("aws:a/a:A", "aws:b/b:B"))
    def demo(resources):
        return [(r.urn, r.type) for r in resources]

    stack = [Subject(t, n, f"urn:{n}", {}) for t, n in [("aws:b/b:B", "1"), ("aws:c/c:C", "2"), ("aws:a/a:A", "3")]]
    assert demo(stack) == [("urn:1", "aws:b/b:B"), ("urn:3", "aws:a/a:A")]
    assert registry.rules[0].stack_check is demo and registry.rules[0].check is None


def test_the_registry_refuses_a_name_twice_and_a_rule_without_types():
    registry = Registry()
    registry.rule("demo", "A demo rule.", types=("aws:a/a:A",))(lambda type_, props: [])
    with pytest.raises(ValueError, match=r"^policy rule 'demo' is declared twice: give each rule its own name$"):
        registry.stack_rule("demo", "Again.", types=("aws:a/a:A",))(lambda resources: [])
    with pytest.raises(ValueError, match=r"^policy rule 'untyped' declares no resource types: pass types=\(\.\.\.\) with the types its check reads$"):
        registry.rule("untyped", "No types.", types=())(lambda type_, props: [])
    assert [r.name for r in registry.rules] == ["demo"]
