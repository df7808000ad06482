"""Reading the raw config: each value parsed to its key's type, the table's defaults, and the checks
every key shares (range, allowed values, pattern), all failing with one message shape (`_fail`)."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from components.settings.keys import KEYS, _number


class SettingsError(ValueError):
    """A stack's configuration is invalid. The message says how to fix it; `problems` lists each problem's
    own message (one, or every problem of the config when several are reported at once)."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


def settings_error(problems: Sequence[str]) -> SettingsError:
    """One error for every problem: the problem itself, or a numbered list of them all."""
    if len(problems) == 1:
        return SettingsError(problems[0])
    listed = "\n".join(f"- {m}" for m in problems)
    return SettingsError(f"{len(problems)} problems in the stack's config:\n{listed}", problems)


def _shown(value: Any) -> str:
    """A value as the user typed it: strings quoted and unstripped, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _fail(key: str, value: Any, allowed: str, fix: str) -> SettingsError:
    return SettingsError(f"{key}: {_shown(value)} is not valid; {allowed}. Fix: {fix}")


class _Reader:
    """Typed access to the raw config strings, with the table's defaults."""

    def __init__(self, raw: Mapping[str, Any], shared: frozenset[str] = frozenset()):
        self.raw = raw
        self.shared = shared
        """Keys whose use is checked once for a stack of many services (services.py), not by each part that reads them:
        the test listener's keys, set at the top level, serve every service that shifts traffic. Empty: every key is
        checked where it is read."""

    def is_set(self, key: str) -> bool:
        """Set to something other than its default.

        The CLI passes Pulumi.yaml's defaults to the program as if they were set, so a key
        holding its default value counts as not set.
        """
        return key in self.raw and self.get(key) != _normalised_default(key)

    def get(self, key: str) -> Any:
        spec = KEYS[key]
        if key not in self.raw:
            # A copy as a tuple: the settings object must not share (or expose) the table's lists.
            return _normalised_default(key)
        value = self.raw[key]
        parse = _PARSERS[spec.type]
        return parse(key, value)


def _normalised_default(key: str) -> Any:
    default = KEYS[key].default
    return tuple(default) if isinstance(default, list) else default


def _parse_string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(key, value, "expected a string", f"quote the value of {key} in the stack file")
    # Not stripped: a value with stray spaces is refused by the key's own rule, and shown as typed.
    return value


def _parse_integer(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(key, value, "expected a whole number", f"set {key} to a number such as {KEYS[key].default}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise _fail(key, value, "expected a whole number", f"set {key} to a number such as {KEYS[key].default}") from None


def _parse_number(key: str, value: Any) -> float:
    """A decimal, typed (10.5) or as the CLI passes it ('10.5')."""
    example = _number(KEYS[key].default)
    if isinstance(value, bool):
        raise _fail(key, value, "expected a number", f"set {key} to a number such as {example}")
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
    except ValueError:
        raise _fail(key, value, "expected a number", f"set {key} to a number such as {example}") from None
    if not math.isfinite(number):
        raise _fail(key, value, "expected a number", f"set {key} to a number such as {example}")
    return number


def _parse_boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise _fail(key, value, "expected true or false", f"set {key} to true or false")


def _parse_array(key: str, value: Any) -> tuple[str, ...]:
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, list):
        raise _fail(key, value, "expected a list of strings", f'write {key} as a YAML list, e.g. ["a", "b"]')
    typed = [i for i in items if not isinstance(i, str)]
    if typed:
        # The CLI hands a stack file's list to the program as JSON: an unquoted 012345678901 arrives as the number
        # 12345678901 (YAML reads digits as a number; the leading zero is gone before the program runs).
        shown = ", ".join(json.dumps(i) for i in typed)
        raise _fail(
            key,
            items,
            f"expected a list of strings, and {shown} {'is not a string' if len(typed) == 1 else 'are not strings'} (YAML reads an unquoted "
            "number, true or false as that type, and drops a number's leading zeros)",
            f'quote each item in the stack file as you mean it, e.g. {key}: ["{typed[0]}"]',
        )
    return tuple(items)


def _parse_objects(key: str, value: Any) -> tuple[Any, ...]:
    """A list of mappings (a structured value, which the CLI hands over as JSON); each item is checked by its key's part."""
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value) if value.strip() else []
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, list):
        raise _fail(key, value, "expected a list of entries, each a mapping such as {name: api}", f"write {key} as a YAML list under the key, one `- name: ...` entry each")
    return tuple(items)


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "string": _parse_string,
    "integer": _parse_integer,
    "number": _parse_number,
    "boolean": _parse_boolean,
    "array": _parse_array,
    "objects": _parse_objects,
}


# Other names users type for an allowed value (a near spelling would suggest the wrong one: amd64 -> arm64).
_SYNONYMS = {"amd64": "x86_64", "x86-64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "fargate": "ecs", "kubernetes": "eks"}


def _enum(reader: _Reader, key: str) -> Any:
    """The member of the key's `allowed` Enum that the value names."""
    spec = KEYS[key]
    enum = spec.allowed
    assert isinstance(enum, type) and issubclass(enum, Enum), f"{key}: allowed is not an Enum"
    value = reader.get(key)
    try:
        return enum(value)
    except ValueError:
        options = [str(o) for o in spec.allowed_values]
        text = str(value).strip().lower()
        synonym = _SYNONYMS.get(text)
        close = [o for o in options if o.lower() == text] or ([synonym] if synonym in options else []) or difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingsError(f"{key}: {_shown(value)} is not supported; use {spec.allowed_text}{hint}") from None


def _in_range(reader: _Reader, key: str) -> Any:
    """The value (an int, or a float for number keys), within the key's `minimum` and `maximum` and on
    its `step`."""
    spec = KEYS[key]
    low, high = spec.minimum, spec.maximum
    assert low is not None and high is not None, f"{key}: no minimum and maximum in KEYS"
    value = reader.get(key)
    if not low <= value <= high:
        raise _fail(key, value, f"allowed: {spec.allowed_text}", f"set {key} between {_number(low)} and {_number(high)}")
    if spec.step is not None:
        # Decimal arithmetic on the shortest repr: 0.3 is a multiple of 0.1, although 0.3 % 0.1 != 0 in floats.
        step = Decimal(repr(spec.step))
        if Decimal(repr(value)) % step != 0:
            nearest = (Decimal(repr(value)) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
            raise _fail(key, value, f"allowed: {spec.allowed_text}", f"set {key} to a multiple of {_number(spec.step)}, e.g. {_number(float(nearest))}")
    return value


def _matching(reader: _Reader, key: str) -> str:
    """The value, when it matches the key's `pattern`."""
    spec = KEYS[key]
    assert spec.pattern is not None, f"{key}: no pattern in KEYS"
    value = reader.get(key)
    if not spec.pattern.match(value):
        raise _fail(key, value, f"allowed: {spec.shape}", f"set {key} to {spec.shape}")
    return value


def _duplicates(values: Sequence[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})
