"""Stack settings: the only module that reads Pulumi config.

`load_settings()` reads the project's config namespace once and hands it to
`parse_settings()`, a pure function that validates every key and returns one
immutable `Settings` object. Everything that can be wrong with a stack file is
reported here, before a single resource is registered, with a message that names
the key, the bad value, what is allowed and how to fix it. Each part of the
config is checked by its own module (source.py, network.py, ...); this one checks
what spans them (key names, the deploy target's keys, the stack name, regions)
and collects every problem.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from components.settings.build import _build
from components.settings.constants import AWS_REGIONS, PROJECT
from components.settings.ecs import _ecs
from components.settings.eks import _eks
from components.settings.enums import DeploymentStrategyKind, DeployTargetKind
from components.settings.keys import KEYS
from components.settings.model import PromotionSettings, RegistrySettings, Settings
from components.settings.network import _network
from components.settings.promotion import BUILD_ONLY_KEYS, _not_read_when_promoting, _promotion
from components.settings.reading import SettingsError, _enum, _fail, _in_range, _Reader, settings_error
from components.settings.safety import _safety
from components.settings.services import TEST_LISTENER_KEYS, checked_name, parse_services
from components.settings.source import _source
from components.settings.strategy import _strategy_kind
from components.settings.supply import _supply
from components.settings.workload import _workload

# Lowercase letters and digits in runs joined by single '-': the stack and service names end up in ECR
# repository names ([a-z0-9]+ joined by single separators) and CloudTrail trail names (no adjacent '-').
_NAME_RUNS = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]+:([a-z0-9-]+):")
# The shortest form of a decimal that ended in 0 as typed (1.30 -> 1.3), as the CLI hands it to the program.
_ONE_DECIMAL = re.compile(r"^[0-9]+\.[0-9]$")
# Namespaces of a stack's config that are not a misspelt project name.
_OTHER_NAMESPACES = frozenset({"aws", "pulumi"})


def _check_unknown_keys(raw: Mapping[str, Any]) -> None:
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(KEYS))}"
            raise SettingsError(f"{PROJECT}:{key}: unknown config key; {hint} Fix: rename or remove it with `pulumi config rm {key}`")


def _check_target_keys(reader: _Reader, target: DeployTargetKind, next_target: DeployTargetKind | None) -> None:
    """Every key set for a target the stack does not use, in one message with the one command that removes them
    all (`pulumi config rm-all`), so switching deployTarget takes one round, not one per key."""
    stray = [key for key in reader.raw if target not in KEYS[key].targets and next_target not in KEYS[key].targets and reader.is_set(key)]
    if not stray:
        return
    users = sorted({t.value for key in stray for t in KEYS[key].targets})
    named = ", ".join(stray)
    command = f"pulumi config rm {stray[0]}" if len(stray) == 1 else f"pulumi config rm-all {' '.join(stray)}"
    raise SettingsError(
        f"{named}: {'is' if len(stray) == 1 else 'are'} set but deployTarget is {target.value!r}, and only {' and '.join(users)} "
        f"{'uses' if len(users) == 1 else 'use'} {'it' if len(stray) == 1 else 'them'}; Fix: remove {'it' if len(stray) == 1 else 'them'} (`{command}`) "
        f"or set deployTarget to {' or '.join(users)}"
    )


def _next_target(reader: _Reader, target: DeployTargetKind) -> DeployTargetKind | None:
    """nextDeployTarget: the other target, or None."""
    value = reader.get("nextDeployTarget")
    if value in ("", None):
        return None
    others = [t for t in DeployTargetKind if t is not target]
    if value not in {t.value for t in others}:
        allowed = " or ".join(repr(t.value) for t in others)
        raise _fail("nextDeployTarget", value, f"with deployTarget {target.value!r} the next target can be {allowed}", f"set it to {allowed}, or remove it")
    return DeployTargetKind(value)


def _next_target_strategy(next_target: DeployTargetKind, strategy: DeploymentStrategyKind) -> None:
    """Leaving a blue-green, canary or linear ECS service in the switch's second step would delete the service
    (its tasks deregistered) before ECS's production listener rule, which sends all traffic to them."""
    if strategy.shifts_traffic:
        raise _fail(
            "nextDeployTarget",
            next_target.value,
            f"deploymentStrategy is {strategy.value!r}: the switch's second step would delete the ECS service before ECS's production "
            "listener rule, which forwards every request to the service's target groups until it goes",
            "set deploymentStrategy rolling and `pulumi up` first (docs/safety.md, Switching strategies), then set nextDeployTarget",
        )


class _Problems:
    """Every problem of a stack's config, so one run reports them all."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def check(self, parse: Callable[..., Any], *args: Any) -> Any:
        """`parse(*args)`, or None after recording its problem."""
        try:
            return parse(*args)
        except SettingsError as problem:
            self.messages.append(str(problem))
            return None

    def raise_any(self) -> None:
        if self.messages:
            raise settings_error(self.messages)


def _names(project: str, stack: str) -> None:
    if len(f"{project}-{stack}") > 40:
        raise SettingsError(f"stack name: {stack!r} makes the name prefix '{project}-{stack}' longer than 40 characters; Fix: use a shorter stack name")
    if not _NAME_RUNS.match(stack):
        # The prefix becomes the ECR repository name ([a-z0-9] runs joined by single separators) and part
        # of the CloudTrail trail name (no two separators in a row).
        raise SettingsError(
            f"stack name: {stack!r} is not valid; the stack name becomes part of ECR repository and CloudTrail "
            "names, which allow lower-case letters and digits joined by single '-'. "
            f"Fix: use a stack named like {re.sub(r'-+', '-', re.sub(r'[^a-z0-9]+', '-', stack.lower())).strip('-') or 'dev'!r} "
            "(`pulumi stack rename`)"
        )


def _service_name(reader: _Reader) -> str:
    return checked_name(reader.get("serviceName"), "serviceName")


def _log_retention(reader: _Reader) -> int:
    retention = reader.get("logRetentionDays")
    allowed = KEYS["logRetentionDays"].allowed_values
    if retention not in allowed:
        raise _fail("logRetentionDays", retention, f"CloudWatch Logs accepts {', '.join(map(str, allowed))}", "pick the nearest of those values")
    return retention


def _other_namespace(key: str) -> None:
    """A key of this project written in another namespace, or in a misspelt one: the program reads only its own."""
    namespace, _, name = key.partition(":")
    near = difflib.SequenceMatcher(None, namespace.lower(), PROJECT).ratio() >= 0.8
    if name in KEYS or (near and namespace not in _OTHER_NAMESPACES):
        raise SettingsError(
            f"{key}: is in the namespace {namespace!r}, and this program reads only '{PROJECT}:' keys, so the value would be ignored. "
            f"Fix: move it to {PROJECT}:{name} (`pulumi config rm {key}`, then `pulumi config set {PROJECT}:{name} <value>`)"
        )


def _region(region: str | None) -> None:
    """aws:region, when set, is a region the AWS provider knows (unset: the provider reads AWS_REGION)."""
    if region is not None and region not in AWS_REGIONS:
        close = difflib.get_close_matches(region, AWS_REGIONS, n=2, cutoff=0.75)
        raise _fail(
            "aws:region",
            region,
            f"allowed: an AWS region, one of {', '.join(AWS_REGIONS)}",
            f"set the stack's region, e.g. `pulumi config set aws:region {close[0] if close else 'us-east-1'}`" + (f" (closest: {' or '.join(map(repr, close))})" if close else ""),
        )


def _unquoted_number_hint(message: str, raw: Mapping[str, Any]) -> str:
    """A string key's value refused for its form, when it may be what YAML made of an unquoted number: the CLI hands
    the program the number's shortest form, so an unquoted 1.30 arrives as '1.3'."""
    key = message.split(":", 1)[0]
    value = raw.get(key)
    if key not in KEYS or KEYS[key].type != "string" or not isinstance(value, str) or not _ONE_DECIMAL.match(value):
        return message
    if not message.startswith((f"{key}: {value!r} is not valid; allowed", f"{key}: {value!r} is not supported")):
        return message
    return f'{message}. If the stack file has {value}0 unquoted, YAML read the number {value}: quote it as you mean it ("{value}0")'


def _regions(reader: _Reader, region: str | None) -> None:
    """ARNs of regional resources the stack uses in place must be in the stack's region: an ALB takes ACM
    certificates of its own region only, and a pipeline's source action runs in the pipeline's region."""
    if not region:
        return
    for key in ("certificateArn", "sourceConnectionArn"):
        arn = reader.get(key)
        found = _ARN_REGION.match(arn) if arn else None
        if found and found.group(1) != region:
            raise _fail(
                key,
                arn,
                f"the ARN is in {found.group(1)}, the stack in {region}",
                f"use a {key.removesuffix('Arn')} in {region}, or deploy the stack to {found.group(1)} (aws:region)",
            )


def parse_settings(
    raw: Mapping[str, Any],
    project: str,
    stack: str,
    region: str | None = None,
    organization: str | None = None,
    other_keys: Collection[str] = (),
) -> Settings:
    """Validate a stack's raw config (key without namespace -> value) into `Settings`.

    Pure: no Pulumi runtime needed, so every rule is testable directly. Every problem is reported at
    once (each part of the config stops at its first problem). `region`: the stack's aws:region, when
    known, to check it and ARNs against it. `organization`: the stack's Pulumi organisation, when known, to
    tell this stack from another organisation's stack of the same name in promoteFrom. `other_keys`: the
    stack's config keys in other namespaces ('aws:region'), to refuse this project's keys written in another.
    With `services`, each entry's settings are this parse of the config with the entry's keys over it (services.py).
    """
    try:
        entries = _Reader(raw).get("services") if "services" in raw else ()
    except SettingsError as problem:
        entries, shape = (), [str(problem)]
    else:
        shape = []
    if not entries and not shape:
        return _parse(raw, project, stack, region, organization, other_keys, many=False)
    own = {key: value for key, value in raw.items() if key != "services"}
    try:
        settings: Settings | None = _parse(own, project, stack, region, organization, other_keys, many=True)
        known: list[str] = []
    except SettingsError as error:
        settings, known = None, list(error.problems)
    services, problems = parse_services(entries, own, settings, known, lambda merged: _parse(merged, project, stack, region, organization, (), many=True))
    if known or shape or problems:
        raise settings_error([*known, *shape, *problems])
    assert settings is not None
    return replace(settings, services=services)


def _parse(raw: Mapping[str, Any], project: str, stack: str, region: str | None, organization: str | None, other_keys: Collection[str], many: bool) -> Settings:
    """parse_settings of one service: the stack itself, or (`many`) the stack or one of its services in a stack with
    `services`, whose test listener is checked for the whole stack and whose CodeCommit source filters by paths."""
    problems = _Problems()
    for key in other_keys:
        problems.check(_other_namespace, key)
    problems.check(_region, region)
    unknown = [key for key in raw if key not in KEYS]
    for key in unknown:
        problems.check(_check_unknown_keys, {key: raw[key]})
    reader = _Reader({k: v for k, v in raw.items() if k in KEYS}, TEST_LISTENER_KEYS if many else frozenset())
    target = problems.check(_enum, reader, "deployTarget")
    next_target = problems.check(_next_target, reader, target) if target is not None else None
    if target is not None:
        problems.check(_check_target_keys, reader, target, next_target)
    problems.check(_names, project, stack)
    service = problems.check(_service_name, reader) or KEYS["serviceName"].default
    production = problems.check(reader.get, "production") or False
    # How the target deploys; the deploy timeout's default and the ECS part follow it.
    strategy = problems.check(_strategy_kind, reader, target, production) if target is not None else None
    if next_target is not None and strategy is not None:
        problems.check(_next_target_strategy, next_target, strategy)
    targets = {target, next_target}
    workload = problems.check(_workload, reader, strategy)
    promotion: PromotionSettings | None = problems.check(_promotion, reader, project, stack, organization)
    if promotion is not None and promotion.promote_from is not None:
        for key in BUILD_ONLY_KEYS:
            problems.check(_not_read_when_promoting, reader, key, promotion.promote_from)
    parts = {
        "source": problems.check(_source, reader, project, stack, service, many),
        "workload": workload,
        "image_retention_count": problems.check(_in_range, reader, "imageRetentionCount"),
        "untagged_image_expiry_days": problems.check(_in_range, reader, "untaggedImageExpiryDays"),
        "build": problems.check(_build, reader),
        "network": problems.check(_network, reader, production),
        "log_retention_days": problems.check(_log_retention, reader),
        "artifact_expiry_days": problems.check(_in_range, reader, "artifactExpiryDays"),
        # Each target's own settings, only for the deploy target and the next one (their keys are refused on
        # the other one above). (With deploymentStrategy wrong, its problem is reported and the ECS part not
        # checked.) A next ECS target is parsed while EKS is the target: its strategy is rolling.
        "ecs": problems.check(_ecs, reader, strategy, production, workload.deployment_timeout_minutes if workload else None)
        if DeployTargetKind.ECS in targets and strategy is not None
        else None,
        "safety": problems.check(_safety, reader, production),
        "eks": problems.check(_eks, reader) if DeployTargetKind.EKS in targets else None,
        "supply": problems.check(_supply, reader, production, region),
    }
    problems.check(_regions, reader, region)
    problems.messages = [_unquoted_number_hint(message, raw) for message in problems.messages]
    problems.raise_any()
    assert target is not None and promotion is not None
    return Settings(
        project=project,
        stack=stack,
        deploy_target=target,
        next_deploy_target=next_target,
        production=production,
        service_name=service,
        source=parts["source"],
        workload=parts["workload"],
        registry=RegistrySettings(
            image_retention_count=parts["image_retention_count"],
            untagged_image_expiry_days=parts["untagged_image_expiry_days"],
        ),
        build=parts["build"],
        network=parts["network"],
        log_retention_days=parts["log_retention_days"],
        artifact_expiry_days=parts["artifact_expiry_days"],
        ecs=parts["ecs"],
        tags=MappingProxyType({"project": project, "stack": stack, "service": service, "managed-by": "pulumi"}),
        safety=parts["safety"],
        services=(),
        eks=parts["eks"],
        promotion=promotion,
        supply=parts["supply"],
    )


def load_settings() -> Settings:
    """Read this project's config namespace once and validate it."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    # The CLI hands config to the program through PULUMI_CONFIG (the language host) or
    # set_all_config (automation API, mocks); both are read so no key escapes validation.
    every = {**get_config_env(), **CONFIG.get()}
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: value for key, value in every.items() if key.startswith(prefix)}
    others = [key for key in every if not key.startswith(prefix)]
    return parse_settings(raw, pulumi.get_project(), pulumi.get_stack(), every.get("aws:region") or None, pulumi.get_organization() or None, others)
