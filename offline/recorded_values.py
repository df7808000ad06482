"""What the recording mock monitor (offline/mocks.py) makes of the values a program registers: plain JSON-like
data, with secrets unwrapped (and noticed) and assets and archives shown by what they name."""

from __future__ import annotations

from typing import Any

import pulumi

_SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(_SECRET_SIG[0]) == _SECRET_SIG[1] or any(holds_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_secret(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """Deserialised properties as plain JSON-like data (secrets unwrapped; assets and archives as what
    they name: a file asset's path, an archive's members)."""
    if isinstance(value, pulumi.FileAsset):
        return {"path": value.path}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {name: plain(member) for name, member in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileArchive):
        return {"archivePath": value.path}
    if isinstance(value, dict):
        if value.get(_SECRET_SIG[0]) == _SECRET_SIG[1]:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
