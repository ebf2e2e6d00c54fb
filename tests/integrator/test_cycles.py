"""The equilibrium/exploration cycles as curriculum data, and training an integrator model through them."""

from __future__ import annotations

import json

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.data import TokenBlocks
from geolm.integrator.curriculum import CYCLE_PRESETS, cycle_curriculum
from geolm.integrator.layer import ENERGY, EQUILIBRIUM, SPEED, IntegratorFFN
from geolm.training import TrainArgs, train

WEIGHTS = IntegratorFFN.aux_loss_weights


def test_the_balanced_preset_is_the_seeds_ten_twenty_five_times() -> None:
    curriculum = cycle_curriculum("balanced")
    names = [phase.name for phase in curriculum.phases]
    assert names == [f"{kind}_{i}" for i in range(5) for kind in ("equilibrium", "exploration")]
    assert [phase.length for phase in curriculum.phases] == pytest.approx([10 / 150, 20 / 150] * 5)
    preset = CYCLE_PRESETS["balanced"]
    for index, phase in enumerate(curriculum.phases):
        cycle, exploring = divmod(index, 2)
        decay = preset.anneal**cycle
        pull = preset.exploration_pull if exploring else preset.equilibrium_pull
        excitation = preset.exploration_excitation if exploring else preset.equilibrium_excitation
        assert phase.part_settings == {"ffn": {"excitation_scale": excitation}}
        assert phase.losses[EQUILIBRIUM] == pytest.approx(WEIGHTS[EQUILIBRIUM] * pull * decay)
        assert phase.losses[ENERGY] == pytest.approx(WEIGHTS[ENERGY] * decay)
        assert phase.losses[SPEED] == pytest.approx(WEIGHTS[SPEED] * decay)


def test_every_preset_fits_an_integrator_model_and_no_other() -> None:
    from geolm.errors import ConfigError

    model = GeoForCausalLM(GeoConfig.from_preset("inl-tiny"))
    names = [name for name, _ in model.named_parameters()]
    plain = GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))
    for name, preset in CYCLE_PRESETS.items():
        curriculum = cycle_curriculum(name)
        assert len(curriculum.phases) == 2 * preset.cycles
        assert sum(phase.length for phase in curriculum.phases) == pytest.approx(1.0)
        curriculum.validate(["train"], names, model.default_loss_weights())
        for phase in curriculum.phases:
            model.check_part_settings(phase.part_settings)
        # the regularisers and the excitation belong to the integrator layers: a plain Llama has neither
        with pytest.raises(ConfigError, match="unknown loss 'integrator_"):
            curriculum.validate(["train"], [n for n, _ in plain.named_parameters()], plain.default_loss_weights())
        with pytest.raises(ConfigError, match=r"the ffn part 'swiglu' takes no settings"):
            plain.check_part_settings(curriculum.phases[0].part_settings)


def test_training_follows_the_cycles_weights_and_excitation(tmp_path, monkeypatch) -> None:
    torch.manual_seed(0)
    model = GeoForCausalLM(GeoConfig.from_preset("inl-tiny"))
    scales: list[float] = []
    original = IntegratorFFN.excitation

    def spy(self, iteration, scale):  # called once per forward, for all its iterations
        if self.layer_idx == 0 and self.training:
            scales.append(scale)
        return original(self, iteration, scale)

    monkeypatch.setattr(IntegratorFFN, "excitation", spy)
    ids = torch.randint(3, 512, (16, 16), generator=torch.Generator().manual_seed(0))
    args = TrainArgs(steps=15, batch_size=4, lr=1e-2, warmup_steps=1, eval_every=0, save_every=0, log_every=1)
    curriculum = cycle_curriculum("balanced")
    train(model, TokenBlocks(ids, ids.clone()), None, args, tmp_path, curriculum=curriculum)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r and "event" not in r]
    assert len(steps) == 15
    for row in steps:
        phase = curriculum.phases[curriculum.phase_index(row["step"] - 1, 15)]
        expected = row["loss/lm"] + sum(
            phase.losses[name] * row[f"loss/{name}"] for name in (EQUILIBRIUM, ENERGY, SPEED)
        )
        assert row["loss"] == pytest.approx(expected, rel=1e-6)
        assert 1 <= row["stats/integrator_iterations"] <= 4
        layers = [row[f"stats/integrator_layer_iterations/{i}"] for i in range(2)]
        assert sum(layers) / 2 == pytest.approx(row["stats/integrator_iterations"], rel=1e-6)
    expected_scales = [
        curriculum.phases[curriculum.phase_index(step, 15)].part_settings["ffn"]["excitation_scale"]
        for step in range(15)
    ]
    assert scales == expected_scales
    assert len({*scales}) == 2


def test_the_cycle_preset_flag_reaches_the_recipe() -> None:
    from geolm.cli.recipe_flags import parse_recipe_flags
    from geolm.data import TokenBlocks
    from geolm.errors import ConfigError
    from geolm.integrator.curriculum import CycleOptions
    from geolm.training.recipes import RECIPES, RecipeInputs, recipe_options

    options = parse_recipe_flags("inl", ["--cycle-preset", "settle"])
    assert options == CycleOptions("settle") == recipe_options("inl", {"cycle_preset": "settle"})
    blocks = TokenBlocks(torch.zeros(2, 8, dtype=torch.long), torch.zeros(2, 8, dtype=torch.long))
    curriculum, sources = RECIPES.get("inl")(RecipeInputs(None, blocks, 8, 0, options))
    assert curriculum.phases[0].length == pytest.approx(20 / 150) and set(sources) == {"train"}
    default, _ = RECIPES.get("inl")(RecipeInputs(None, blocks, 8, 0))
    assert default.phases[0].length == pytest.approx(10 / 150)
    with pytest.raises(ConfigError, match="--cycle-preset: must be one of balanced, settle, explore, got 'wild'"):
        parse_recipe_flags("inl", ["--cycle-preset", "wild"])
    with pytest.raises(ConfigError, match=r"recipe 'inl' options\['cycle_preset'\] must be one of"):
        recipe_options("inl", {"cycle_preset": "wild"})
    with pytest.raises(ConfigError, match="recipe 'inl' options: unknown key 'cycle'"):
        recipe_options("inl", {"cycle": "settle"})


def test_a_resumed_cycle_run_reproduces_the_straight_run(tmp_path) -> None:
    ids = torch.randint(3, 512, (16, 16), generator=torch.Generator().manual_seed(1))
    data = TokenBlocks(ids, ids.clone())

    def run(out, stop_after=None, resume=None, seed=0):
        torch.manual_seed(seed)
        model = GeoForCausalLM(GeoConfig.from_preset("inl-tiny"))
        args = TrainArgs(
            steps=10,
            batch_size=4,
            lr=1e-2,
            warmup_steps=1,
            eval_every=0,
            save_every=0,
            log_every=1,
            stop_after=stop_after,
        )
        train(model, data, None, args, out, curriculum=cycle_curriculum("balanced"), resume=resume)

    run(tmp_path / "straight")
    run(tmp_path / "split", stop_after=5)
    run(tmp_path / "split", resume="auto", seed=123)  # the resume restores weights and every RNG itself

    def losses(out) -> list[float]:
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in rows if "loss" in r and "event" not in r]

    assert len(losses(tmp_path / "straight")) == 10
    assert losses(tmp_path / "split") == losses(tmp_path / "straight")
