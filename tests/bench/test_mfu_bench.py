"""The FLOP-utilisation benchmark runs end to end at toy sizes, and its count is the 6N + 12·L·H·Q·T of llama."""

from __future__ import annotations

import pytest
import torch
from benchmarks import mfu_bench, scaling_bench
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from geolm.experiments.leaderboard import FAMILIES
from geolm.experts.experts import grouped_linear


def test_every_family_gets_counted_flops_and_an_mfu_beside_llamas(monkeypatch) -> None:
    monkeypatch.setattr(mfu_bench, "BASE_WIDTH", 32)
    monkeypatch.setattr(mfu_bench, "BASE_LENGTH", 16)
    monkeypatch.setattr(scaling_bench, "STEP_TOKENS", 64)
    monkeypatch.setattr(mfu_bench, "REPEATS", 1)
    monkeypatch.setattr(mfu_bench, "matmul_peak_flops", lambda: 1e9)
    result = mfu_bench.run()
    families = result["families"]
    assert list(families) == list(FAMILIES)
    configs, _ = mfu_bench.point(32, 16)
    llama = configs["llama"]
    model = mfu_bench.built(llama)
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))  # the output head too
    attention = 12 * llama.num_hidden_layers * llama.num_attention_heads * llama.head_dim * 16
    assert families["llama"]["flops_per_token"] == pytest.approx(6 * weights + attention)
    assert families["llama"]["mfu_of_llama"] == 1.0
    # curvature attention's scores are counted through its own operator: a little more than SDPA's (D + 2 wide)
    assert families["curvature"]["flops_per_token"] > families["llama"]["flops_per_token"]
    assert all(row["mfu"] > 0 and row["tokens_per_s"] > 0 for row in families.values())
    assert "| llama | " in mfu_bench.markdown(result)


def test_the_experts_grouped_matmul_is_counted_row_by_row() -> None:
    u, weight = torch.randn(10, 8), torch.randn(3, 12, 8)
    counter = FlopCounterMode(display=False)
    with counter:
        grouped_linear(u, weight, torch.tensor([2, 2, 10], dtype=torch.int32))
    assert counter.get_total_flops() == 2 * 10 * 8 * 12  # every row once through its expert, no padding
