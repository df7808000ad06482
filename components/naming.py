"""Physical names that fit AWS limits and stay unique per project, stack and service."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def physical_name(prefix: str, suffix: str, max_length: int) -> str:
    """`{prefix}-{suffix}`, shortened deterministically when longer than `max_length`.

    A shortened name keeps its start and ends in a hash of the full name, so two
    stacks whose names only differ past the cut still get different names.
    """
    full = f"{prefix}-{suffix}"
    if len(full) <= max_length:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    return f"{full[: max_length - 7].rstrip('-')}-{digest}"


def variant_name(prefix: str, suffix: str, max_length: int, variant: Mapping[str, str], default: Mapping[str, str]) -> str:
    """A physical name for a resource that some configuration changes replace.

    `variant` holds the values of the resource's replace-only inputs (or what decides them): a change
    of any of them makes the engine create the replacement *before* it deletes the original, so the
    two must not share a name. The name is `{prefix}-{suffix}` for the `default` variant (the name
    stacks had before names carried a variant, so their resources are not replaced) and
    `{prefix}-{suffix}-{hash of the variant}` otherwise.
    """
    if dict(variant) == dict(default):
        return physical_name(prefix, suffix, max_length)
    canonical = ",".join(f"{k}={variant[k]}" for k in sorted(variant))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:6]
    return physical_name(prefix, f"{suffix}-{digest}", max_length)
