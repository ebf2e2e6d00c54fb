"""geolm.api: its documented examples run, and a run it trains is the run `geolm train` trains."""

from __future__ import annotations

import doctest
import itertools
import json
from pathlib import Path

import pytest

import geolm.api as api
from geolm.data.corpus import corpus_texts
from geolm.errors import ConfigError


@pytest.fixture
def notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding notes.txt, a few hundred documents of the embedded corpus."""
    (tmp_path / "notes.txt").write_text("\n\n".join(itertools.islice(corpus_texts("train"), 400)) + "\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_documented_examples_run(notes: Path) -> None:
    results = doctest.testmod(api, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 8 and results.failed == 0
    assert (notes / "runs" / "tiny" / "last" / "model.safetensors").is_file()


def test_a_run_from_python_is_the_run_from_the_command_line(notes: Path) -> None:
    from clirun import run

    settings = {"steps": 3, "batch_size": 2, "eval_every": 0, "save_every": 0, "log_every": 1, "seed": 1}
    spec = api.RunSpec(
        preset="llama-tiny", data=("notes.txt",), out="py", block_size=32, args=api.TrainArgs(**settings)
    )
    api.train(spec)
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in settings.items()]
    command = run(
        "train", "--preset", "llama-tiny", "--data", "notes.txt", "--out", "cli", "--block-size", "32", *flags
    )
    assert command.returncode == 0, command.stderr

    def losses(out: str) -> list[float]:
        rows = [json.loads(line) for line in (notes / out / "metrics.jsonl").read_text().splitlines()]
        return [row["loss"] for row in rows if "loss" in row and "event" not in row]

    assert len(losses("py")) == 3 and losses("py") == losses("cli")


def test_a_bad_spec_fails_before_any_work(notes: Path) -> None:
    (notes / "taken").write_text("a file")
    with pytest.raises(ConfigError, match="taken is a file, not a run directory"):
        api.prepare(api.RunSpec(preset="llama-tiny", out="taken"))
    with pytest.raises(ConfigError, match="block_size 512 exceeds the model's max_position_embeddings 256"):
        api.prepare(api.RunSpec(preset="llama-tiny", data=("notes.txt",), out="long", block_size=512))
    assert not (notes / "long").exists()
