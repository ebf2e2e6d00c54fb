"""`geolm plot RUN_DIR`: redraw a run's training curves, once or while the run is going."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from geolm.errors import InputError

console = Console(stderr=True)


def plot(
    run_dir: Annotated[Path, typer.Argument(help="run directory holding metrics.jsonl")],
    out: Annotated[Path | None, typer.Option(help="PNG to write (default RUN_DIR/curves.png)")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="redraw every --interval seconds")] = False,
    interval: Annotated[float, typer.Option(help="seconds between redraws with --follow")] = 10.0,
    idle: Annotated[
        float, typer.Option(help="with --follow, stop once metrics.jsonl has not grown for this many seconds")
    ] = 300.0,
    max_updates: Annotated[int | None, typer.Option(help="with --follow, stop after this many redraws")] = None,
) -> None:
    """Draw train/validation loss, learning rate, tokens/s and κ per head from RUN_DIR/metrics.jsonl.

    Example: geolm plot runs/first --follow
    """
    from geolm.experiments.curves import plot_curves, read_metrics

    if interval <= 0 or idle <= 0:
        raise InputError(f"--interval and --idle must be positive, got {interval} and {idle}")
    if max_updates is not None and max_updates < 1:
        raise InputError(f"--max-updates must be at least 1, got {max_updates}")
    metrics = run_dir / "metrics.jsonl"
    out = out or run_dir / "curves.png"
    redraws, last_size, last_growth = 0, None, time.monotonic()
    try:
        while True:
            size = metrics.stat().st_size if metrics.is_file() else -1
            if size != last_size:
                records = read_metrics(metrics)
                plot_curves(records, out, title=str(run_dir))
                console.print(f"{out}: {len(records)} records, last step {records[-1]['step']}")
                last_size, last_growth = size, time.monotonic()
            redraws += 1
            if not follow or redraws == max_updates:
                return
            if time.monotonic() - last_growth > idle:
                console.print(f"{metrics} has not grown for {idle:g} s; stopping")
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print("stopped")
