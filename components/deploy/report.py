"""What a deploy target shows in the offline plan (offline/plan): its rows in plan.md and its blocks in the
architecture diagram.

Each target module declares one `TargetReport`; the plan asks the stack's target for it instead of
knowing ECS or EKS. The report reads recorded resources (type, name, inputs) and the settings parsed
from the recorded config, never live ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from components.settings import Settings


class Recorded(Protocol):
    """One resource as the offline evaluation recorded it."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> dict[str, Any]: ...


class PlanView(Protocol):
    """What a target's report may ask about the evaluated stack."""

    def of_type(self, type_: str) -> Sequence[Recorded]:
        """Resources of one type, sorted by URN."""
        ...

    def image_record(self) -> Recorded | None:
        """The image record's SSM parameter, when the stack has one."""
        ...

    def buildspec(self, project: Recorded) -> dict:
        """A CodeBuild project's inline buildspec as data ({} when none)."""
        ...

    def settings(self) -> Settings:
        """The stack's settings, parsed from the config it was evaluated with."""
        ...

    @property
    def as_of(self) -> date:
        """The date the plan is made on (calendars, such as EKS's support dates, are read against it)."""
        ...


@dataclass(frozen=True)
class ArchitectureEdge:
    tail: str
    """Resource type the edge starts at; drawn only when both ends are in the stack."""
    head: str
    label: str
    dashed: bool = False
    """A control path rather than traffic; dashed edges are drawn after the solid ones."""


def _nothing(_view: PlanView) -> list[str]:
    return []


def _no_rows(_resource: Recorded, _view: PlanView) -> list[str]:
    return []


def _no_note(_key: str, _value: Any, _settings: Settings) -> str:
    return ""


@dataclass(frozen=True)
class TargetReport:
    empty_key_notes: Mapping[str, str] = field(default_factory=dict)
    """What an empty value of one of the target's config keys means (the configuration table shows it).
    Omitted: none."""
    resolved_note: Callable[[str, Any, Settings], str] = _no_note
    """What a key's value turns into on this target when it defers to something else (an `auto`, a
    default that depends on another key), as "→ ..." for the configuration table; "" for none. Omitted:
    no such notes."""
    key_settings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Inputs worth reading per resource type of the target (dotted paths). Omitted: only the shared
    types' settings (load balancer, CodeBuild project) are shown."""
    resource_rows: Callable[[Recorded, PlanView], list[str]] = _no_rows
    """Indented rows under one of the target's resources in the deploy section. Omitted: none."""
    deploy_rows: Callable[[PlanView], list[str]] = _nothing
    """Rows after the target's resources in the deploy section (e.g. the workload it applies). Omitted: none."""
    deploy_time_rows: Callable[[PlanView], list[str]] = _nothing
    """What the machine running `pulumi up` needs for this target. Omitted: nothing beyond credentials."""
    human_rows: Callable[[PlanView], list[str]] = _nothing
    """What a person must do for this target before delivery works. Omitted: nothing."""
    architecture_nodes: tuple[tuple[str, str], ...] = ()
    """(resource type, label) of the target's building blocks, in drawing order. Omitted: none drawn."""
    architecture_edges: tuple[ArchitectureEdge, ...] = ()
    """Edges between the target's blocks and the shared ones. Omitted: none."""


# Formatting shared by the plan's sections and the targets' rows.


def get(value: Any, path: str) -> Any:
    """The value at a dotted path of nested dicts, or None."""
    for step in path.split("."):
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def show(value: Any) -> str:
    """A value as Markdown code: JSON for structures, `""` for the empty string."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list, tuple)):
        return "`" + json.dumps(value, sort_keys=True, separators=(", ", ": ")) + "`"
    if value == "":
        return '`""`'
    return f"`{value}`"
