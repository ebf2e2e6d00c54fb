"""Reading user-written files with one-line errors that name the file, and writing files whole or not at all."""

from __future__ import annotations

import functools
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
    """Call `write` on a temporary file next to `path`, then rename it into place with the user's usual
    permissions (the temporary file is private while it is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        write(Path(temp))
        usual_permissions(Path(temp))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """`text` into `path` (UTF-8), whole or not at all."""
    return write_atomic(path, lambda temp: temp.write_text(text, encoding="utf-8"))


@functools.cache
def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is read once and put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def usual_permissions(path: Path) -> Path:
    """Give a file or directory made private by `tempfile` the mode a plain `open` or `mkdir` would give it."""
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~current_umask())
    return path
