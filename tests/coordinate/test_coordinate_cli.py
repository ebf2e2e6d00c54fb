"""`geolm generate` coordinate flags on tiny coordinate and baseline checkpoints."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from geolm.cli.generate import generate
from geolm.config import GeoConfig
from geolm.coordinate.analysis import get_coordinate_statistics
from geolm.data.corpus import corpus_texts
from geolm.data.tokenizer import train_tokenizer
from geolm.errors import ConfigError, InputError
from geolm.modeling import GeoForCausalLM

app = typer.Typer()
app.command()(generate)  # the only command, so it runs without its name
runner = CliRunner()
PROMPT = "What is a cat?"
BASE = ["--prompt", PROMPT, "--max-new-tokens", "6", "--device", "cpu", "--seed", "3"]


def write(path: Path, preset: str, tokenizer) -> Path:
    torch.manual_seed(0)
    ids = {k: getattr(tokenizer, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    GeoForCausalLM(GeoConfig.from_preset(preset, vocab_size=len(tokenizer), **ids)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tokenizer = train_tokenizer(itertools.islice(corpus_texts("train"), 300), 300)
    root = tmp_path_factory.mktemp("cli")
    return {
        "coordinate": write(root / "coordinate", "geometric-llama-tiny", tokenizer),
        "baseline": write(root / "baseline", "llama-tiny", tokenizer),
    }


def test_adaptive_prints_text_and_one_uncertainty_line_per_token(checkpoints) -> None:
    result = runner.invoke(app, [str(checkpoints["coordinate"]), *BASE, "--adaptive", "--show-uncertainty"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("uncertainty per new token"))
    rows = [line.split(" | ") for line in lines[header + 1 :]]
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1)) and 1 <= len(rows) <= 6
    assert all(float(r[2]) >= 0 and r[3] in ("greedy", "sampled") for r in rows)
    again = runner.invoke(app, [str(checkpoints["coordinate"]), *BASE, "--adaptive", "--show-uncertainty"])
    assert again.stdout == result.stdout  # seeded


def test_analysis_prints_the_statistics_and_writes_the_plot(checkpoints, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    plot = tmp_path / "coords.png"
    args = [str(checkpoints["coordinate"]), *BASE, "--greedy", "--analyze-coordinates", "--plot", str(plot)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = GeoForCausalLM.from_pretrained(checkpoints["coordinate"])
    tokenizer = AutoTokenizer.from_pretrained(checkpoints["coordinate"])
    stats = get_coordinate_statistics(model, PROMPT, tokenizer)
    assert f"coordinates: norm {stats['norm']:.4f}" in result.stdout
    assert f"top dims: {stats['top_10_dims'][0]} (" in result.stdout
    assert sum(" | " in line for line in result.stdout.splitlines()) == len(stats["token_ids"]) + 1


def test_refinement_runs_and_conflicting_flags_are_refused(checkpoints) -> None:
    ckpt = str(checkpoints["coordinate"])
    refined = runner.invoke(app, [ckpt, *BASE, "--greedy", "--refinement-steps", "2"])
    assert refined.exit_code == 0, refined.output
    assert "refinement: objective" in refined.stderr
    for extra, message in (
        (["--refinement-steps", "2", "--no-refinement"], "contradict"),
        (["--show-uncertainty"], "add --adaptive"),
        (["--plot", "x.png"], "add --analyze-coordinates"),
        (["--adaptive", "--greedy"], "drop --greedy"),
    ):
        result = runner.invoke(app, [ckpt, *BASE, *extra])
        assert isinstance(result.exception, InputError) and message in str(result.exception)


@pytest.mark.parametrize("flag", ["--adaptive", "--analyze-coordinates", "--no-refinement"])
def test_coordinate_flags_on_a_baseline_model_are_one_config_error(checkpoints, flag) -> None:
    result = runner.invoke(app, [str(checkpoints["baseline"]), *BASE, flag])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).endswith(
        f"{flag} need(s) a coordinate-modulated model; this one has modulation='none'"
    )
    assert "\n" not in str(result.exception) and result.stdout == ""


def test_stats_prints_the_uncertainty_behind_each_new_token(checkpoints) -> None:
    from transformers import AutoTokenizer

    path = checkpoints["coordinate"]
    flags = [*BASE, "--greedy", "--repetition-penalty", "1.0", "--stats", "--no-echo"]
    result = runner.invoke(app, [str(path), *flags])
    assert result.exit_code == 0, result.output
    assert "part statistics per new token" in result.stderr
    assert "coordinate_uncertainty: variance between a token's own coordinates" in result.stderr  # its meaning
    mean = float(result.stderr.split("mean coordinate_uncertainty: ")[1].split()[0])
    # reference: one full forward over prompt + continuation, no cache
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = GeoForCausalLM.from_pretrained(path).eval()
    prompt = tokenizer(PROMPT).input_ids
    continuation = tokenizer(result.stdout.rstrip("\n"), add_special_tokens=False).input_ids
    ids = torch.tensor([prompt + continuation])
    with torch.no_grad():
        per_token = model(ids, use_cache=False).part_stats["coordinate_uncertainty"][0]
    expected = per_token[len(prompt) - 1 : len(prompt) - 1 + 6].mean()
    assert mean == pytest.approx(float(expected), rel=1e-3)
    plain = runner.invoke(app, [str(checkpoints["baseline"]), *flags])
    assert plain.exit_code == 0 and "this model's parts report no statistics" in plain.stderr
