"""The numbers README.md and docs/*.md state, and which of them the code or a test vouches for.

A number is found by its kind: money (`$0.10`), a duration (`15 minutes`, `30-day`, `10 s`), a version
or a decimal (`3.11`, `1.35`, `0.5`), a percent (`12 %`), or a count (`33 mandatory rules`,
`at most 20`). Code (fenced blocks and `spans`), link targets, URLs, dates and the numbering of list
items are not scanned: they are commands and examples, which the doc-example tests run against the
settings. A number is checked when it is
- inside a generated block (`<!-- name:start -->` ... `<!-- name:end -->`) or an inline fact
  (`<!-- fact:name -->value<!-- /fact -->`, whose value FACTS computes and `python -m offline.docs`
  rewrites), or
- a value of a config key that its sentence (or table row) names in backticks: the key's default,
  bounds, allowed values, or a number of its documented description (which is rendered from the code).
Every other number needs an entry in tests/test_doc_numbers.py naming the test that proves it.
"""

from __future__ import annotations

import functools
import importlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pages(root: Path = ROOT) -> list[Path]:
    """The documents whose numbers are checked."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# The stacks whose cost the documents state (README.md's cost table, the cost facts).
COST_STACKS = ("dev", "prod")


@functools.cache
def cost_results() -> dict:
    """The shipped stacks evaluated under mocks, by name."""
    from offline.mocks import evaluate_stack

    return {stack: evaluate_stack(stack) for stack in COST_STACKS}


@functools.cache
def cost_estimates() -> dict:
    """offline/cost.py's estimate of each shipped stack, by name."""
    from offline import cost

    return {stack: cost.estimate(result) for stack, result in cost_results().items()}


# Inline facts: <!-- fact:name -->value<!-- /fact -->, where name is one of FACTS or a constant of the
# code, `package.module:NAME` (`components.network.vpc:AZ_COUNT`), optionally with a format after `|`
# (`offline.cost:EKS_CLUSTER_HOUR|.2f`).
FACT = re.compile(r"<!-- fact:([\w.:|-]+) -->(.*?)<!-- /fact -->", re.DOTALL)


def _policy_rules() -> str:
    from policy.rules import RULES

    return str(len(RULES))


def _python() -> str:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    return requires.removeprefix(">=")


def _pulumi_sdk() -> str:
    """The oldest Pulumi the program allows (requirements.txt `pulumi>=X.Y.0`): the CLI must be as new."""
    match = re.search(r"^pulumi>=(\d+\.\d+)\.0\b", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert match, "requirements.txt has no pulumi>=X.Y.0 line"
    return match.group(1)


def _eks_versions() -> str:
    from components.settings import EKS_KUBERNETES_VERSIONS

    return " or ".join(EKS_KUBERNETES_VERSIONS)


def _cost(stack: str) -> Callable[[], str]:
    def total() -> str:
        return f"{cost_estimates()[stack].total:.0f}"

    return total


def _waf(what: str) -> Callable[[], str]:
    """The production stack's WAF web ACL: its rules, or its monthly price (offline/cost.py's line)."""

    def value() -> str:
        line = next(x for x in cost_estimates()["prod"].lines if x.item.startswith("WAF web ACL ("))
        return re.findall(r"\((\d+) rules\)", line.item)[0] if what == "rules" else f"{line.monthly:.2f}"

    return value


def _note_price(prefix: str, nth: int = 0) -> Callable[[], str]:
    """The `nth` price a usage-billed note of offline/cost.py's production estimate states."""

    def value() -> str:
        note = next(n for n in cost_estimates()["prod"].notes if n.startswith(prefix))
        return re.findall(r"\$(\d+(?:\.\d+)?)", note)[nth]

    return value


def _prod_on_fargate(what: str) -> Callable[[], str]:
    """The production stack's pods (Pulumi.prod.yaml) as Fargate tasks of the same size, priced by
    offline/cost.py: the replicas, each one's vCPU and GiB, the price per hour and per month."""

    def value() -> str:
        from offline.cost import FARGATE, HOURS_PER_MONTH
        from offline.stackfile import stack_config

        config = stack_config("prod")
        replicas = int(config["container-cicd:desiredCount"])
        vcpu, gib = int(config["container-cicd:eksPodCpuMillicores"]) / 1000, int(config["container-cicd:eksPodMemoryMiB"]) / 1024
        per_vcpu, per_gb = FARGATE["X86_64"]
        hour = replicas * (vcpu * per_vcpu + gib * per_gb)
        values = {
            "replicas": str(replicas),
            "vcpu": f"{vcpu:g}",
            "gib": f"{gib:g}",
            "hour": f"{hour:.3f}",
            "month": f"{hour * HOURS_PER_MONTH:.0f}",
            "vcpu-hour": f"{per_vcpu:g}",
            "gb-hour": f"{per_gb:g}",
        }
        return values[what]

    return value


def _eks_cluster_month() -> str:
    from offline.cost import EKS_CLUSTER_HOUR, HOURS_PER_MONTH

    return f"{EKS_CLUSTER_HOUR * HOURS_PER_MONTH:.0f}"


def _smoke_test_attempts(n_paths: int) -> Callable[[], str]:
    def value() -> str:
        from components.deploy.ecs.progressive import smoke_test_attempts

        return str(smoke_test_attempts(n_paths))

    return value


def _fargate_memory(cpu: int) -> Callable[[], str]:
    """The task memory (MiB) Fargate pairs with `cpu` units, as `low-high`."""

    def value() -> str:
        from components.settings import FARGATE_CPU_MEMORY

        return f"{min(FARGATE_CPU_MEMORY[cpu])}-{max(FARGATE_CPU_MEMORY[cpu])}"

    return value


FACTS: dict[str, Callable[[], str]] = {
    "policy-rules": _policy_rules,
    "python": _python,
    "pulumi": _pulumi_sdk,
    "eks-versions": _eks_versions,
    "cost-dev": _cost("dev"),
    "cost-prod": _cost("prod"),
    "waf-rules": _waf("rules"),
    "waf-month": _waf("month"),
    "price-waf-requests": _note_price("WAF requests:"),
    "price-access-logs": _note_price("ALB access logs:"),
    # The smoke test's attempts for the health path alone, and with two more paths.
    "smoke-test-attempts-1": _smoke_test_attempts(1),
    "smoke-test-attempts-3": _smoke_test_attempts(3),
    "fargate-memory-256": _fargate_memory(256),
    "fargate-memory-512": _fargate_memory(512),
    "eks-cluster-month": _eks_cluster_month,
    **{f"prod-on-fargate-{what}": _prod_on_fargate(what) for what in ("replicas", "vcpu", "gib", "hour", "month", "vcpu-hour", "gb-hour")},
    "price-flow-logs": _note_price("VPC flow logs"),
    "price-logs-stored": _note_price("CloudWatch Logs:", 1),
}


def fact_value(name: str, facts: dict[str, Callable[[], str]] = FACTS) -> str:
    """The value of inline fact `name`: a FACTS entry, or a constant `package.module:NAME[|format]`."""
    if name in facts:
        return facts[name]()
    spec, _, fmt = name.partition("|")
    module, _, attr = spec.partition(":")
    if not attr:
        raise KeyError(f"inline fact {name!r} is neither one of offline/doc_numbers.py FACTS ({', '.join(facts)}) nor a constant 'package.module:NAME'")
    value = getattr(importlib.import_module(module), attr)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"inline fact {name!r}: {module}.{attr} is {type(value).__name__}, not a number or a string")
    return format(value, fmt) if fmt else (f"{value:g}" if isinstance(value, float) else str(value))


def render_facts(text: str, facts: dict[str, Callable[[], str]] = FACTS) -> str:
    """`text` with every inline fact's value computed again; an unknown fact is an error."""
    return FACT.sub(lambda m: f"<!-- fact:{m.group(1)} -->{fact_value(m.group(1), facts)}<!-- /fact -->", text)


# What is not prose: each is blanked (same length, newlines kept) before numbers are looked for.
GENERATED = re.compile(r"<!-- ([a-z-]+):start -->.*?<!-- \1:end -->", re.DOTALL)
NOT_PROSE = (
    GENERATED,
    FACT,
    re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE),
    re.compile(r"`(?:[^`\n]|\n(?!\n))*`"),
    re.compile(r"\]\([^)\s]*\)"),
    re.compile(r"https?://\S+"),
    re.compile(r"<!--.*?-->", re.DOTALL),
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{4}\b"),
    re.compile(r"^\s*(?:\d+\.|#+ \d+\.)\s", re.MULTILINE),
    # Steps, exit codes, ports, addresses and product names are names, not quantities.
    re.compile(r"\bRoute 53\b"),
    re.compile(r"\b(?:[Ss]tep|exit code|exits?|port) \d+\b"),
    re.compile(r"\b\d+\.\d+\.\d+\.\d+(?:/\d+)?"),
)

# Words after a number that make it no count: "exits 2 on", "port 80 to".
STOP = frozenset("a an and are as at before but by for from if in into is it its of on only or so than that the then to was when where which while with".split())
NUMBER = re.compile(r"(?<![\w.$/#:+-])(\$)?(\d+(?:,\d{3})*(?:\.\d+)*(?:[-–]\d+(?:\.\d+)*)?)")
UNIT = re.compile(r"\s?(?:-\s?)?(?:%|ms|s|seconds?|minutes?|min|hours?|h|days?|weeks?|months?|years?|GiB|GB|MiB|TB|vCPU)\b|\s?%")
WORD = re.compile(r"[\s-](?:[×x]\s)?([a-zA-Z][\w-]*)")
LIMIT = re.compile(r"(?:at most|at least|up to|more than|less than|default|defaults to|within|every|last|first|after|[×≈~])\s*$")


@dataclass(frozen=True)
class Number:
    page: str
    line: int
    value: str
    start: int
    """Offset in the page's text."""
    context: str
    """The page's text around the number, whitespace collapsed."""

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.value} in '{self.context}'"


def prose(text: str) -> str:
    """`text` with everything that is not prose blanked out, offsets unchanged."""
    for pattern in NOT_PROSE:
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    return text


def stated(page: str, text: str) -> list[Number]:
    """The numbers the prose of `text` states (see the module's docstring for what counts)."""
    flat = prose(text)
    found = []
    for m in NUMBER.finditer(flat):
        money, value = m.group(1), m.group(2).rstrip(",")
        after, before = flat[m.end() : m.end() + 20], flat[max(0, m.start() - 20) : m.start()]
        word = WORD.match(after)
        counted = (word is not None and word.group(1).lower() not in STOP) or re.match(r"\s(?:at most|at least|or more|or fewer)\b", after) is not None
        if not (money or "." in value or UNIT.match(after) or counted or LIMIT.search(before)):
            continue
        context = " ".join(text[max(0, m.start() - 40) : m.end() + 30].split())
        found.append(Number(page, text.count("\n", 0, m.start()) + 1, f"{money or ''}{value}", m.start(), context))
    return found


def _sentence(text: str, offset: int) -> str:
    """The sentence, table row or list item around `offset`."""
    line_start = text.rfind("\n", 0, offset) + 1
    if text.startswith("|", line_start):
        return text[line_start : text.find("\n", offset)]
    starts = [text.rfind(mark, 0, offset) for mark in (". ", ".\n", "\n\n", "\n- ", ": ")]
    ends = [i for i in (text.find(mark, offset) for mark in (". ", ".\n", "\n\n", "\n- ")) if i >= 0]
    return text[max(starts) + 1 : min(ends, default=len(text))]


def key_values(name: str) -> set[str]:
    """The numbers config key `name` vouches for: default, bounds, allowed values, and every number of its
    documented description (rendered from the code)."""
    from components.settings import KEYS

    key = KEYS[name]
    values = [key.pulumi_default, key.default, key.minimum, key.maximum, *key.allowed_values]
    numbers = {f"{v:g}" if isinstance(v, float) else str(v) for v in values if isinstance(v, int | float | str) and not isinstance(v, bool)}
    return numbers | set(re.findall(r"\d+(?:\.\d+)?", key.full_description))


def checked_by_key(text: str, number: Number) -> bool:
    """Whether a config key the number's sentence names in backticks vouches for the number."""
    from components.settings import KEYS

    spans = re.findall(r"`([^`\n]*)`", _sentence(text, number.start))
    names = [n for span in spans for n in re.findall(r"[A-Za-z][A-Za-z0-9]*", span) if n in KEYS]
    return any(number.value.removeprefix("$").replace(",", "") in key_values(n) for n in names)


def unchecked(page: str, text: str) -> list[Number]:
    """The numbers of `text` that neither a generated part nor a config key vouches for."""
    return [n for n in stated(page, text) if not checked_by_key(text, n)]
