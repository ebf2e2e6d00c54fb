"""Small curvature models whose heads are really curved: fixed κ per head and queries/keys long enough
(‖q/√D‖ around 1) for the geometry to change the scores, which a fresh model's short vectors barely do."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import geolm.curvature  # noqa: F401 (registers the part and presets)
from geolm.config import GeoConfig
from geolm.curvature import KAPPA_MAX, CurvatureAttention
from geolm.modeling import GeoForCausalLM


def curve(model: torch.nn.Module, kappas: list[float], qk_gain: float = 6.0) -> torch.nn.Module:
    """Set every layer's head curvatures to `kappas` and scale its query/key projections by `qk_gain`."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, CurvatureAttention):
                module.raw_kappa.copy_(torch.atanh(torch.tensor(kappas) / KAPPA_MAX))
                module.q_proj.weight.mul_(qk_gain)
                module.k_proj.weight.mul_(qk_gain)
    return model.eval()


@pytest.fixture
def make_model() -> Callable[..., GeoForCausalLM]:
    """Factory: a curved causal LM from a preset (default curvature-tiny at vocabulary 256) with overrides."""

    def make(preset: str = "curvature-tiny", kappas: list[float] | None = None, seed: int = 0, **overrides):
        config = GeoConfig.from_preset(preset, **{"vocab_size": 256, **overrides})
        torch.manual_seed(seed)
        model = GeoForCausalLM(config)
        heads = config.num_attention_heads
        return curve(model, kappas if kappas is not None else torch.linspace(-1.8, 1.8, heads).tolist())

    return make
