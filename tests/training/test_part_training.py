"""The trainer and the parts' channel: auxiliary losses and their weights, statistics, phase settings,
phase checkpoints, starting at a later phase, and phase learning-rate schedules."""

import json
import math

import example_part  # noqa: F401  (registers the "damped_swiglu" FFN)
import pytest
import torch
from accelerate import Accelerator
from safetensors.torch import load_file
from trainkit import random_blocks, tiny_args, tiny_model

from geolm.errors import CheckpointError, ConfigError
from geolm.modeling import GeoForCausalLM
from geolm.training import Curriculum, Phase, train


def damped():
    return tiny_model(ffn="damped_swiglu")


def rows(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "loss" in r and "event" not in r]


def test_aux_loss_is_added_at_its_default_weight_and_logged(tmp_path, blocks, monkeypatch):
    logged = []
    real_log = Accelerator.log
    monkeypatch.setattr(
        Accelerator,
        "log",
        lambda self, values, step=None, **kw: logged.append(values) or real_log(self, values, step=step, **kw),
    )
    train(damped(), blocks, None, tiny_args(steps=2), tmp_path / "default")
    for row in rows(tmp_path / "default"):
        assert row["loss"] == pytest.approx(row["loss/lm"] + 0.1 * row["loss/ffn_energy"], rel=1e-6)
        assert row["loss/ffn_energy"] > 0 and row["stats/ffn_norm"] > 0
    assert any("stats/ffn_norm" in values and "loss/ffn_energy" in values for values in logged)  # trackers too
    off = Curriculum([Phase("main", losses={"lm": 1.0, "ffn_energy": 0.0})])
    train(damped(), blocks, None, tiny_args(steps=2), tmp_path / "off", curriculum=off)
    for row in rows(tmp_path / "off"):
        assert row["loss"] == pytest.approx(row["loss/lm"], rel=1e-7) and row["loss/ffn_energy"] > 0


def test_aux_losses_and_stats_under_accumulation_and_checkpointing(tmp_path):
    data = random_blocks(24)
    runs = {
        "big": tiny_args(steps=3, batch_size=4),
        "split": tiny_args(steps=3, batch_size=2, grad_accum=2),
        "checkpointed": tiny_args(steps=3, batch_size=4, gradient_checkpointing=True),
    }
    got = {name: rows(train(damped(), data, None, args, tmp_path / name).run_dir) for name, args in runs.items()}
    for key in ("loss", "loss/lm", "loss/ffn_energy", "stats/ffn_norm"):
        for other in ("split", "checkpointed"):
            for a, b in zip(got["big"], got[other], strict=True):
                assert a[key] == pytest.approx(b[key], rel=1e-5), (key, other)
    big = load_file(tmp_path / "big" / "last" / "model.safetensors")
    ckpt = load_file(tmp_path / "checkpointed" / "last" / "model.safetensors")
    assert max(float((big[k] - ckpt[k]).abs().max()) for k in big) <= 1e-5


def damping_curriculum(**second) -> Curriculum:
    return Curriculum(
        [
            Phase("open", length=0.5, checkpoint=True),
            Phase("shut", length=0.5, part_settings={"ffn": {"damping": 0.0}}, **second),
        ]
    )


def test_phase_settings_apply_in_the_phase_on_resume_and_in_evaluation(tmp_path, blocks, val_blocks):
    curriculum = damping_curriculum()
    args = tiny_args(steps=4, eval_every=0)
    train(damped(), blocks, val_blocks, tiny_args(steps=4, stop_after=3), tmp_path, curriculum=curriculum)
    result = train(damped(), blocks, val_blocks, args, tmp_path, curriculum=curriculum, resume="auto")
    by_step = {r["step"]: r for r in rows(tmp_path)}
    assert by_step[1]["stats/ffn_norm"] > 0 and by_step[2]["stats/ffn_norm"] > 0
    assert by_step[3]["stats/ffn_norm"] == 0.0 and by_step[4]["stats/ffn_norm"] == 0.0  # 4 ran after the resume
    assert by_step[4]["loss/ffn_energy"] == 0.0
    # the validation loss at the end was measured with the phase's damping, not the config's
    model = GeoForCausalLM.from_pretrained(tmp_path / "last").eval()
    batch = {"input_ids": val_blocks.input_ids, "labels": val_blocks.labels}
    with torch.no_grad():
        plain = float(model(**batch).loss)
        model.set_part_settings({"ffn": {"damping": 0.0}})
        shut = float(model(**batch).loss)
    assert result.best_val_loss == pytest.approx(shut, rel=1e-5) and abs(plain - shut) > 1e-3


def test_phase_checkpoint_and_starting_at_a_later_phase(tmp_path, blocks):
    def run(name, curriculum, **extra):
        return train(damped(), blocks, None, tiny_args(steps=4), tmp_path / name, curriculum=curriculum, **extra)

    curriculum = damping_curriculum()
    straight = run("a", curriculum)
    phase_ckpt = tmp_path / "a" / "phase-0-open"
    assert json.loads((phase_ckpt / "trainer_state" / "state.json").read_text())["step"] == 2
    later = run("b", curriculum, resume=phase_ckpt, start_phase="shut")
    assert sorted(later.losses) == [3, 4]
    assert all(later.losses[s] == pytest.approx(straight.losses[s], abs=1e-6) for s in (3, 4))
    # a checkpoint from before the phase: the run jumps to the phase's first step
    three = Curriculum([Phase("a", 0.25, checkpoint=True), Phase("b", 0.25), Phase("c", 0.5)])
    run("c", three)
    assert sorted(run("d", three, resume=tmp_path / "c" / "phase-0-a", start_phase=2).losses) == [3, 4]
    with pytest.raises(CheckpointError, match="needs a checkpoint to start from"):
        run("e", three, start_phase="c")
    with pytest.raises(CheckpointError, match="is at step 4, past the start of phase 1"):
        run("f", three, resume=tmp_path / "c", start_phase="b")
    with pytest.raises(ConfigError, match=r"no phase 'z' in the curriculum; phases: 0 'a', 1 'b', 2 'c'"):
        run("g", three, resume=tmp_path / "c", start_phase="z")


def test_a_phase_runs_its_own_learning_rate_schedule(tmp_path, blocks):
    curriculum = damping_curriculum(lr_schedule={"peak": 0.05, "warmup_steps": 0, "min_lr_ratio": 0.5})
    train(damped(), blocks, None, tiny_args(steps=4), tmp_path, curriculum=curriculum)
    lrs = [r["lr"] for r in rows(tmp_path)]
    assert lrs[2:] == pytest.approx([0.05, 0.025])
    with pytest.raises(ConfigError, match="lr_schedule 'peak' must be a positive number"):
        train(
            damped(),
            blocks,
            None,
            tiny_args(steps=4),
            tmp_path / "bad",
            curriculum=damping_curriculum(lr_schedule={"peak": 0}),
        )


def test_phase_settings_are_checked_before_training(tmp_path, blocks):
    bad = Curriculum([Phase("main", part_settings={"ffn": {"damping": 3.0}})])
    with pytest.raises(
        ConfigError, match=r"curriculum phase 0 \('main'\): part_settings\['ffn'\]\['damping'\] must be in"
    ):
        train(damped(), blocks, None, tiny_args(steps=2), tmp_path, curriculum=bad)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_frozen_parameters_get_no_gradient_while_frozen(tmp_path, blocks):
    curriculum = Curriculum([Phase("a", 0.5, freeze=["*.mlp.*"]), Phase("b", 0.5)])
    model = damped()
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, blocks, None, tiny_args(steps=4, stop_after=2), tmp_path, curriculum=curriculum)
    after = load_file(tmp_path / "last" / "model.safetensors")
    assert torch.equal(after["model.layers.0.mlp.up_proj.weight"], start["model.layers.0.mlp.up_proj.weight"])
    optimizer = torch.load(tmp_path / "last" / "trainer_state" / "optimizer.pt", weights_only=True)
    assert len(optimizer["state"]) < len(start)  # Adam holds no moments for what was frozen throughout
    assert all(math.isfinite(float(v.abs().sum())) for v in after.values())
