"""Training curves from a run's metrics.jsonl: strict reading and one PNG (loss, lr, tokens/s, κ per head).

The trainer's own reader skips bad lines so a run can always resume; a plot is read by people, so here a
bad line is an error naming file and line. Only the last line may be incomplete when it has no newline
yet: that is a record still being written by a live run, and it is left for the next redraw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geolm.errors import DataError
from geolm.files import write_atomic

KAPPA_PREFIX = "kappa/"


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file; each must be a JSON object with an integer "step"."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no metrics file (is this a run directory?)") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines):  # no newline after it yet: a record still being written
                break
            raise DataError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        step = record.get("step") if isinstance(record, dict) else None
        if not isinstance(step, int) or isinstance(step, bool):
            raise DataError(f"{path}:{number}: a metrics record must be a JSON object with an integer 'step'")
        records.append(record)
    if not records:
        raise DataError(f"{path}: no metrics records yet")
    return records


def series(records: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of the records that hold a number under `key` (event records excluded)."""
    points = [
        (r["step"], float(r[key]))
        for r in records
        if "event" not in r and isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)
    ]
    return [p[0] for p in points], [p[1] for p in points]


def kappa_keys(records: list[dict[str, Any]]) -> list[str]:
    """The κ-per-head keys present in any record, in first-seen order."""
    return list(dict.fromkeys(k for r in records for k in r if k.startswith(KAPPA_PREFIX)))


def plot_curves(records: list[dict[str, Any]], out: Path, title: str = "") -> Path:
    """PNG of train/validation loss, learning rate, tokens/s and (when logged) κ per head; written atomically."""
    figure = Figure(figsize=(11.0, 7.0), layout="constrained")
    FigureCanvasAgg(figure)
    (loss, lr), (speed, kappa) = figure.subplots(2, 2)
    loss.plot(*series(records, "loss"), label="train", linewidth=1)
    loss.plot(*series(records, "val_loss"), "o-", label="validation")
    for record in records:
        if record.get("event") == "phase":
            loss.axvline(record["step"], color="grey", linestyle=":", linewidth=1)
    loss.set_ylabel("loss")
    loss.legend(fontsize=8)
    lr.plot(*series(records, "lr"), color="tab:green")
    lr.set_ylabel("learning rate")
    speed.plot(*series(records, "tokens_per_s"), color="tab:purple", linewidth=1)
    speed.set_ylabel("tokens/s")
    keys = kappa_keys(records)
    for key in keys:
        kappa.plot(*series(records, key), label=key.removeprefix(KAPPA_PREFIX), linewidth=1)
    if keys:
        kappa.axhspan(-0.1, 0.1, color="0.9")
        kappa.set_ylabel("curvature κ")
        kappa.legend(fontsize=7, ncol=max(1, len(keys) // 8))
    else:
        kappa.set_axis_off()
        kappa.text(0.5, 0.5, "no κ records in this run", ha="center", va="center")
    for axis in (loss, lr, speed, kappa):
        axis.set_xlabel("step")
    figure.suptitle(title)
    return write_atomic(out, lambda temp: figure.savefig(temp, format="png", dpi=100))
