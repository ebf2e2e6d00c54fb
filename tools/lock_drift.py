"""Print how the packages of the running environment differ from a lock file (`make test-latest` calls it).

Usage: python tools/lock_drift.py requirements.lock
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, str]:
    pins = (line.split("==", 1) for line in path.read_text().splitlines() if "==" in line and line[:1].isalnum())
    return {canonical(name): version.strip() for name, version in pins}


def installed() -> dict[str, str]:
    found = {canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    found.pop("geolm", None)
    return found


def main(lock: str) -> None:
    pins, here = locked(Path(lock)), installed()
    moved = [
        f"  {name}: {pins[name]} -> {here[name]}" for name in sorted(pins) if name in here and here[name] != pins[name]
    ]
    added = [f"  {name}: {here[name]} (not in the lock)" for name in sorted(set(here) - set(pins))]
    gone = [f"  {name}: {pins[name]} (not installed)" for name in sorted(set(pins) - set(here))]
    changes = moved + added + gone
    print(f"against {lock}: " + (f"{len(changes)} package(s) differ" if changes else "every version as locked"))
    print("\n".join(changes))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock")
