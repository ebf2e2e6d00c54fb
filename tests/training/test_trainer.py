import json
import math
import os

import pytest
import torch
from safetensors.torch import load_file
from trainkit import random_blocks, tiny_args, tiny_model
from transformers import AutoModelForCausalLM

import geolm.training.trainer as trainer_module
from geolm.errors import ConfigError, TrainingError
from geolm.training import LOSSES, Curriculum, Phase, train


def weights(run_dir, name="last"):
    return load_file(run_dir / name / "model.safetensors")


def max_diff(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_stop_and_resume_reproduce_a_straight_run(tmp_path, val_blocks, monkeypatch):
    data = random_blocks(10)  # 4 blocks a step: the run crosses two epoch boundaries

    def run(name, val=val_blocks, **extra):
        args = tiny_args(steps=6, grad_accum=2, eval_every=2, stop_after=extra.pop("stop_after", None))
        return train(tiny_model(attention_dropout=0.1), data, val, args, tmp_path / name, **extra)

    straight = run("a")
    first = run("b", stop_after=3)
    assert first.step == 3 and sorted(first.losses) == [1, 2, 3]
    second = run("b", resume="auto")
    assert sorted(second.losses) == [4, 5, 6]
    resumed = {**first.losses, **second.losses}
    assert max(abs(resumed[s] - straight.losses[s]) for s in straight.losses) <= 1e-6
    assert max_diff(weights(tmp_path / "a"), weights(tmp_path / "b")) <= 1e-6
    assert second.best_val_loss == pytest.approx(straight.best_val_loss, abs=1e-6)
    # metrics.jsonl holds each step once, with the straight run's numbers
    expected = [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in records(tmp_path / "a")]
    got = [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in records(tmp_path / "b")]
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for a, b in zip(expected, got, strict=True):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], abs=1e-6) for k in a)
    # the dropout RNG state matters: skipping its restore changes the continued losses
    monkeypatch.setattr("geolm.training.checkpoint.restore_rng", lambda states: None)
    run("c", val=None, stop_after=3)
    torch.manual_seed(123)
    unrestored = run("c", val=None, resume="auto")
    assert abs(unrestored.losses[4] - straight.losses[4]) > 1e-5


def test_last_checkpoint_loads_with_auto_classes(tmp_path, blocks):
    result = train(tiny_model(), blocks, None, tiny_args(steps=2), tmp_path)
    assert result.last_checkpoint == tmp_path / "last" and result.best_checkpoint is None
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "last")
    assert max_diff(weights(tmp_path), loaded.state_dict()) == 0.0
    state = json.loads((tmp_path / "last" / "trainer_state" / "state.json").read_text())
    assert state["step"] == 2 and state["data"] == {"train": [0, 4]}
    config = json.loads((tmp_path / "last" / "trainer_state" / "run_config.json").read_text())
    assert config["train_args"]["steps"] == 2 and config["model_config"]["hidden_size"] == 64


def test_gradient_accumulation_equals_one_bigger_batch(tmp_path):
    data = random_blocks(24)
    mask = torch.rand(data.labels.shape, generator=torch.Generator().manual_seed(0)) < 0.4
    data.labels[mask] = -100  # uneven loss tokens per micro-batch: token weighting must handle them
    big = train(tiny_model(), data, None, tiny_args(steps=3, batch_size=4), tmp_path / "big")
    split = train(tiny_model(), data, None, tiny_args(steps=3, batch_size=2, grad_accum=2), tmp_path / "split")
    assert max(abs(big.losses[s] - split.losses[s]) for s in big.losses) <= 1e-6
    # Adam turns float rounding in near-zero gradients into ~1e-5 weight noise; weighting micro-batches
    # equally instead of by loss tokens moves the weights by ~1e-3 here
    assert max_diff(weights(tmp_path / "big"), weights(tmp_path / "split")) <= 1e-4


def test_metrics_jsonl_trackers_and_plot(tmp_path, blocks, val_blocks):
    args = tiny_args(steps=6, log_every=2, eval_every=3, report_to=["tensorboard"])
    result = train(tiny_model(), blocks, val_blocks, args, tmp_path)
    rows = records(tmp_path)
    train_rows = [r for r in rows if "loss" in r and "event" not in r]
    assert [r["step"] for r in train_rows] == [2, 4, 6]
    for row in train_rows:
        assert row["loss"] == pytest.approx(result.losses[row["step"]])
        assert row["tokens_per_s"] > 0 and row["loss/lm"] == pytest.approx(row["loss"])
    assert train_rows[0]["lr"] == pytest.approx(1e-2)
    assert train_rows[-1]["lr"] == pytest.approx(1e-3)  # min_lr_ratio 0.1 at the last step
    evals = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in evals] == [3, 6]
    assert all(r["val_ppl"] == pytest.approx(math.exp(r["val_loss"]), rel=1e-5) for r in evals)
    assert result.best_val_loss == min(r["val_loss"] for r in evals)
    phases = [r for r in rows if r.get("event") == "phase"]
    assert phases == [{"step": 0, "event": "phase", "phase": "main", "index": 0}]
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((tmp_path / "trackers").rglob("events.out.tfevents*"))


def test_unknown_tracker_is_refused(tmp_path, blocks):
    with pytest.raises(
        ConfigError, match=r"--report-to: unknown tracker 'tensorbored' \(did you mean 'tensorboard'\?\)"
    ):
        train(tiny_model(), blocks, None, tiny_args(report_to=["tensorbored"]), tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is refused only without a GPU")
def test_fp16_without_a_gpu_is_refused(tmp_path, blocks):
    with pytest.raises(ConfigError, match="--mixed-precision fp16 needs a GPU"):
        train(tiny_model(), blocks, None, tiny_args(mixed_precision="fp16"), tmp_path)


class Poison:
    """A loss term that turns the loss (and its gradients) into NaN on chosen calls."""

    def __init__(self) -> None:
        self.calls, self.bad = 0, set()

    def __call__(self, model, batch, outputs):
        self.calls += 1
        return outputs.loss * (math.nan if self.calls in self.bad else 0.0)


POISON = LOSSES.register("test_poison")(Poison())
POISONED = Curriculum([Phase("main", losses={"lm": 1.0, "test_poison": 1.0})])


def test_nonfinite_steps_are_skipped_and_counted(tmp_path, blocks):
    POISON.calls, POISON.bad = 0, {2, 4}
    result = train(tiny_model(), blocks, None, tiny_args(steps=6), tmp_path, curriculum=POISONED)
    assert result.skipped_steps == 2
    assert [s for s, v in result.losses.items() if math.isnan(v)] == [2, 4]
    events = [r for r in records(tmp_path) if r.get("event") == "nonfinite"]
    assert [r["step"] for r in events] == [2, 4] and events[0]["loss"] is None
    assert all(torch.isfinite(w).all() for w in weights(tmp_path).values())
    optimizer = torch.load(tmp_path / "last" / "trainer_state" / "optimizer.pt", weights_only=True)
    assert {int(s["step"]) for s in optimizer["state"].values()} == {4}  # only the four good steps updated


def test_too_many_nonfinite_steps_stop_with_the_last_good_checkpoint(tmp_path, blocks):
    POISON.calls, POISON.bad = 0, set(range(3, 100))
    args = tiny_args(steps=10, save_every=2, max_bad_steps=3)
    with pytest.raises(TrainingError, match=r"3 non-finite steps in a row .*Last good checkpoint: .*last"):
        train(tiny_model(), blocks, None, args, tmp_path, curriculum=POISONED)
    state = json.loads((tmp_path / "last" / "trainer_state" / "state.json").read_text())
    assert state["step"] == 2 and state["skipped_steps"] == 0
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "last")
    assert all(torch.isfinite(p).all() for p in loaded.parameters())


class Probe:
    """A zero-valued loss term that records how often it runs."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model, batch, outputs):
        self.calls += 1
        return outputs.loss * 0.0


PROBE = LOSSES.register("test_probe")(Probe())


def test_curriculum_phases_switch_losses_and_freeze(tmp_path, blocks):
    curriculum = Curriculum(
        [
            Phase("warm", length=0.5, freeze=["embeddings"]),
            Phase("full", length=0.5, losses={"lm": 1.0, "test_probe": 0.5}, lr_mult={"embeddings": 2.0}),
        ],
        groups={"embeddings": ["*embed_tokens*"]},
    )
    initial = {k: v.clone() for k, v in tiny_model().state_dict().items()}
    PROBE.calls = 0
    train(tiny_model(), blocks, None, tiny_args(steps=4, stop_after=2), tmp_path, curriculum=curriculum)
    after_warm = weights(tmp_path)
    assert PROBE.calls == 0
    assert torch.equal(after_warm["model.embed_tokens.weight"], initial["model.embed_tokens.weight"])
    assert not torch.equal(after_warm["model.norm.weight"], initial["model.norm.weight"])
    train(tiny_model(), blocks, None, tiny_args(steps=4), tmp_path, curriculum=curriculum, resume="auto")
    assert PROBE.calls == 2
    assert not torch.equal(weights(tmp_path)["model.embed_tokens.weight"], initial["model.embed_tokens.weight"])
    rows = records(tmp_path)
    assert [(r["step"], r["phase"]) for r in rows if r.get("event") == "phase"] == [(0, "warm"), (2, "full")]
    assert "loss/test_probe" not in rows[1] and rows[-1]["loss/test_probe"] == 0.0


def test_bf16_autocast_and_gradient_checkpointing(tmp_path, blocks):
    plain = train(tiny_model(), blocks, None, tiny_args(steps=2), tmp_path / "plain")
    ckpt = train(tiny_model(), blocks, None, tiny_args(steps=2, gradient_checkpointing=True), tmp_path / "ckpt")
    bf16 = train(tiny_model(), blocks, None, tiny_args(steps=2, mixed_precision="bf16"), tmp_path / "bf16")
    assert max(abs(plain.losses[s] - ckpt.losses[s]) for s in plain.losses) <= 1e-6
    assert max(abs(plain.losses[s] - bf16.losses[s]) for s in plain.losses) < 0.05
    assert plain.losses[1] != bf16.losses[1]  # autocast really ran in bfloat16


def test_after_bf16_training_the_model_computes_in_float32_again(tmp_path, blocks):
    model = tiny_model()
    train(model, blocks, None, tiny_args(steps=2, mixed_precision="bf16"), tmp_path)
    twin = tiny_model()
    twin.load_state_dict(model.state_dict())
    ids = blocks.input_ids[:2]
    torch.testing.assert_close(model(ids).logits, twin(ids).logits, atol=1e-6, rtol=0)


def test_trainer_module_exposes_one_entry_point():
    assert trainer_module.train is train


def test_llama_tiny_memorises_four_random_blocks(tmp_path):
    """A short golden curve: from ln(512) = 6.24 to near 2 in 30 steps on data it sees every step."""
    data = random_blocks(4)
    args = tiny_args(steps=30, batch_size=4, lr=3e-3, warmup_steps=3, eval_every=30, log_every=10)
    result = train(tiny_model(), data, data, args, tmp_path)
    assert result.losses[1] == pytest.approx(math.log(512), abs=0.1)
    assert result.losses[10] < 4.5 and result.losses[30] < 2.6
    assert all(result.losses[s + 5] < result.losses[s] for s in range(5, 30, 5))
    assert result.best_val_loss < 2.6


def test_wandb_tracker_runs_offline(tmp_path, blocks, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    train(tiny_model(), blocks, None, tiny_args(steps=2, log_every=1, report_to=["wandb"]), tmp_path)
    assert os.environ["WANDB_MODE"] == "offline"
    runs = list(tmp_path.rglob("offline-run-*"))
    assert runs and list(runs[0].rglob("*.wandb"))  # the run was recorded locally, nothing was sent


def test_a_time_budget_fits_the_schedule_to_the_measured_steps(tmp_path, monkeypatch):
    """A clock that advances one second a reading: the first step is left out, the next five take a second
    each, so a 15-second budget read after six steps (six seconds gone) leaves room for nine more."""
    import geolm.training.budget as budget_module

    readings = iter(range(10_000))
    monkeypatch.setattr(budget_module, "now", lambda: float(next(readings)))
    args = tiny_args(steps=1000, warmup_steps=None, minutes=0.25)
    result = train(tiny_model(), random_blocks(64), None, args, tmp_path)
    assert result.step == 15 and len(result.losses) == 15
    assert args.steps == 15 and args.warmup_steps == 1  # the warmup of a 15-step run, not of the 1000 guessed
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"step": 6, "event": "budget", "steps": 15} in records
    with pytest.raises(ConfigError, match="minutes"):
        tiny_args(minutes=0)
