"""The stack a promoting stack promotes from, offline: its outputs come from evaluating its own stack file
(offline/mocks.py `upstream_outputs`, which the caller passes in), so what cannot be evaluated here is a settings error that says why
and what to do, never a `KeyError` from the mocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components.settings import SettingsError, settings_error
from offline.stackfile import PROJECT, settings_problems

# The upstream stacks being evaluated: a cycle of promoteFrom reads no outputs from a stack still being evaluated
# (its downstream refuses an upstream without a promotion contract) instead of evaluating it forever.
_EVALUATING: set[tuple[str, str]] = set()


def upstream_outputs_of(
    stack: str, upstream: str, config: Mapping[str, Any], root: Path, organization: str, outputs_of: Callable[[str, Path], Mapping[str, Any]]
) -> dict[str, Any]:
    """The outputs of `upstream` ('organization/project/stack'), which `stack` with `config` promotes from, as
    `outputs_of(<upstream's stack name>, root)` evaluates them.

    The stack's own settings problems come first (the program would refuse them before it reads the upstream)."""
    name = upstream.removeprefix(f"{organization}/{PROJECT}/")
    if "/" in name or name == stack or not (root / f"Pulumi.{name}.yaml").exists():
        raise upstream_unknown(stack, name, config, organization)
    if problems := settings_problems(stack, config, organization):
        raise settings_error(problems)
    key = (str(root), name)
    if key in _EVALUATING:
        return {}
    _EVALUATING.add(key)
    try:
        return dict(outputs_of(name, root))
    except SettingsError as error:  # the promoting stack's plan fails in the stack it promotes from: say which
        raise SettingsError(f"promoteFrom: {name!r}: the stack it promotes from is refused: {error}") from error
    finally:
        _EVALUATING.discard(key)


def upstream_unknown(stack: str, upstream: str, config: Mapping[str, Any], organization: str) -> SettingsError:
    """Every problem of a promoting stack whose upstream (a stack name, or 'organization/project/stack' of another
    project) has no outputs offline, where they come from evaluating the upstream's stack file: the program's
    own refusals, and (unless promoteFrom itself is refused) why the upstream is unknown."""
    problems = settings_problems(stack, config, organization)
    if any(p.startswith("promoteFrom:") for p in problems):
        return settings_error(problems)
    if "/" in upstream:
        unknown = (
            f"promoteFrom: {upstream!r}: the offline plan reads the outputs of the stack a stack promotes from by evaluating that stack's "
            "file, and this is not a stack of this project (`pulumi up` reads its outputs from the Pulumi backend). Fix: check this stack "
            "with `pulumi preview`, or plan it offline with promoteFrom set to a stack of this project (e.g. --set promoteFrom=dev)"
        )
    else:
        unknown = (
            f"promoteFrom: {upstream!r}: the offline plan reads the outputs of the stack a stack promotes from by evaluating that stack's "
            f"file, and there is no Pulumi.{upstream}.yaml. Fix: create the stack {upstream!r} that builds the image (`pulumi stack init "
            f"{upstream}`, then `pulumi config set` its keys, or start from a building stack's file: `cp Pulumi.dev.yaml Pulumi.{upstream}.yaml`), "
            "or promote from a stack that has a file"
        )
    return settings_error([*problems, unknown])
