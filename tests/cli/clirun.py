"""Run the installed `geolm` console script as a user would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

GEOLM = shutil.which("geolm") or str(Path(sys.executable).parent / "geolm")


def run(*args: str, timeout: int = 300, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([GEOLM, *args], capture_output=True, text=True, timeout=timeout, input=stdin)
