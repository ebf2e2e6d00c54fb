"""Run the installed `geolm` console script as a user would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

# The console script of the environment running the tests first (make test-latest has a venv of its own).
BESIDE = Path(sys.executable).parent / "geolm"
GEOLM = str(BESIDE) if BESIDE.exists() else shutil.which("geolm") or str(BESIDE)


def run(*args: str, timeout: int = 300, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([GEOLM, *args], capture_output=True, text=True, timeout=timeout, input=stdin)
