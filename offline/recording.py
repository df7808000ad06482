"""What the recording mock monitor keeps of each registration: the resource as the engine would see it.

offline/mocks.py evaluates the program against `RecordingMonitor`; tests and the offline plan read the
`Resource` records (inputs as plain JSON-like data, options, the URN the real engine would assign).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Resource:
    """One registered resource: what the program asked the engine for."""

    type: str
    name: str
    urn: str
    """The URN the real engine would assign (full parent type chain)."""
    parent_urn: str | None
    custom: bool
    inputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    ignore_changes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)
    ref: str = ""
    """The mock monitor's URN for this resource: what other resources' parent_urn and depends_on contain."""
    id: str = ""
    """The physical id the mock provider answered (what `resource.id` resolves to)."""
    aliases: tuple[str, ...] = ()
    """URNs this resource was known by before (its own `aliases` option), as the engine computes them."""
    delete_before_replace: bool = False
    replace_on_changes: tuple[str, ...] = ()
    """Inputs whose change makes the engine replace the resource (its `replace_on_changes` option)."""
    secret_inputs: tuple[str, ...] = ()
    """Top-level input names whose value is (or holds) a secret; `inputs` shows them unwrapped."""
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per top-level input, the mock monitor's URNs of the resources its value came from (what the
    engine hands a policy pack as property dependencies); inputs from no resource are left out."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """The `custom_timeouts` option: operation (create, update, delete) -> duration as given ("26m");
    an operation left out waits as long as the provider's default."""


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, plus a record of every registration's options and real URN."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.records: dict[str, Resource] = {}
        self._qualified: dict[str, str] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        parent_type = self._qualified.get(request.parent)
        qualified = f"{parent_type}${request.type}" if parent_type else request.type
        self._qualified[response.urn] = qualified
        registration = self.resources[response.urn]
        raw_inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
        self.records[response.urn] = Resource(
            type=request.type,
            name=request.name,
            urn=f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{qualified}::{request.name}",
            parent_urn=request.parent or None,
            custom=bool(request.custom),
            inputs=_plain(raw_inputs),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            ignore_changes=tuple(request.ignoreChanges),
            depends_on=tuple(request.dependencies),
            outputs=_plain(registration.state or {}),
            ref=response.urn,
            id=response.id,
            aliases=tuple(_alias_urns(request, self._qualified.get(request.parent))),
            delete_before_replace=bool(request.deleteBeforeReplace),
            replace_on_changes=tuple(request.replaceOnChanges),
            secret_inputs=tuple(sorted(k for k, v in raw_inputs.items() if _holds_secret(v))),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items() if v.urns},
            custom_timeouts=_custom_timeouts(request),
        )
        return response


def _custom_timeouts(request) -> dict[str, str]:
    if not request.HasField("customTimeouts"):
        return {}
    timeouts = request.customTimeouts
    return {operation: getattr(timeouts, operation) for operation in ("create", "update", "delete") if getattr(timeouts, operation)}


def _alias_urns(request, parent_qualified: str | None) -> list[str]:
    """The previous URNs an `aliases` option names (alias specs: another parent, name or type).

    `parent_qualified` is the current parent's type chain: a spec that names no parent keeps it."""
    urns = []
    for alias in request.aliases:
        if alias.urn:
            urns.append(alias.urn)
            continue
        spec = alias.spec
        name = spec.name or request.name
        type_ = spec.type or request.type
        stack = spec.stack or pulumi.get_stack()
        project = spec.project or pulumi.get_project()
        if spec.parentUrn:
            # A parent URN is urn:pulumi:<stack>::<project>::<qualified type>::<name>.
            qualified = f"{spec.parentUrn.split('::')[2]}${type_}"
        elif spec.noParent or not parent_qualified:
            qualified = type_
        else:
            qualified = f"{parent_qualified}${type_}"
        urns.append(f"urn:pulumi:{stack}::{project}::{qualified}::{name}")
    return urns


_SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(_SECRET_SIG[0]) == _SECRET_SIG[1] or any(_holds_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_secret(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    """Deserialised properties as plain JSON-like data (secrets unwrapped; assets and archives as what
    identifies their content: a file's path in the project and its SHA-256, which is machine-independent)."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: _plain(asset) for name, asset in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset):
        path = Path(value.path)
        shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()
        return {"file": shown, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if isinstance(value, dict):
        if value.get(_SECRET_SIG[0]) == _SECRET_SIG[1]:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
