"""`geolm demo` (the main job of `make demo`) end to end with a handful of steps."""

from __future__ import annotations

from pathlib import Path

from clirun import run


def test_demo_trains_answers_and_analyses(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run("demo", "--steps", "3", "--out", str(out), timeout=600)
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
        "metrics.jsonl",
    ):
        assert (out / name).exists(), name
    phases = [line for line in (out / "metrics.jsonl").read_text().splitlines() if '"event": "phase"' in line]
    assert len(phases) == 3  # the three-phase coordinate curriculum ran
