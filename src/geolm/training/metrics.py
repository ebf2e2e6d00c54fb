"""Where run metrics go: RUN_DIR/metrics.jsonl, accelerate's trackers, a rich progress bar, and loss.png."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

METRICS_FILE, PLOT_FILE = "metrics.jsonl", "loss.png"


class RunLog:
    """One JSON object per record in metrics.jsonl (main process), the same numbers to the trackers.

    Records are never written past the step a run starts from: on start the file is cut back to the
    records of steps up to the resumed step, so a run that died after its last checkpoint leaves no
    duplicate steps behind.
    """

    def __init__(
        self, run_dir: Path, accelerator: Accelerator, start_step: int, total_steps: int, quiet: bool = False
    ) -> None:
        self.accelerator = accelerator
        self.speaks = accelerator.is_main_process and not quiet
        self.path = run_dir / METRICS_FILE
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[tps]} tok/s"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.speaks,
        )
        self.task = self.progress.add_task("train", total=total_steps, completed=start_step, loss="-", tps="-")
        if accelerator.is_main_process:
            truncate_records(self.path, start_step)

    def __enter__(self) -> RunLog:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def record(self, record: dict[str, Any]) -> None:
        """Append one record (it must hold "step"); numbers also go to the trackers."""
        clean = {k: _finite_or_none(v) for k, v in record.items()}
        if self.accelerator.is_main_process:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(clean) + "\n")
        numbers = {k: v for k, v in clean.items() if k != "step" and isinstance(v, (int, float))}
        if numbers:
            self.accelerator.log(numbers, step=record["step"])

    def set_total(self, steps: int) -> None:
        """The run's new length (a schedule fitted to a time budget)."""
        self.progress.update(self.task, total=steps)

    def advance(self, step: int, loss: float, tokens_per_s: float) -> None:
        self.progress.update(self.task, completed=step, loss=f"{loss:.4f}", tps=f"{tokens_per_s:,.0f}")

    def say(self, message: str) -> None:
        """A line above the progress bar, main process only, unless quiet (phase changes, skipped steps,
        evaluations)."""
        if self.speaks:
            self.console.print(message, soft_wrap=True)  # paths and commands stay whole when piped


def truncate_records(path: Path, last_step: int) -> None:
    """Keep only records with step <= `last_step` (rewritten through a temp file)."""
    if not path.is_file():
        return
    kept = [r for r in read_records(path) if r["step"] <= last_step]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    os.replace(tmp, path)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of metrics.jsonl; a line cut short by a process that died mid-write is skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_losses(run_dir: Path) -> Path:
    """RUN_DIR/loss.png: train and validation loss against step, phase changes as vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_records(run_dir / METRICS_FILE)
    train = [(r["step"], r["loss"]) for r in records if r.get("loss") is not None and "event" not in r]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    phases = [r for r in records if r.get("event") == "phase"]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train", linewidth=1)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation")
    for record in phases:
        ax.axvline(record["step"], color="grey", linestyle=":", linewidth=1)
        ax.annotate(record["phase"], (record["step"], 1), xycoords=("data", "axes fraction"), fontsize=8, va="top")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if train or val:  # a run whose every step was skipped has nothing to label
        ax.legend()
    fig.tight_layout()
    out = run_dir / PLOT_FILE
    tmp = run_dir / f".{PLOT_FILE}.tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/inf: non-finite numbers are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
