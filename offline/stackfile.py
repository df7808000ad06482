"""Stack files read the way the Pulumi CLI reads them: YAML 1.2 core schema.

PyYAML implements YAML 1.1, where `yes`, `on`, `off` and `no` are booleans and `1:30` is a number;
the CLI's YAML 1.2 parser reads all of them as strings. Reading `production: yes` as true would make
the offline checks accept a value the real program rejects, so stack files and snippets are read
with YAML 1.2's core schema here: only true/false are booleans, only decimal, 0o and 0x are integers.
https://yaml.org/spec/1.2.2/#1032-tag-resolution
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

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
    return yaml.load(text, Loader=CoreSchemaLoader)  # noqa: S506 - a SafeLoader subclass


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file config as the CLI hands it to a program: strings, JSON for structured values."""
    out = {}
    for key, value in config.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            out[key] = str(value)
        else:
            out[key] = json.dumps(value)
    return out


@functools.lru_cache(maxsize=64)
def _file_config(text: str) -> dict[str, Any]:
    """A stack file's config, read as the CLI reads it (YAML 1.2): `production: yes` is the string 'yes', which
    the settings refuse. Parsed once per text (callers get a copy)."""
    return dict((load(text) or {}).get("config") or {})


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
