"""Physical names that fit AWS limits and stay unique per project, stack and service."""

from __future__ import annotations

import hashlib


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
