"""`geolm plot`: strict metrics reading, the PNG, and a bounded --follow."""

from __future__ import annotations

import json

import pytest
import typer
from matplotlib.image import imread
from typer.testing import CliRunner

from geolm.cli.plot import plot
from geolm.errors import DataError
from geolm.experiments.curves import kappa_keys, read_metrics, series

RECORDS = [
    {"step": 0, "event": "phase", "phase": "main", "index": 0},
    {"step": 10, "loss": 5.0, "lr": 1e-4, "tokens_per_s": 900.0, "kappa/L0H0": 0.0, "kappa/L0H1": 0.05},
    {"step": 20, "loss": 4.0, "lr": 2e-4, "tokens_per_s": 950.0, "kappa/L0H0": -0.2, "kappa/L0H1": 0.3},
    {"step": 20, "val_loss": 4.5, "val_ppl": 90.0},
]


def run_dir(tmp_path, records=RECORDS, tail=""):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")
    return tmp_path


def invoke(*args):
    app = typer.Typer()
    app.command()(plot)
    return CliRunner().invoke(app, [str(a) for a in args])


def test_read_metrics_and_series(tmp_path):
    records = read_metrics(run_dir(tmp_path) / "metrics.jsonl")
    assert series(records, "loss") == ([10, 20], [5.0, 4.0])
    assert series(records, "val_loss") == ([20], [4.5])
    assert kappa_keys(records) == ["kappa/L0H0", "kappa/L0H1"]


def test_a_record_still_being_written_is_left_for_later(tmp_path):
    path = run_dir(tmp_path, tail='{"step": 30, "lo') / "metrics.jsonl"
    assert [r["step"] for r in read_metrics(path)] == [0, 10, 20, 20]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"step": 1}\n{broken\n{"step": 2}\n', r"metrics.jsonl:2: not valid JSON"),
        ('{"step": 1}\n{"loss": 2.0}\n', r"metrics.jsonl:2: .*integer 'step'"),
        ("[1, 2]\n", r"metrics.jsonl:1: .*integer 'step'"),
        ("\n", "no metrics records yet"),
    ],
)
def test_malformed_metrics_name_file_and_line(tmp_path, text, message):
    (tmp_path / "metrics.jsonl").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_metrics(tmp_path / "metrics.jsonl")


def test_plot_writes_png_at_default_place(tmp_path):
    result = invoke(run_dir(tmp_path))
    assert result.exit_code == 0, result.output
    image = imread(tmp_path / "curves.png")
    assert image.shape[:2] == (700, 1100)  # 11 x 7 inches at 100 dpi
    assert image[..., :3].std() > 0.05  # something is drawn
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".png"] == ["curves.png"]  # no temp file left


def test_missing_metrics_is_a_data_error(tmp_path):
    result = invoke(tmp_path, "--out", tmp_path / "x.png")
    assert isinstance(result.exception, DataError)
    assert "metrics.jsonl: no metrics file" in str(result.exception)
    assert not (tmp_path / "x.png").exists()


def test_follow_stops_after_max_updates_or_when_idle(tmp_path):
    directory = run_dir(tmp_path)
    bounded = invoke(directory, "--follow", "--interval", "0.01", "--max-updates", "3", "--out", tmp_path / "a.png")
    assert bounded.exit_code == 0, bounded.output
    assert bounded.output.count("records") == 1  # the file did not grow, so it was drawn once
    idle = invoke(directory, "--follow", "--interval", "0.01", "--idle", "0.05", "--out", tmp_path / "b.png")
    assert idle.exit_code == 0
    assert "has not grown for 0.05 s" in " ".join(idle.output.split())  # rich wraps long lines
    assert (tmp_path / "b.png").is_file()
