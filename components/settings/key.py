"""One config key: what it is, its default and what it accepts (`Key`); the table of keys is keys.py."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum
from typing import Any

from components.settings.enums import DeployTargetKind

ALL_TARGETS = frozenset(DeployTargetKind)


@dataclass(frozen=True)
class Key:
    """One config key: its Pulumi type, default, description, which deploy targets use it, and what it accepts.

    What a key accepts is declared here once: validation reads it (`_in_range`, `_enum`, `_matching`) and
    `full_description` renders it into every place the key is documented, so `description` never repeats it.
    """

    name: str
    type: str
    """string | integer | boolean | array (Pulumi config types), number: a decimal such as 10.5, which
    Pulumi.yaml declares a string (`pulumi_type`) since Pulumi config has no decimal type, or objects: a list of
    mappings (structured config), which Pulumi.yaml does not declare (`declared`)."""
    default: Any
    description: str
    """What the key does, without what it accepts (that is rendered from the fields below)."""
    targets: frozenset[DeployTargetKind] = ALL_TARGETS
    """The deploy targets that read the key; setting it on another target is an error. Omitted: every target."""
    _: KW_ONLY
    minimum: int | float | None = None
    """Integer and number keys: the smallest value accepted. Omitted: no lower bound."""
    maximum: int | float | None = None
    """Integer and number keys: the largest value accepted. Omitted: no upper bound."""
    step: float | None = None
    """Number keys: a value must be a whole multiple of it (0.1: one decimal). Omitted: any value in range."""
    allowed: type[Enum] | tuple[Any, ...] | None = None
    """The only values accepted: an Enum (its members' values) or a tuple. Omitted: not a closed set."""
    pattern: re.Pattern[str] | None = None
    """String keys: a value must match it. Omitted: the key's own rule checks the value."""
    shape: str = ""
    """With `pattern`: what a matching value looks like, in words. Omitted: the rendered description names no shape."""
    prefix_lengths: tuple[int, int] | None = None
    """CIDR keys: the shortest and longest prefix length accepted. Omitted: any."""

    @property
    def allowed_values(self) -> tuple[Any, ...]:
        if isinstance(self.allowed, tuple):
            return self.allowed
        if self.allowed is not None:
            return tuple(member.value for member in self.allowed)
        return ()

    @property
    def pulumi_type(self) -> str:
        """The type Pulumi.yaml declares: Pulumi config types are string, integer, boolean and array
        (https://github.com/pulumi/pulumi/blob/master/sdk/go/common/workspace/project.json, simpleConfigType),
        so a number key is a string the settings read as a decimal, and a list of mappings an array (undeclared, `declared`)."""
        return {"number": "string", "objects": "array"}.get(self.type, self.type)

    @property
    def declared(self) -> bool:
        """Pulumi.yaml's `config:` block declares the key. Not a list of mappings: the project schema's config types are
        string, integer, boolean and array, whose items are of those types too
        (https://github.com/pulumi/pulumi/blob/master/sdk/go/common/workspace/project.json, configItemsType), and a CLI
        refuses a stack value that does not match its declaration; an undeclared key of the project is passed as set."""
        return self.type != "objects"

    @property
    def pulumi_default(self) -> Any:
        """The default as Pulumi.yaml declares it (of `pulumi_type`)."""
        return _number(self.default) if self.type == "number" else self.default

    @property
    def allowed_text(self) -> str:
        """What the key accepts, in words, or "" when its description and own rule say it."""
        if self.minimum is not None and self.maximum is not None:
            steps = f" in steps of {_number(self.step)}" if self.step is not None else ""
            return f"{_number(self.minimum)} to {_number(self.maximum)}{steps}"
        if self.minimum is not None:
            return f"at least {self.minimum}"
        if self.maximum is not None:
            return f"at most {self.maximum}"
        if self.allowed_values:
            return _either(self.allowed_values)
        if self.prefix_lengths is not None:
            return f"a /{self.prefix_lengths[0]} to /{self.prefix_lengths[1]} network"
        return self.shape

    @property
    def full_description(self) -> str:
        """The description as documented (Pulumi.yaml, README, docs/config.md): what the key does and accepts."""
        allowed = self.allowed_text
        return f"{self.description} Allowed: {allowed}." if allowed else self.description


def _number(value: float) -> str:
    """A bound or default as people write it: 100 rather than 100.0, 0.1 as 0.1."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _either(values: Sequence[Any]) -> str:
    """'a', 'b' or 'c' (strings quoted, numbers not)."""
    shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _keys(*keys: Key) -> dict[str, Key]:
    return {k.name: k for k in keys}
