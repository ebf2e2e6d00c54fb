"""`geolm demo` (the main job of `make demo`) end to end with a handful of steps."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import run

from geolm.experiments.questions import ANSWER_OPTIONS
from geolm.inference.loading import load_for_inference
from geolm.inference.responder import ResponseGenerator
from geolm.testing import full_forward_greedy


def test_demo_trains_answers_and_analyses(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run("demo", "--steps", "3", "--out", str(out), "--questions", "4", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("Q: What is") == 3
    assert result.stdout.count("reference:") == 3
    assert "coordinate analysis of the first answer" in result.stdout
    assert f"geolm chat {out}" in result.stdout
    for name in (
        "best/model.safetensors",
        "best/tokenizer.json",
        "last/trainer_state",
        "loss.png",
        "coordinates.png",
        "answers.json",
        "metrics.jsonl",
    ):
        assert (out / name).exists(), name
    phases = [line for line in (out / "metrics.jsonl").read_text().splitlines() if '"event": "phase"' in line]
    assert len(phases) == 3  # the three-phase coordinate curriculum ran
    record = json.loads((out / "answers.json").read_text())
    assert record["score"]["questions"] == record["untrained_score"]["questions"] == 4
    assert "the asked word" in result.stdout and "untrained" in result.stdout
    assert "geometric-llama-demo (the demo's preset for this device)" in result.stdout

    # Every answer is what greedy decoding by full forwards gives: broken cached decoding fails here.
    model, tokenizer = load_for_inference(out)
    responder = ResponseGenerator(model, tokenizer, ANSWER_OPTIONS)
    end_ids = (tokenizer.eos_token_id, *responder.end_ids)
    for answer in record["answers"]:
        conversation = responder.new_conversation()
        conversation.add("user", answer["question"])
        expected = full_forward_greedy(
            model,
            conversation.prompt_ids(),
            ANSWER_OPTIONS.max_new_tokens,
            end_ids=end_ids,
            repetition_penalty=ANSWER_OPTIONS.repetition_penalty,
        )
        assert answer["token_ids"] == expected, answer["question"]


def test_a_second_demo_takes_a_new_run_directory(tmp_path: Path) -> None:
    from geolm.cli.demo import free_run_dir

    out = tmp_path / "demo"
    assert free_run_dir(out) == out  # new
    out.mkdir()
    assert free_run_dir(out) == out  # empty
    (out / "last").mkdir()  # an earlier run's output
    assert free_run_dir(out) == tmp_path / "demo-2"
    (tmp_path / "demo-2").mkdir()
    assert free_run_dir(out) == tmp_path / "demo-3"
    (tmp_path / "file").write_text("x")
    refused = run("demo", "--out", str(tmp_path / "file"), timeout=120)
    assert refused.returncode == 2 and "is a file, not a directory" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert list(out.iterdir()) == [out / "last"]  # nothing written into the earlier run


def test_the_demo_picks_a_larger_preset_where_a_gpu_is(monkeypatch) -> None:
    import torch

    from geolm.experiments.demo import PRESETS, demo_preset

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert demo_preset() == PRESETS["cuda"] == "geometric-llama-10m"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert demo_preset() == "geometric-llama-demo"
