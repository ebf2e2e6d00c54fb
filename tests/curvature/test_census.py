import pandas as pd
import pytest
import torch
import typer
from typer.testing import CliRunner

from geolm.config import GeoConfig
from geolm.curvature import census_counts, classify, curvature_metrics, head_census, plot_census
from geolm.curvature.cli import heads
from geolm.errors import CheckpointError
from geolm.modeling import GeoForCausalLM, GeoForSequenceClassification

KAPPAS = {0: [-1.5, 0.05], 1: [0.8, -0.3]}


def model_with(kappas: dict[int, list[float]], cls=GeoForCausalLM, **overrides):
    config = GeoConfig.from_preset(
        "curvature-small", vocab_size=64, num_attention_heads=2, num_key_value_heads=2, **overrides
    )
    model = cls(config)
    with torch.no_grad():
        for index, layer in enumerate(model.model.layers):
            layer.self_attn.raw_kappa.copy_(torch.atanh(torch.tensor(kappas[index]) / 2))
            layer.self_attn.log_tau.fill_(0.5)
    return model


def test_classify_uses_the_seed_band() -> None:
    assert [classify(k) for k in (-0.5, -0.1000001, -0.1, 0.0, 0.1, 0.1000001, 2.0)] == [
        "hyperbolic",
        "hyperbolic",
        "euclidean",
        "euclidean",
        "euclidean",
        "spherical",
        "spherical",
    ]


def test_census_counts_and_metrics() -> None:
    model = model_with(KAPPAS)
    census = head_census(model)
    assert list(census.columns) == ["layer", "head", "kappa", "tau", "class"]
    assert census["kappa"].tolist() == pytest.approx([-1.5, 0.05, 0.8, -0.3], abs=1e-6)
    assert census["tau"].tolist() == pytest.approx([torch.e**0.5] * 4)
    assert census["class"].tolist() == ["hyperbolic", "euclidean", "spherical", "hyperbolic"]
    counts = census_counts(census)
    assert counts.loc["all"].tolist() == [2, 1, 1] and counts.loc[1].tolist() == [1, 0, 1]
    metrics = curvature_metrics(model)
    assert metrics["kappa/L1H0"] == pytest.approx(0.8, abs=1e-6)
    assert metrics["heads/hyperbolic"] == 2.0 and metrics["heads/spherical"] == 1.0
    assert len(metrics) == 4 + 3
    assert head_census(GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))).empty


def test_plot_writes_a_png(tmp_path) -> None:
    path = plot_census(head_census(model_with(KAPPAS)), tmp_path / "sub" / "census.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert sorted(p.name for p in path.parent.iterdir()) == ["census.png"]  # no temp file left behind


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(heads)
    app.command("noop")(lambda: None)  # two commands, so `heads` is invoked by name as under `analyze`
    return app


def test_heads_command_reads_a_checkpoint(tmp_path) -> None:
    model_with(KAPPAS, cls=GeoForSequenceClassification, num_labels=2).save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "report"
    result = CliRunner().invoke(cli(), ["heads", str(tmp_path / "ckpt"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "spherical" in result.output and str(out) in result.output.replace("\n", "")
    census = pd.read_csv(out / "census.csv")
    assert census["class"].tolist() == ["hyperbolic", "euclidean", "spherical", "hyperbolic"]
    assert census["kappa"].tolist() == pytest.approx([-1.5, 0.05, 0.8, -0.3], abs=1e-6)
    assert pd.read_csv(out / "counts.csv", index_col="layer").loc["all"].tolist() == [2, 1, 1]
    assert (out / "census.png").stat().st_size > 5000


def test_heads_command_writes_into_the_run_by_default(tmp_path, monkeypatch) -> None:
    model_with(KAPPAS).save_pretrained(tmp_path / "run" / "best")
    monkeypatch.chdir(tmp_path / "run")  # not where the report goes
    result = CliRunner().invoke(cli(), ["heads", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "heads-best" / "census.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best", "heads-best"]


def test_heads_command_refuses_a_model_without_curvature_heads(tmp_path) -> None:
    GeoForCausalLM(GeoConfig.from_preset("llama-tiny")).save_pretrained(tmp_path)
    result = CliRunner().invoke(cli(), ["heads", str(tmp_path), "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, CheckpointError) and "no curvature attention heads" in str(result.exception)
    assert not (tmp_path / "out").exists()
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        heads(tmp_path / "missing", None)


def test_trainer_logs_kappa_per_head(tmp_path):
    import json

    from geolm.config import GeoConfig
    from geolm.data import TokenBlocks
    from geolm.modeling import GeoForCausalLM
    from geolm.training import TrainArgs, train

    model = GeoForCausalLM(GeoConfig.from_preset("curvature-tiny", vocab_size=64))
    blocks = TokenBlocks(torch.randint(0, 64, (8, 16)), torch.randint(0, 64, (8, 16)))
    args = TrainArgs(steps=2, batch_size=4, warmup_steps=1, log_every=1, eval_every=0, save_every=0)
    train(model, blocks, None, args, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "loss" in r and "event" not in r]
    assert logged and {"kappa/L0H0", "kappa/L0H1", "heads/euclidean"} <= set(logged[-1])
    assert logged[-1]["heads/euclidean"] + logged[-1]["heads/hyperbolic"] + logged[-1]["heads/spherical"] == 2
