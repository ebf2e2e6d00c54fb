"""The mixed presets (`geolm.mixes`): every part at once, held to what every preset must pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.curvature.census import head_census
from geolm.data import TokenBlocks
from geolm.experiments.harness import evaluate
from geolm.experts.moe import LOAD
from geolm.integrator.layer import ITERATIONS
from geolm.params import parameter_table
from geolm.presets import preset_recipe
from geolm.testing import assert_cache_matches_forward, assert_causal
from geolm.training import TrainArgs, train

TINY = ["geo-mix-moe-tiny", "geo-mix-integrator-tiny"]
SMALL = ["geo-mix-moe-small", "geo-mix-integrator-small"]


def built(preset: str, **overrides) -> GeoForCausalLM:
    torch.manual_seed(0)
    return GeoForCausalLM(GeoConfig.from_preset(preset, **{"initializer_range": 0.2, **overrides}))


@pytest.mark.parametrize("preset", TINY + SMALL)
def test_a_mix_holds_every_part_it_names(preset: str) -> None:
    config = GeoConfig.from_preset(preset)
    assert (config.attention, config.modulation) == ("curvature", "coordinate")
    assert config.ffn == ("geometric_moe" if "moe" in preset else "integrator")
    assert config.memory == ("slots" if "moe" in preset else "none")
    assert preset_recipe(preset) == "baseline"
    with torch.device("meta"):
        components = set(parameter_table(GeoForCausalLM(config))["component"])
    assert {"curvature", "coordinate modulation", "coordinate predictor"} <= components
    assert ({"experts", "router", "memory"} if "moe" in preset else {"controller"}) <= components


@pytest.mark.parametrize("preset", TINY)
def test_a_mix_is_causal_and_its_cache_matches_a_full_forward(preset: str) -> None:
    model = built(preset)
    assert_causal(model, length=20)  # longer than the memory's segment of 8 tokens
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=12)
    assert_cache_matches_forward(model, prompt_length=6, new_tokens=6, left_padding=2)
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=5, num_beams=2)


@pytest.mark.parametrize("preset", SMALL)
def test_the_small_mixes_are_causal_and_cache_exact_across_a_memory_segment(preset: str) -> None:
    model = built(preset, initializer_range=0.05)  # its memory writes every 64 tokens
    assert_causal(model, length=12)
    assert_cache_matches_forward(model, prompt_length=60, new_tokens=8)  # the 64th token writes, the rest read it


@pytest.mark.parametrize("preset", TINY)
def test_a_mix_reports_every_parts_statistics(preset: str) -> None:
    model = built(preset)
    stats = model(torch.randint(3, 512, (2, 10))).part_stats
    assert (LOAD in stats) == ("moe" in preset) and (ITERATIONS in stats) == ("integrator" in preset)
    census = head_census(model)  # κ of every attention head (the experts' own κ are not heads)
    assert len(census) == model.config.num_hidden_layers * model.config.num_attention_heads


@pytest.mark.parametrize("preset", TINY)
def test_a_mix_trains_and_a_resumed_run_reproduces_the_straight_run(preset: str, tmp_path: Path) -> None:
    ids = torch.randint(3, 512, (16, 16), generator=torch.Generator().manual_seed(1))
    data = TokenBlocks(ids, ids.clone())

    def run(out: Path, stop_after: int | None = None, resume: str | None = None, seed: int = 0) -> list[float]:
        torch.manual_seed(seed)
        settings = {"warmup_steps": 1, "eval_every": 0, "save_every": 0, "log_every": 1, "stop_after": stop_after}
        args = TrainArgs(steps=8, batch_size=4, lr=1e-2, **settings)
        train(GeoForCausalLM(GeoConfig.from_preset(preset)), data, None, args, out, resume=resume)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in rows if "loss" in r and "event" not in r]

    straight = run(tmp_path / "straight")
    assert len(straight) == 8 and straight[-1] < straight[0]
    run(tmp_path / "split", stop_after=4)
    assert run(tmp_path / "split", resume="auto", seed=123) == straight


def test_a_mix_is_scored_by_lm_eval_as_its_likelihoods_say(tmp_path: Path) -> None:
    from test_harness import items, reference_accuracy
    from tiny_checkpoint import build_tokenizer

    tokenizer = build_tokenizer()
    special = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    model = built("geo-mix-moe-tiny", vocab_size=len(tokenizer), **special).eval()
    scores = evaluate(model, tokenizer, ["wordnet_hypernym"], tmp_path, limit=12)
    expected = reference_accuracy(model, tokenizer, items(tmp_path / "tasks", "wordnet_hypernym")[:12])
    assert scores["results"]["wordnet_hypernym"]["acc,none"] == pytest.approx(expected)
