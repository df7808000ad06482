"""Stack files read the way the Pulumi CLI reads them: YAML 1.2 core schema.

PyYAML implements YAML 1.1, where `yes`, `on`, `off` and `no` are booleans and `1:30` is a number;
the CLI's YAML 1.2 parser reads all of them as strings. Reading `production: yes` as true would make
the offline checks accept a value the real program rejects, so stack files and snippets are read
with YAML 1.2's core schema here: only true/false are booleans, only decimal, 0o and 0x are integers.
https://yaml.org/spec/1.2.2/#1032-tag-resolution
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.settings import KEYS, SettingsError, parse_settings

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "container-cicd"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"


class CoreSchemaLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars."""


CoreSchemaLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (BOOL, INT, FLOAT)] for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CoreSchemaLoader.add_implicit_resolver(BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
CoreSchemaLoader.add_implicit_resolver(INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
CoreSchemaLoader.add_implicit_resolver(
    FLOAT,
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # "010" is ten in YAML 1.2, not eight


CoreSchemaLoader.add_constructor(INT, _construct_int)


def load(text: str) -> Any:
    """`text` as the CLI reads it (YAML 1.2): a copy of what the text parses to, parsed once per process (the
    project file, which the tools read for its name, takes 20 ms to parse)."""
    return copy.deepcopy(_parsed(text))


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Any:
    return yaml.load(text, Loader=CoreSchemaLoader)  # noqa: S506 - a SafeLoader subclass


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file config as the CLI hands it to a program: strings, JSON for structured values."""
    out = {}
    for key, value in config.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
            out[key] = str(int(value))  # as Go's JSON encoding writes a whole float64: 2.0 -> "2"
        elif isinstance(value, (int, float)):
            out[key] = str(value)
        elif value is None:
            out[key] = ""  # `key:` with no value: the CLI passes "" (and warns)
        else:
            out[key] = json.dumps(value)
    return out


@functools.lru_cache(maxsize=64)
def _file_config(text: str) -> dict[str, Any]:
    """A stack file's config, read as the CLI reads it (YAML 1.2): `production: yes` is the string 'yes', which
    the settings refuse. Parsed once per text (callers get a copy)."""
    document = load(text)
    config = document.get("config") if isinstance(document, dict) else None
    config = dict(config) if isinstance(config, dict) else {}  # any other shape: file_problems says what is wrong
    # The CLI reads a key without a namespace as the project's (file_problems refuses it, so the file has one spelling).
    return {(key if ":" in key else f"{PROJECT}:{key}"): value for key, value in config.items() if ":" in key or f"{PROJECT}:{key}" not in config}


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None, root: Path = ROOT) -> dict[str, Any]:
    """The config of Pulumi.<stack>.yaml, with `overrides` (keys with or without the project namespace)."""
    path = root / f"Pulumi.{stack}.yaml"
    config = copy.deepcopy(_file_config(path.read_text())) if path.exists() else {}
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    return config


def settings_problems(stack: str, config: Mapping[str, Any], organization: str) -> list[str]:
    """The settings' problems with a stack's config, as the program's `load_settings` reads it, without running it."""
    strings = config_strings(config)
    raw = {key.removeprefix(f"{PROJECT}:"): value for key, value in strings.items() if key.startswith(f"{PROJECT}:")}
    others = [key for key in strings if not key.startswith(f"{PROJECT}:")]
    try:
        parse_settings(raw, PROJECT, stack, strings.get("aws:region") or None, organization, others)
    except SettingsError as error:
        return list(error.problems)
    return []


# The sections of a stack file the CLI reads; it ignores any other top-level key (ProjectStack,
# https://github.com/pulumi/pulumi/blob/master/sdk/go/common/workspace/project.go). It reads the file with
# gopkg.in/yaml.v3, which refuses a repeated key, and namespaces a key without one with the project's name
# (https://github.com/pulumi/pulumi/blob/master/sdk/go/common/workspace/loaders.go).
SECTIONS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
_NUMBER_TAGS = (INT, FLOAT)


def file_problems(path: Path) -> list[str]:
    """What is wrong with a stack file that only its text shows, each problem once, with the value as typed.

    The program sees its config as the CLI hands it over (strings, after YAML has read them), so these checks
    belong to the offline plan: a key the CLI refuses (repeated) or ignores (outside `config:`), a key without
    its namespace, and an unquoted number where a string is meant, which YAML turns into a number before the
    program runs (an unquoted 1.30 arrives as '1.3', 012345678901 as 12345678901)."""
    name = path.name
    try:
        root = yaml.compose(path.read_text(), Loader=CoreSchemaLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return [f"{name}: is not valid YAML{where} ({getattr(error, 'problem', None) or error}), and the Pulumi CLI refuses it too. Fix: correct the file's syntax"]
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        return [f"{name}: is not a mapping; a stack file holds `config:` and its keys. Fix: start the file with `config:`"]
    problems = _repeated(root, name)
    for key_node, value in root.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key == "config" and isinstance(value, yaml.MappingNode):
            problems += _repeated(value, name) + [p for k, v in value.value for p in _config_entry(str(k.value), k.start_mark.line + 1, v)]
        elif key == "config" and value.tag != "tag:yaml.org,2002:null":
            problems.append(f"config: (line {line} of {name}) is {_typed(value)}, not a mapping of keys to values. Fix: write one `key: value` per line under it")
        elif key not in SECTIONS:
            problems.append(_outside_config(key, line, value, name))
    return problems


def _repeated(mapping: yaml.MappingNode, name: str) -> list[str]:
    lines: dict[str, list[int]] = {}
    for key_node, _ in mapping.value:
        lines.setdefault(str(key_node.value), []).append(key_node.start_mark.line + 1)
    return [
        f"{key}: is set {len(at)} times in {name} (lines {', '.join(map(str, at))}), and the Pulumi CLI refuses a file with a repeated key "
        f"(mapping key already defined). Fix: keep one line for {key}"
        for key, at in lines.items()
        if len(at) > 1
    ]


def _typed(node: yaml.Node) -> str:
    """A value as the file has it (a block on one line)."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    start, end = node.start_mark, node.end_mark
    return " ".join(str(start.buffer)[start.index : end.index].split())


def _outside_config(key: str, line: int, value: yaml.Node, name: str) -> str:
    short = key.removeprefix(f"{PROJECT}:")
    if ":" in key or short in KEYS:
        full = key if ":" in key else f"{PROJECT}:{key}"
        return (
            f"{key}: is outside `config:` (line {line} of {name}), where the Pulumi CLI ignores it: the stack would not get {_typed(value)}. "
            f"Fix: indent it under `config:` as {full}"
        )
    return (
        f"{key}: (line {line} of {name}) is not a section of a stack file; the Pulumi CLI reads {', '.join(SECTIONS)} and ignores the rest. "
        "Fix: remove it, or move its keys under `config:`"
    )


def _config_entry(key: str, line: int, value: yaml.Node) -> list[str]:
    if ":" not in key:
        if key in KEYS:
            return [
                f"{key}: has no namespace (line {line}); the Pulumi CLI reads it as {PROJECT}:{key}, but `pulumi config set` writes keys with "
                f"their namespace, and a file that spells a key both ways sets it twice (the CLI keeps either). Fix: write it as {PROJECT}:{key}"
            ]
        close = difflib.get_close_matches(key, [*KEYS, "region"], n=1, cutoff=0.6)
        hint = "aws:region" if close == ["region"] else f"{PROJECT}:{close[0]}" if close else "a key of docs/config.md with its namespace"
        return [f"{key}: has no namespace (line {line}), and the Pulumi CLI reads it as {PROJECT}:{key}, which is not a key of this project. Fix: write it as {hint}"]
    namespace, _, short = key.partition(":")
    spec = KEYS.get(short) if namespace == PROJECT else None
    if spec is None:
        return []
    if spec.type == "string" and isinstance(value, yaml.ScalarNode) and value.style is None and value.tag in _NUMBER_TAGS:
        received = config_strings({key: load(value.value)})[key]
        return [f'{key}: {value.value} (as typed, unquoted) is a number to YAML, so the program receives {received!r}; {short} is a string. Fix: quote it: {key}: "{value.value}"']
    if spec.type == "array" and isinstance(value, yaml.SequenceNode):
        unquoted = [isinstance(i, yaml.ScalarNode) and i.style is None and i.tag in _NUMBER_TAGS for i in value.value]
        numbers = [item.value for item, number in zip(value.value, unquoted, strict=True) if number]
        if numbers:
            received = ", ".join(config_strings({key: load(n)})[key] for n in numbers)
            quoted = ", ".join(json.dumps(i.value) if isinstance(i, yaml.ScalarNode) else _typed(i) for i in value.value)
            return [
                f"{key}: {', '.join(numbers)} (as typed, unquoted) {'is a number' if len(numbers) == 1 else 'are numbers'} to YAML, so the program "
                f"receives {received}; the items of {short} are strings. Fix: quote each item: {key}: [{quoted}]"
            ]
    return []
