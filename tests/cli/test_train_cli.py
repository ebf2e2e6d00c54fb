"""`geolm train` end to end on a small file: a pre-empted run resumed equals a straight run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from clirun import run


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "facts.jsonl"
    animals = ["heron", "otter", "badger", "falcon", "salmon", "beetle", "walrus", "lynx"]
    kinds = ["bird", "mammal", "mammal", "bird", "fish", "insect", "mammal", "mammal"]
    rows = [
        {"text": f"A {a} is a kind of {k}. The {a} number {i} lives near the water."}
        for i in range(40)
        for a, k in zip(animals, kinds, strict=True)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def train(corpus: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [
        "train",
        "--preset",
        "llama-tiny",
        "--data",
        str(corpus),
        "--out",
        str(out),
        "--steps",
        "8",
        "--batch-size",
        "4",
        "--block-size",
        "32",
        "--vocab-size",
        "300",
        "--eval-every",
        "4",
        "--warmup-steps",
        "2",
        "--save-every",
        "0",
        "--log-every",
        "1",
        *extra,
    ]
    return run(*args)


def step_losses(run: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r and "val_loss" not in r}


def test_stop_after_then_resume_reproduces_straight_run(corpus: Path, tmp_path: Path) -> None:
    straight = train(corpus, tmp_path / "a")
    assert straight.returncode == 0, straight.stderr
    first = train(corpus, tmp_path / "b", "--stop-after", "4")
    assert first.returncode == 0, first.stderr
    assert json.loads((tmp_path / "b" / "last" / "trainer_state" / "state.json").read_text())["step"] == 4
    second = train(corpus, tmp_path / "b", "--resume", "auto")
    assert second.returncode == 0, second.stderr
    a, b = step_losses(tmp_path / "a"), step_losses(tmp_path / "b")
    assert max(a) == 8 and set(a) <= set(b)
    for step, loss in a.items():
        assert b[step] == pytest.approx(loss, abs=1e-6), step
    for name in ("best", "last"):
        assert (tmp_path / "b" / name / "model.safetensors").exists()
    assert (tmp_path / "b" / "loss.png").stat().st_size > 1000


def test_train_user_errors(corpus: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = train(empty, tmp_path / "c")
    assert out.returncode == 2 and "error:" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "c" / "last").exists()
    bad = train(corpus, tmp_path / "d", "--preset", "llama-nope")
    assert bad.returncode == 2 and "unknown preset 'llama-nope'" in bad.stderr
