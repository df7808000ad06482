"""Strict request validation against botocore's service models, for the requests the tests build.

botocore's own `ParamValidator` checks types, required and unknown members, and `min` (string and list
length, number value) -- but not `max`, not `enum`, not `pattern`, and not a map's `min`: values AWS rejects
although their shape is right (a 2-condition `beforeEntry`, an unknown `networkMode`, a 60-character
rule configuration key) pass it. `validate` adds exactly those checks, through structures, lists and maps,
and names each offence by its path (`pipeline.stages[2].beforeEntry.conditions`) the way botocore does.

    assert_valid("codepipeline", "CreatePipeline", request)
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.validate import ParamValidator


@functools.cache
def session() -> botocore.session.Session:
    """One botocore session for every test: it loads each service model and the endpoint data once (a new
    session loads them again, about 50 ms a client). Clients made from it share nothing else: each test
    makes its own, with its own Stubber."""
    return botocore.session.get_session()


@functools.cache
def operation_model(service: str, operation: str) -> OperationModel:
    return session().get_service_model(service).operation_model(operation)


@functools.cache
def _pattern(pattern: str) -> re.Pattern | None:
    # Model patterns are Java regular expressions matched against the whole value; the few that Python
    # cannot compile (\p{...} classes) are skipped rather than guessed at.
    try:
        return re.compile(pattern)
    except re.error:
        return None


def validate(service: str, operation: str, params: dict) -> list[str]:
    """Every way `params` breaks the operation's input shape, one message each; [] when AWS would accept it."""
    shape = operation_model(service, operation).input_shape
    report = ParamValidator().validate(params, shape)
    errors = report.generate_report().splitlines() if report.has_errors() else []
    _limits(params, shape, "", errors)
    return errors


def assert_valid(service: str, operation: str, params: dict) -> None:
    errors = validate(service, operation, params)
    assert not errors, f"{service} {operation} would be rejected:\n" + "\n".join(errors)


def _limits(value: Any, shape: Shape, path: str, errors: list[str]) -> None:
    """enum, max, pattern and map min: what ParamValidator leaves out. Wrong types are its to report."""
    name = path.lstrip(".") or "input"
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        if isinstance(value, dict):
            for key, member in value.items():
                if key in shape.members:
                    _limits(member, shape.members[key], f"{path}.{key}", errors)
    elif isinstance(shape, ListShape):
        if isinstance(value, list | tuple):
            _length(name, len(value), meta, errors, check_min=False)
            for i, item in enumerate(value):
                _limits(item, shape.member, f"{path}[{i}]", errors)
    elif isinstance(shape, MapShape):
        if isinstance(value, dict):
            _length(name, len(value), meta, errors, check_min=True)
            for key, item in value.items():
                _limits(key, shape.key, f"{path} (key: {key})", errors)
                _limits(item, shape.value, f"{path}.{key}", errors)
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"Invalid value for parameter {name}, value: {value!r}, valid values: {', '.join(shape.enum)}")
        # ParamValidator skips the members of a list of unconstrained strings: their min is checked here.
        _length(name, len(value), meta, errors, check_min=True)
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            errors.append(f"Invalid value for parameter {name}, value: {value!r}, valid pattern: {meta['pattern']}")
    elif shape.type_name in ("integer", "long", "double", "float") and isinstance(value, int | float) and not isinstance(value, bool):
        if "max" in meta and value > meta["max"]:
            errors.append(f"Invalid value for parameter {name}, value: {value}, valid max value: {meta['max']}")


def _length(name: str, length: int, meta: dict, errors: list[str], check_min: bool) -> None:
    if check_min and "min" in meta and length < meta["min"]:
        message = f"Invalid length for parameter {name}, value: {length}, valid min length: {meta['min']}"
        if message not in errors:
            errors.append(message)
    if "max" in meta and length > meta["max"]:
        errors.append(f"Invalid length for parameter {name}, value: {length}, valid max length: {meta['max']}")
