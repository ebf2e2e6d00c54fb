"""Training a mixture of geometric experts: the router's losses are added and logged, its statistics too."""

import json

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.data import TokenBlocks
from geolm.training import TrainArgs, train


def test_router_losses_are_on_by_default_and_the_load_is_logged(tmp_path) -> None:
    torch.manual_seed(0)
    model = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny"))
    ids = torch.randint(3, 512, (16, 16), generator=torch.Generator().manual_seed(0))
    args = TrainArgs(steps=2, batch_size=4, lr=1e-2, warmup_steps=1, eval_every=0, save_every=0, log_every=1)
    train(model, TokenBlocks(ids, ids.clone()), None, args, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for row in (r for r in rows if "loss" in r and "event" not in r):
        expected = row["loss/lm"] + 0.01 * row["loss/router_balance"] + 0.001 * row["loss/router_z"]
        assert row["loss"] == pytest.approx(expected, rel=1e-6)
        assert row["loss/router_balance"] > 0 and row["loss/router_z"] > 0
        load = [row[f"stats/expert_load/{e}"] for e in range(7)]
        assert sum(load) == pytest.approx(1.0, abs=1e-6) and row["stats/router_entropy"] > 0
