"""How long the `geolm` console script takes to answer, against the interpreter and `import torch` alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import interleaved

GEOLM = str(Path(sys.executable).with_name("geolm"))
PEERS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "python -c 'import geolm'": [sys.executable, "-c", "import geolm"],
}
COMMANDS = {
    "geolm --help": [GEOLM, "--help"],
    "geolm train --help": [GEOLM, "train", "--help"],
    "geolm generate --help": [GEOLM, "generate", "--help"],
    "geolm presets": [GEOLM, "presets"],
    "geolm presets --recount": [GEOLM, "presets", "--recount"],
}
REPEATS = 5


def _runner(argv: list[str]) -> Callable[[], None]:
    return lambda: subprocess.run(argv, check=True, capture_output=True)


def run() -> dict:
    """Median wall seconds of each command line, all interleaved in one loop."""
    lines = {**PEERS, **COMMANDS}
    seconds = interleaved({name: _runner(argv) for name, argv in lines.items()}, repeats=REPEATS)
    return {"repeats": REPEATS, "seconds": seconds}


def markdown(result: dict) -> str:
    seconds = result["seconds"]
    torch_s = seconds["python -c 'import torch'"]
    lines = [
        f"Wall seconds from process start to exit, median of {result['repeats']} interleaved runs. The verbs keep",
        "torch, transformers, datasets, pandas and matplotlib inside their functions, so help and the shipped",
        "presets table need none of them; `--recount` builds every preset on the meta device, as a verb that",
        "needs torch does.",
        "",
        "| command | seconds | / import torch |",
        "|---|---:|---:|",
    ]
    for name, value in seconds.items():
        lines.append(f"| `{name}` | {value:.2f} | {value / torch_s:.2f}x |")
    return "\n".join(lines)
