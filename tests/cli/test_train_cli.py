"""`geolm train` end to end on a small file: a pre-empted run resumed equals a straight run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from clirun import GEOLM, run


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


def train_args(corpus: Path, out: Path, *extra: str) -> list[str]:
    return [
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


def train(corpus: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run(*train_args(corpus, out, *extra))


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
    assert f"resuming {tmp_path / 'b' / 'last'} at step 4 of 8, phase 0 'main'" in second.stderr
    assert "best validation loss" in second.stderr and "'step':" not in second.stderr  # a table, not a dict
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
    short = tmp_path / "short.jsonl"
    short.write_text('{"text": "A heron."}\n' * 3)
    out = train(short, tmp_path / "e")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    error = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "tokens, fewer than one block of 32; pass a smaller --block-size" in error[0]
    assert not (tmp_path / "e" / "last").exists()


def test_out_and_run_dir_are_checked_before_any_data_work(corpus: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    out = train(corpus, a_file)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [f"error: --out {a_file} is a file, not a run directory"]
    assert a_file.read_text() == "keep me"
    done = train(corpus, tmp_path / "run", "--stop-after", "2")
    assert done.returncode == 0, done.stderr
    again = train(corpus, tmp_path / "run")
    assert again.returncode == 2 and "already holds checkpoint(s) last" in again.stderr
    assert "--resume auto" in again.stderr and "data:" not in again.stderr  # refused before tokenizing


def test_ctrl_c_leaves_the_last_checkpoint_whole_and_says_how_to_resume(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = train_args(corpus, out, "--steps", "100000", "--save-every", "2", "--eval-every", "0")
    proc = subprocess.Popen([GEOLM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / "last" / "trainer_state" / "state.json").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    step = json.loads((out / "last" / "trainer_state" / "state.json").read_text())["step"]
    assert f"the last checkpoint is {out / 'last'} (step {step})" in stderr
    assert "resume with: geolm train --preset llama-tiny" in stderr and stderr.rstrip().endswith("--resume auto")
    assert "Traceback" not in stderr and not list(out.glob(".*.tmp"))


def test_ctrl_c_during_data_work_stops_at_once(tmp_path: Path) -> None:
    """On the embedded corpus with the cache off, the tokenizer trains for seconds; Ctrl-C must not wait for it."""
    out = tmp_path / "run"
    env = {**os.environ, "GEOLM_CACHE": "off"}
    args = ["train", "--preset", "llama-demo", "--steps", "4", "--out", str(out)]
    proc = subprocess.Popen([GEOLM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    while not any("tokenizer: training" in line for line in seen):
        line = proc.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    time.sleep(1.0)  # inside the corpus reading or the BPE merges
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=5)  # the work left takes far longer than this
    assert proc.returncode == 130, stderr
    assert f"interrupted before the first checkpoint; nothing was saved in {out}" in stderr
    assert "Traceback" not in stderr and not (out / "last").exists()


def test_a_second_run_on_the_embedded_corpus_reuses_tokenizer_and_blocks(tmp_path: Path) -> None:
    env = {**os.environ, "GEOLM_CACHE": str(tmp_path / "cache")}
    args = ["train", "--preset", "llama-tiny", "--steps", "2", "--eval-every", "0", "--block-size", "64"]
    args += ["--max-train-tokens", "20000", "--log-every", "1"]
    first = subprocess.run([GEOLM, *args, "--out", str(tmp_path / "a")], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "tokenizer: training" in first.stderr and "cached in" not in first.stderr
    second = subprocess.run([GEOLM, *args, "--out", str(tmp_path / "b")], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr
    assert "tokenizer: cached in" in second.stderr and "data: cached in" in second.stderr
    assert "tokenizer: training" not in second.stderr
    assert step_losses(tmp_path / "a") == step_losses(tmp_path / "b")  # the same tokens, the same run
