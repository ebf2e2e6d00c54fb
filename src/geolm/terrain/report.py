"""`TerrainReport`: the frames and summary of one run, written atomically as CSV/JSON, PNG and markdown."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geolm.errors import InputError
from geolm.files import usual_permissions
from geolm.terrain.legend import legend_lines
from geolm.terrain.plots import make_figures

MARKDOWN_ROWS = 40
DATA_ONLY = ("embedding_spectrum", "simplex_volumes", "cross_layer_pairs")  # behind the figures, CSV only


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, set, frozenset, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame, max_rows: int = MARKDOWN_ROWS) -> str:
    """A GitHub markdown table of the first `max_rows` rows, floats to 4 significant digits."""
    head = frame.head(max_rows)
    lines = ["| " + " | ".join(map(str, head.columns)) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.itertuples(index=False)]
    if len(frame) > max_rows:
        lines.append(f"\n({len(frame) - max_rows} more rows in the CSV)")
    return "\n".join(lines)


TRANSPOSE_COLUMNS = 8  # a one-row table wider than this is printed as column | value


def transposed(frame: pd.DataFrame) -> pd.DataFrame:
    """A one-row frame as two columns, one line per column, so it can be read without scrolling."""
    return pd.DataFrame({"column": frame.columns, "value": [_cell(v) for v in frame.iloc[0]]})


@dataclass
class TerrainReport:
    """Tidy frames by name (every one has a `status` column) and a JSON-able summary of the run."""

    frames: dict[str, pd.DataFrame]
    summary: dict[str, Any]
    title: str = "Geometric terrain"
    out_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    def statuses(self) -> pd.DataFrame:
        """How many rows of each frame carry each status."""
        rows = [
            {"frame": name, "status": status, "rows": int(count)}
            for name, frame in self.frames.items()
            for status, count in frame["status"].value_counts().items()
        ]
        return pd.DataFrame(rows)

    def to_markdown(self, figures: list[Path] | None = None) -> str:
        s = self.summary
        parts = [f"# {self.title}: {s.get('model', '')}", ""]
        parts += [
            f"- {key}: {s[key]}"
            for key in ("model_class", "kind", "tokenizer", "seed", "device", "elapsed_s")
            if key in s
        ]
        if s.get("batteries"):
            table = pd.DataFrame([{"battery": k, **v} for k, v in s["batteries"].items()])
            parts += ["", "## Batteries", "", markdown_table(table)]
        for battery, numbers in s.get("headlines", {}).items():
            parts += ["", f"**{battery}**: " + "; ".join(f"{k} = {_cell(v)}" for k, v in numbers.items())]
        for name, frame in self.frames.items():
            if name in DATA_ONLY:
                parts += ["", f"## {name}", "", f"{len(frame)} rows in {name}.csv"]
                continue
            wide_row = len(frame) == 1 and len(frame.columns) > TRANSPOSE_COLUMNS
            body = markdown_table(transposed(frame) if wide_row else frame)
            parts += ["", f"## {name}", "", body]
            legend = legend_lines(list(frame.columns))
            parts += ["", "Columns:", "", *legend] if legend else []
        if figures:
            parts += ["", "## Figures", ""] + [f"![{p.stem}](figures/{p.name})" for p in figures]
        parts += [
            "",
            "Library versions: " + ", ".join(f"{k} {v}" for k, v in s.get("versions", {}).items()),
            "",
        ]
        return "\n".join(parts)

    def save(self, out_dir: str | Path) -> Path:
        """Write every frame as CSV and JSON, summary.json, figures/*.png and report.md.

        Everything is written into a temporary sibling directory that replaces `out_dir` only when complete,
        so an error never leaves a half-written report.
        """
        figures: list[Path] = []

        def fill(tmp: Path) -> None:
            for name, frame in self.frames.items():
                frame.to_csv(tmp / f"{name}.csv", index=False)
                frame.to_json(tmp / f"{name}.json", orient="records", indent=1)
            figures.extend(make_figures(self.frames, tmp / "figures"))
            (tmp / "summary.json").write_text(json.dumps(self.summary, indent=2, default=_json_default) + "\n")
            (tmp / "report.md").write_text(self.to_markdown(figures))

        out = write_directory(out_dir, fill)
        self.out_dir = out
        self.figures = [out / "figures" / p.name for p in figures]
        return out


def write_directory(out_dir: str | Path, fill: Callable[[Path], None]) -> Path:
    """Let `fill` write into a temporary sibling directory, then swap it in for `out_dir` whole.

    An error inside `fill` removes the temporary directory and leaves `out_dir` as it was.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    usual_permissions(tmp)
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
    return out
