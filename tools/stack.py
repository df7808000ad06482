"""A stack as the operator tools see it: its file read and checked as the program would (`read_settings`), the
service a tool acts on (`service_settings`: a stack with `services` runs a pipeline and a repository per service),
the names the program gives its pipeline and repository (`stack_target`), and how a tool reports a wrong argument
(`UsageError`, exit 64) or finds nothing to act on (`RevertError`, exit 2)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import yaml

from components.naming import physical_name
from components.settings import PROJECT, Settings, SettingsError, parse_settings
from offline import stackfile

ROOT = Path(__file__).resolve().parent.parent
# Pulumi stack names: letters, digits, '-', '_', '.'; also keeps the stack file inside the project.
_STACK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class RevertError(Exception):
    """Nothing to revert: the image or its commit cannot be found. Nothing was changed."""


class UsageError(Exception):
    """The arguments or the stack file are wrong; found before any AWS call."""


@dataclass(frozen=True)
class Target:
    pipeline: str
    repository: str
    region: str | None = None
    """aws:region of the stack file; None: boto3's default (AWS_REGION or the profile), as the provider does."""


def stack_target(stack: str, service: str = "app", project: str = PROJECT, region: str | None = None) -> Target:
    """The pipeline and repository names the Pulumi program gives a stack's service (program/service.py: the
    service's settings.prefix, project-stack-service; a stack without `services`: its serviceName)."""
    prefix = f"{project}-{stack}-{service}"
    return Target(pipeline=physical_name(prefix, "pipeline", 100), repository=prefix, region=region)


def read_settings(stack: str, root: Path = ROOT) -> tuple[str, Settings, str | None]:
    """(project, settings, aws:region or None) of Pulumi.<stack>.yaml; UsageError when it is missing or invalid."""
    if not _STACK.match(stack):
        raise UsageError(f"--stack: {stack!r} is not a stack name; use letters, digits, '-', '_' or '.' (e.g. prod)")
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise UsageError(f"--stack: {path.name} does not exist in {root}; stacks with a file here: {', '.join(known) or 'none'}")
    try:
        project = str((stackfile.load((root / "Pulumi.yaml").read_text()) or {})["name"])
        config = (stackfile.load(path.read_text()) or {}).get("config") or {}
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError) as error:
        raise UsageError(f"cannot read Pulumi.yaml or {path.name}: {error}") from None
    namespace = f"{project}:"
    # Secrets ({secure: ...}) cannot be read without the passphrase and name nothing the revert needs:
    # they are left out, so the settings check their defaults instead.
    raw = {k[len(namespace) :]: v for k, v in config.items() if k.startswith(namespace) and not isinstance(v, dict)}
    try:
        settings = parse_settings(raw, project, stack)
    except SettingsError as error:
        raise UsageError(f"{path.name}: {error}") from None
    region = config.get("aws:region")
    return project, settings, str(region) if region else None


def service_settings(stack: str, settings: Settings, service: str | None) -> Settings:
    """The settings of the service a tool acts on (`--service`): in a stack with `services`, the named entry's (its
    prefix names its pipeline and repository), required; in a stack without, the stack's own, and --service, when
    given, must be its serviceName (so one command line serves both kinds of stack). UsageError otherwise."""
    if settings.services:
        names = ", ".join(entry.name for entry in settings.services)
        if service is None:
            raise UsageError(f"--service: stack {stack} has services ({names}), each with its own pipeline and repository; name the one to act on with --service NAME")
        for entry in settings.services:
            if entry.name == service:
                return entry.settings
        raise UsageError(f"--service: {service!r} is not a service of stack {stack}; its services: {names}")
    if service not in (None, settings.service_name):
        raise UsageError(f"--service: {service!r} is not a service of stack {stack}; it has no services list and runs one service, {settings.service_name}: omit --service")
    return settings


def add_service_argument(parser: argparse.ArgumentParser) -> None:
    """--service, for a tool that acts on one service's pipeline, repository or records (`service_settings`)."""
    parser.add_argument(
        "--service",
        metavar="NAME",
        help="the service to act on: required when the stack file has a services list (an entry's name); a stack without one runs one service, its serviceName (the default)",
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2, which the tools use for their own outcome
        raise UsageError(message)


def tool_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The argument parser of a tool in tools/: a usage error raises UsageError (the tool exits 64), its
    description is the module docstring's first paragraph and its epilog the docstring from "Exit codes:"."""
    return _Parser(prog=prog, description=doc.split("\n\n")[0], epilog=doc[doc.index("Exit codes:") :], formatter_class=argparse.RawDescriptionHelpFormatter)
