"""Promotion settings (promoteFrom, promoteFromAccount, promoteToAccounts) and the upstream contract's
check: every refusal with its exact message, before a resource exists (settings) or before any resource
uses the contract (a promoting stack's `pulumi up`)."""

from __future__ import annotations

import re

import pytest

from components.promotion.contract import PromotionError, check_contract
from components.settings import BUILD_ONLY_KEYS, KEYS, SettingsError, parse_settings
from offline.mocks import evaluate_stack

PROJECT = "container-cicd"
OTHER = "210987654321"


def parse(stack: str = "prod", organization: str | None = "organization", **raw):
    return parse_settings(raw, PROJECT, stack, organization=organization)


def fails(message: str, stack: str = "prod", **raw) -> None:
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        parse(stack, **raw)


def test_a_stack_builds_unless_it_names_what_it_promotes_from():
    building = parse()
    assert (building.promotes, building.promotion.promote_from, building.promotion.promote_to_accounts) == (False, None, ())
    promoting = parse(promoteFrom="dev")
    assert promoting.promotes and promoting.promotion.stack_reference("acme", PROJECT) == "acme/container-cicd/dev"
    qualified = parse(promoteFrom="acme/shop/build", promoteFromAccount=OTHER)
    assert qualified.promotion.stack_reference("other-org", PROJECT) == "acme/shop/build"
    assert qualified.promotion.promote_from_account == OTHER
    assert parse("dev", promoteToAccounts=[OTHER]).promotion.promote_to_accounts == (OTHER,)


@pytest.mark.parametrize("value", ["prod", "organization/container-cicd/prod"])
def test_a_stack_cannot_promote_from_itself(value):
    fails(
        f"promoteFrom: {value!r} is not valid; a stack cannot promote from itself. "
        "Fix: name another stack, the one that builds the image (e.g. 'dev'), or remove promoteFrom to build in this stack",
        promoteFrom=value,
    )
    # The same project and stack name in another organisation is another stack.
    assert parse(promoteFrom="another-org/container-cicd/prod").promotes


def test_dev_promoting_from_itself_is_not_told_to_promote_from_dev():
    with pytest.raises(SettingsError) as raised:
        parse("dev", promoteFrom="dev")
    assert str(raised.value) == (
        "promoteFrom: 'dev' is not valid; a stack cannot promote from itself. Fix: name another stack, the one that builds the image, or remove promoteFrom to build in this stack"
    )


@pytest.mark.parametrize("value", ["Dev", "project/stack", "a/b/c/d", "dev ", "../dev"])
def test_promote_from_names_a_stack(value):
    fails(
        f"promoteFrom: {value!r} is not valid; allowed: the name of a stack of this project such as 'dev', or 'organization/project/stack'. "
        "Fix: set promoteFrom to the stack that builds the image, e.g. 'dev', or remove it to build in this stack",
        promoteFrom=value,
    )


@pytest.mark.parametrize("key", BUILD_ONLY_KEYS)
def test_keys_a_promoting_stack_never_reads_are_refused_when_set(key):
    value = {"array": [OTHER], "boolean": not KEYS[key].default, "integer": KEYS[key].maximum}.get(KEYS[key].type, "x")
    context = {"sourceProvider": "github", "sourceRepository": "o/r"} if key == "sourceConnectionArn" else {}
    raw = {"promoteFrom": "dev", key: value, **context}
    with pytest.raises(SettingsError) as problem:
        parse(**raw)
    shown = repr(value) if not isinstance(value, bool) else str(value).lower()
    expected = (
        f"{key}: {shown} is set, but this stack promotes from 'dev' (promoteFrom): it builds nothing and has no source "
        f"repository or registry of its own, so {key} would have no effect. Fix: remove it (`pulumi config rm {key}`), "
        "or remove promoteFrom to build in this stack"
    )
    assert expected in str(problem.value)


def test_every_build_only_key_set_is_reported_at_once():
    with pytest.raises(SettingsError) as problem:
        parse(promoteFrom="dev", appPath="services/api", buildComputeType="BUILD_GENERAL1_MEDIUM", buildTimeoutMinutes=30)
    assert str(problem.value).startswith("3 problems in the stack's config:\n- appPath: 'services/api' is set, but this stack promotes from 'dev'")
    # Their defaults, as the CLI passes them from Pulumi.yaml, are not "set".
    assert parse(promoteFrom="dev", appPath="app", buildComputeType="BUILD_GENERAL1_SMALL", sourceBranch="main").promotes


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"promoteFromAccount": OTHER},
            f"promoteFromAccount: {OTHER!r} is not valid; only a stack that promotes (promoteFrom) takes images from another account. "
            "Fix: remove promoteFromAccount, or set promoteFrom to the stack that builds the image",
        ),
        (
            {"promoteFrom": "staging", "promoteFromAccount": "2109-8765-4321"},
            "promoteFromAccount: '2109-8765-4321' is not valid; allowed: a 12-digit AWS account id such as '123456789012'. "
            "Fix: write each account id as its 12 digits, without dashes or spaces",
        ),
        (
            {"promoteToAccounts": ["12345678901"]},
            "promoteToAccounts: '12345678901' is not valid; allowed: a 12-digit AWS account id such as '123456789012'. "
            "Fix: write each account id as its 12 digits, without dashes or spaces",
        ),
        ({"promoteToAccounts": [OTHER, OTHER]}, f"promoteToAccounts: [{OTHER!r}, {OTHER!r}] is not valid; each account once. Fix: remove the repeated {OTHER!r}"),
        (
            {"promoteToAccounts": [f"{n:012d}" for n in range(1, 7)]},
            f"promoteToAccounts: {[f'{n:012d}' for n in range(1, 7)]!r} is not valid; at most 5 accounts (one EventBridge rule forwards to each, "
            "and a rule has at most 5 targets). Fix: promote into fewer accounts from this stack",
        ),
    ],
    ids=["account without promoteFrom", "dashed account", "short account", "repeated account", "six accounts"],
)
def test_account_settings_are_checked(raw, message):
    fails(message, stack="dev", **raw)


# ---- the upstream's contract, checked when a promoting stack deploys ----

CONTRACT = {"version": 1, "accountId": "123456789012", "region": "us-east-1", "cpuArchitecture": "x86_64", "downstreamAccounts": []}


def check(contract=CONTRACT, *, own_account="123456789012", own_region="us-east-1", promote_from_account=None, cpu_architecture="x86_64"):
    return check_contract(
        "organization/container-cicd/dev",
        contract,
        own_account=own_account,
        own_region=own_region,
        promote_from_account=promote_from_account,
        cpu_architecture=cpu_architecture,
    )


D = "promoteFrom: stack 'organization/container-cicd/dev'"


@pytest.mark.parametrize(
    ("contract", "kwargs", "message"),
    [
        (None, {}, f"{D} exports no 'promotion' output, so it is not a stack that builds (or it was last deployed before promotion existed)."),
        ({**CONTRACT, "version": 2}, {}, f"{D} exports promotion contract version 2; this program reads version 1."),
        (CONTRACT, {"own_region": "eu-west-1"}, f"{D} runs in us-east-1, this stack in eu-west-1; a promotion starts on the upstream pipeline's events"),
        (
            {**CONTRACT, "accountId": OTHER},
            {},
            f"{D} runs in account {OTHER}, but this stack expects 123456789012 (its own account). Fix: set promoteFromAccount to {OTHER!r}",
        ),
        (
            CONTRACT,
            {"promote_from_account": OTHER},
            f"{D} runs in account 123456789012, but this stack expects {OTHER} (promoteFromAccount). Fix: set promoteFromAccount to "
            "'123456789012', or remove it if the stacks share account 123456789012",
        ),
        (
            {**CONTRACT, "accountId": OTHER},
            {"promote_from_account": OTHER},
            f"{D} (account {OTHER}) does not list this stack's account 123456789012 in its promoteToAccounts",
        ),
        (CONTRACT, {"cpu_architecture": "arm64"}, "cpuArchitecture: 'arm64' does not match the images stack 'organization/container-cicd/dev' builds ('x86_64')."),
    ],
    ids=["no contract", "unknown version", "another region", "undeclared account", "wrong account", "not granted", "architecture"],
)
def test_a_contract_that_does_not_fit_is_refused(contract, kwargs, message):
    with pytest.raises(PromotionError, match=f"^{re.escape(message)}"):
        check(contract, **kwargs)


def test_a_fitting_contract_is_returned_as_it_is():
    assert check() == CONTRACT
    granted = {**CONTRACT, "accountId": OTHER, "downstreamAccounts": ["123456789012"]}
    assert check(granted, promote_from_account=OTHER) == granted


def test_a_promoting_stack_refuses_an_upstream_in_another_region_at_deploy_time(dev):
    moved = {**dev.outputs, "promotion": {**dev.outputs["promotion"], "region": "eu-west-1"}}
    with pytest.raises(PromotionError, match=r"^promoteFrom: stack 'organization/container-cicd/dev' runs in eu-west-1, this stack in us-east-1"):
        evaluate_stack("prod", stack_outputs={"organization/container-cicd/dev": moved})


# ---- the supply-chain gate's fields: a downstream whose gate is on needs the upstream's evidence ----

GATED = {
    **CONTRACT,
    "signingProfileArn": "arn:aws:signer:us-east-1:123456789012:/signing-profiles/dev_app_x",
    "recordsBucket": "records",
    "recordsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
}
HERE = {"own_account": "123456789012", "own_region": "us-east-1", "promote_from_account": None, "cpu_architecture": "x86_64"}


@pytest.mark.parametrize(
    ("contract", "gate", "message"),
    [
        (
            CONTRACT,
            {"verifies_signature": True},
            f"{D} exports no signingProfileArn in its promotion contract (its imageSigning is off, or it was last deployed before image signing "
            "existed), but this stack's imageSigning is on: it deploys only images the upstream's signing profile signed. Fix: upgrade "
            "'organization/container-cicd/dev' first: set its imageSigning to on (or auto) and run `pulumi up` on it, then on this stack",
        ),
        (
            {**GATED, "recordsKeyArn": None},
            {"verifies_signature": True, "rescans": True},
            f"{D} exports no recordsBucket and recordsKeyArn in its promotion contract (its scanSeverityThreshold is off, or it was last deployed "
            "before the scan gate existed), but this stack rescans the upstream's SBOM of every promoted image (scanSeverityThreshold is not off). "
            "Fix: upgrade 'organization/container-cicd/dev' first: set its scanSeverityThreshold (or remove it: auto) and run `pulumi up` on it, "
            "then on this stack",
        ),
    ],
    ids=["no signing profile", "no records bucket key"],
)
def test_a_gated_downstream_refuses_an_upstream_contract_without_the_gates_evidence(contract, gate, message):
    with pytest.raises(PromotionError, match=f"^{re.escape(message)}$"):
        check_contract("organization/container-cicd/dev", contract, **HERE, **gate)


def test_a_downstream_without_the_gate_takes_an_upstream_contract_without_its_fields():
    assert check_contract("organization/container-cicd/dev", CONTRACT, **HERE) == CONTRACT
    both = {"verifies_signature": True, "rescans": True}
    assert check_contract("organization/container-cicd/dev", GATED, **HERE, **both) == GATED
