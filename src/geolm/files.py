"""Reading user-written files with one-line errors that name the file, and writing files whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geolm.errors import ConfigError


def read_json_object(path: str | Path, kind: str) -> dict[str, Any]:
    """The JSON object in `path`; a missing file, bad JSON or a non-object is a `ConfigError` naming the file.

    `kind` names the file in messages ("config", "curriculum").
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{kind} file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {kind} file must hold a JSON object")
    return data


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call `write` on a temporary file next to `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        write(Path(temp))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path
