"""The services part: many services in one stack (`services`), each entry a name, its routing on the shared load
balancer and its own values of the per-service keys (keys.PER_SERVICE_KEYS).

Each entry's settings are the stack's parse run again over the stack's raw config with the entry's keys applied
over the top-level values and serviceName set to the entry's name, so every per-service key is checked exactly as
at the top level; a problem that is the entry's own is reported prefixed with the entry (`services[1].containerPort:
...`). What only a list of services can get wrong is checked here: the entries' shape and keys, their names, their
routing (ALB listener-rule conditions) and priorities, and the load balancer's quotas.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from components.settings.constants import (
    ALB_CONDITION_VALUE_MAX_LENGTH,
    ALB_CONDITION_VALUES_PER_RULE,
    ALB_MAX_RULE_PRIORITY,
    ALB_RULES_PER_LOAD_BALANCER,
    ALB_TARGET_GROUPS_PER_LOAD_BALANCER,
    ALB_WILDCARDS_PER_RULE,
    MAX_SERVICES,
)
from components.settings.enums import DeployTargetKind
from components.settings.keys import KEYS, PER_SERVICE_KEYS
from components.settings.model import Routing, ServiceSettings, Settings
from components.settings.reading import SettingsError, _duplicates, _fail, _parse_array, _Reader, _shown

# An entry's keys besides the per-service ones.
ENTRY_KEYS = ("name", "hosts", "paths", "priority")
# The test listener is the load balancer's, one for every service that shifts traffic: set at the top level, and
# checked once for the stack (a rolling service inherits the keys without using them).
TEST_LISTENER_KEYS = frozenset({"testListenerPort", "testListenerCidrs"})
# A routed service's rule priority when the entry gives none: 10 x its position (from 1), leaving room between.
PRIORITY_STEP = 10
# Priorities an entry may give: the API's 1 to 50000 less its last, which stays free for the catch-all production rule
# of a default service that shifts traffic, evaluated after every routed service's rule.
MAX_PRIORITY = ALB_MAX_RULE_PRIORITY - 1
# ... and its first: a traffic-shifting service alone holds its catch-all rule at 1, which moves to the last priority
# (in place) when routed services join it; a routed rule taking 1 in that same update would clash with it.
MIN_PRIORITY = 2

# ALB listener-rule condition values
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html): a host name
# has A-Z, a-z, 0-9, '-', '.', and the wildcards '*' and '?', at least one '.', and only letters after the last
# '.'; a path pattern has A-Z, a-z, 0-9, _ - . $ / ~ " ' @ : + and the wildcards. ('&' is documented as written
# "&amp;", an encoding the API's raw value does not show: refused here rather than at deploy time.)
_HOST = re.compile(r"^[A-Za-z0-9.*?-]+$")
_HOST_END = re.compile(r"\.[A-Za-z]+$")
_PATH = re.compile(r"""^[A-Za-z0-9_\-.$/~"'@:+*?]+$""")

_CONFIG_RM = re.compile(r" \(`pulumi config rm [^`]*`\)")

ParseOne = Callable[[Mapping[str, Any]], Settings]
"""The stack's parse of one raw config, as a service of a stack with services (raises SettingsError)."""


def checked_name(value: Any, key: str) -> str:
    """serviceName's rules, for serviceName and for each entry's name (`key` names it in the message): the name
    prefixes physical names (ECR repositories, CloudTrail trails)."""
    spec = KEYS["serviceName"]
    assert spec.pattern is not None
    if not isinstance(value, str) or not spec.pattern.match(value):
        raise _fail(key, value, f"allowed: {spec.shape}", f"set {key} to {spec.shape}")
    if "--" in value:
        raise _fail(key, value, "two '-' in a row make names ECR and CloudTrail refuse", f"set {key} to {re.sub('-+', '-', value)!r}")
    return value


def _stack_problems(raw: Mapping[str, Any], count: int) -> list[str]:
    """What a list of `count` services refuses in the stack's own keys."""
    problems = []
    if count > MAX_SERVICES:
        problems.append(
            f"services: {count} entries are too many; allowed: at most {MAX_SERVICES}: the services share one load balancer, which takes "
            f"{ALB_TARGET_GROUPS_PER_LOAD_BALANCER} target groups and {ALB_RULES_PER_LOAD_BALANCER} rules, and a service that shifts traffic needs two "
            "of each. Fix: split the services over two stacks"
        )
    if raw.get("nextDeployTarget") not in (None, ""):
        problems.append(
            f"nextDeployTarget: {_shown(raw['nextDeployTarget'])} is not valid with services; a switch of deployTarget runs one service's second target "
            "behind the listener's default action, and a stack of many services routes by rules. Fix: finish the switch (set deployTarget to it and "
            "remove nextDeployTarget) before adding services, or remove services until it is done"
        )
    return problems


def _test_listener_problem(raw: Mapping[str, Any], stack: Settings, services: Sequence[ServiceSettings]) -> str | None:
    """The test listener's keys, set at the top level, when no service shifts traffic to use them."""
    if stack.deploy_target is not DeployTargetKind.ECS or not services:
        return None
    used = any(s.settings.ecs is not None and s.settings.ecs.strategy.kind.shifts_traffic for s in services)
    stray = [key for key in sorted(TEST_LISTENER_KEYS) if _Reader(raw).is_set(key)]
    if used or not stray:
        return None
    return (
        f"{stray[0]}: is set but no service's deploymentStrategy shifts traffic, and only blue-green, canary and linear use the test listener; "
        f"Fix: remove it (`pulumi config rm {stray[0]}`) or set a service's deploymentStrategy to one of those"
    )


def _entry_keys(where: str, entry: Mapping[str, Any]) -> list[str]:
    """An entry's keys that are neither its own nor per-service: a stack-wide key, or an unknown one."""
    problems = []
    own = (*ENTRY_KEYS, *PER_SERVICE_KEYS)
    for key, value in entry.items():
        if key in own:
            continue
        if key == "serviceName":
            problems.append(f"{where}.serviceName: {_shown(value)} is not valid in an entry; the entry's `name` is its service's name. Fix: write it as name: {_shown(value)}")
        elif key in KEYS:
            problems.append(
                f"{where}.{key}: {_shown(value)} is not valid in an entry; {key} is stack-wide (one network, load balancer, cluster and set of "
                f"gates for every service), and an entry takes only name, hosts, paths, priority and the per-service keys. Fix: set it at the "
                f"top level (container-cicd:{key}) and remove it from the entry"
            )
        else:
            close = difflib.get_close_matches(str(key), own, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"an entry takes {', '.join(ENTRY_KEYS)} and the per-service keys ({', '.join(PER_SERVICE_KEYS)})."
            problems.append(f"{where}.{key}: unknown key in a services entry; {hint} Fix: rename or remove it")
    return problems


def _values(where: str, entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """hosts or paths: a list of strings (omitted or empty: none)."""
    value = entry.get(key)
    if value is None or value == []:
        return ()
    values = _parse_array(f"{where}.{key}", value)
    if _duplicates(list(values)):
        raise _fail(f"{where}.{key}", list(values), "each value once", f"remove the repeated {_duplicates(list(values))[0]!r}")
    return values


def _routing(where: str, entry: Mapping[str, Any]) -> Routing | None:
    """The entry's listener-rule conditions; None: the entry has neither hosts nor paths (the listener's default)."""
    hosts, paths = _values(where, entry, "hosts"), _values(where, entry, "paths")
    for host in hosts:
        if len(host) > ALB_CONDITION_VALUE_MAX_LENGTH or not _HOST.match(host) or not _HOST_END.search(host):
            raise _fail(
                f"{where}.hosts",
                host,
                f"allowed: a host name of at most {ALB_CONDITION_VALUE_MAX_LENGTH} characters A-Z, a-z, 0-9, '-' and '.', with the wildcards '*' and '?', "
                "at least one '.' and only letters after the last (an ALB host-header condition)",
                "write the name clients send in the Host header, e.g. 'api.example.com' or '*.example.com', without scheme, port or path",
            )
    for path in paths:
        if len(path) > ALB_CONDITION_VALUE_MAX_LENGTH or not _PATH.match(path) or path[0] not in "/*?":
            raise _fail(
                f"{where}.paths",
                path,
                f"allowed: a path pattern of at most {ALB_CONDITION_VALUE_MAX_LENGTH} characters from its leading '/': A-Z, a-z, 0-9, "
                "_ - . $ / ~ \" ' @ : + and the wildcards '*' and '?' (an ALB path-pattern condition, compared with the path only, not the query)",
                "write a pattern such as '/api/*'",
            )
    if len(hosts) + len(paths) > ALB_CONDITION_VALUES_PER_RULE:
        raise _fail(
            where,
            {"hosts": list(hosts), "paths": list(paths)},
            f"a listener rule takes at most {ALB_CONDITION_VALUES_PER_RULE} condition values, hosts and paths together",
            "merge values with the wildcards '*' and '?', or split the service's routes",
        )
    wildcards = sum(v.count("*") + v.count("?") for v in (*hosts, *paths))
    if wildcards > ALB_WILDCARDS_PER_RULE:
        raise _fail(
            where,
            {"hosts": list(hosts), "paths": list(paths)},
            f"a listener rule takes at most {ALB_WILDCARDS_PER_RULE} wildcards ('*' and '?'), hosts and paths together, and these have {wildcards}",
            "use fewer wildcards, e.g. one '/api/*' rather than several patterns under it",
        )
    return Routing(hosts=hosts, paths=paths) if hosts or paths else None


def _priority(where: str, entry: Mapping[str, Any], index: int, routing: Routing | None) -> int | None:
    value = entry.get("priority")
    if routing is None:
        if value is not None:
            raise _fail(
                f"{where}.priority",
                value,
                "a service without hosts and paths takes the listener's default action, which has no priority (it comes after every rule)",
                "remove priority, or give the service hosts or paths",
            )
        return None
    if value is None:
        return PRIORITY_STEP * (index + 1)
    number = value if isinstance(value, int) and not isinstance(value, bool) else int(value) if isinstance(value, str) and value.strip().isdigit() else None
    if number is None or not MIN_PRIORITY <= number <= MAX_PRIORITY:
        raise _fail(
            f"{where}.priority",
            value,
            f"allowed: a whole number from {MIN_PRIORITY} to {MAX_PRIORITY} (the listener evaluates rules from the lowest; "
            f"{MIN_PRIORITY - 1} and {ALB_MAX_RULE_PRIORITY} are a traffic-shifting default service's)",
            f"set {where}.priority between {MIN_PRIORITY} and {MAX_PRIORITY}, or remove it (default {PRIORITY_STEP} x the entry's position, from 1)",
        )
    return number


def _entry_settings(
    where: str, entry: Mapping[str, Any], name: str, raw: Mapping[str, Any], stack: Settings | None, known: Sequence[str], parse: ParseOne
) -> tuple[Settings | None, list[str]]:
    """The service's whole settings: the stack's raw config with the entry's per-service keys over it. Its problems that
    are the stack's own too (`known`), for a key the entry does not set, are the stack's: reported once, unprefixed."""
    merged = {**raw, **{k: v for k, v in entry.items() if k in PER_SERVICE_KEYS}, "serviceName": name}
    try:
        settings = parse(merged)
    except SettingsError as error:
        own = [m for m in error.problems if not (m in known and m.split(":", 1)[0] not in entry)]
        # A key of the entry is removed from the entry, not with `pulumi config rm`.
        return None, [f"{where}.{_CONFIG_RM.sub(' from the entry', m) if m.split(':', 1)[0] in entry else m}" for m in own]
    if stack is not None:
        # The source is the stack's (one repository, one branch, one connection); a service filters it by its own paths.
        settings = replace(settings, source=replace(stack.source, file_paths=settings.source.file_paths))
    return settings, []


def parse_services(entries: Sequence[Any], raw: Mapping[str, Any], stack: Settings | None, known: Sequence[str], parse: ParseOne) -> tuple[tuple[ServiceSettings, ...], list[str]]:
    """The services of `entries` (the `services` list), and every problem they have. `raw`: the stack's raw config
    without `services`; `stack`: its settings (None when they have problems, `known`); `parse`: the stack's parse."""
    problems = _stack_problems(raw, len(entries))
    services: list[ServiceSettings] = []
    named: dict[str, int] = {}
    routes: dict[tuple[frozenset[str], frozenset[str]], int] = {}
    priorities: dict[int, tuple[int, bool]] = {}  # priority: (entry, whether by default)
    defaults: list[int] = []
    for index, entry in enumerate(entries):
        where = f"services[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(
                f"{where}: {_shown(entry)} is not valid; allowed: a mapping of a name and the service's own keys. Fix: write the entry as `- name: api` "
                "with its keys indented under the name"
            )
            continue
        problems += _entry_keys(where, entry)
        name = None
        if "name" not in entry:
            problems.append(
                f"{where}: has no name; every service needs one ({KEYS['serviceName'].shape}), which prefixes its resources' names. Fix: add `name: <name>` to the entry"
            )
        else:
            try:
                name = checked_name(entry["name"], f"{where}.name")
            except SettingsError as problem:
                problems.append(str(problem))
        if name is not None and name in named:
            problems.append(
                f"{where}.name: {name!r} is not valid; services[{named[name]}] is named so too, and each service's name prefixes its own resources' names. Fix: rename one of them"
            )
        elif name is not None:
            named[name] = index
        try:
            routing = _routing(where, entry)
            priority = _priority(where, entry, index, routing)
        except SettingsError as problem:
            problems.append(str(problem))
            routing, priority = None, None
        else:
            if routing is None:
                defaults.append(index)
            else:
                route = (frozenset(h.lower() for h in routing.hosts), frozenset(routing.paths))  # hosts compare case-insensitively
                if route in routes:
                    problems.append(
                        f"{where}: hosts {list(routing.hosts)} and paths {list(routing.paths)} are not valid; services[{routes[route]}] has the same routing, "
                        "so the load balancer would send every such request to the rule of lower priority and never to the other. Fix: give each "
                        "service its own hosts or paths"
                    )
                routes.setdefault(route, index)
            if priority is not None and priority in priorities:
                other, by_default = priorities[priority]
                origin = f"services[{other}]'s{f' by default ({PRIORITY_STEP} x its position, from 1)' if by_default else ''}"
                problems.append(
                    f"{where}.priority: {priority}{'' if 'priority' in entry else ' (by default)'} is not valid; it is {origin} too, and each listener rule "
                    f"needs a priority of its own. Fix: set {where}.priority to an unused value"
                )
            elif priority is not None:
                priorities[priority] = (index, "priority" not in entry)
        settings, own = _entry_settings(where, entry, name or KEYS["serviceName"].default, raw, stack, known, parse)
        problems += own
        if name is not None and settings is not None:
            services.append(ServiceSettings(name=name, settings=settings, routing=routing, priority=priority))
    if len(defaults) > 1:
        listed = " and ".join(f"services[{i}]" for i in defaults)
        problems.append(
            f"services: {listed} have neither hosts nor paths, and only one service can take the listener's default (the requests no rule "
            "matches). Fix: give all but one of them hosts or paths"
        )
    if stack is not None and not problems:
        problem = _test_listener_problem(raw, stack, services)
        problems += [problem] if problem else []
    return tuple(services), problems
