"""Tiny coordinate models whose modulation is strong enough to change the logits (fresh ones barely do)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import geolm.coordinate  # noqa: F401 (registers the part and presets)
from geolm.config import GeoConfig
from geolm.coordinate import find_modulation
from geolm.modeling import GeoForCausalLM


def randomise_modulation(model: GeoForCausalLM, seed: int = 0, scale: float = 0.3) -> GeoForCausalLM:
    """Non-trivial factors and predictor outputs of order one, so angles spread over several radians."""
    generator = torch.Generator().manual_seed(seed)
    modulation = find_modulation(model)
    with torch.no_grad():
        for bank in modulation.banks.values():
            bank.up.copy_(torch.randn(bank.up.shape, generator=generator) * scale)
        fc_out = modulation.predictor.fc_out
        fc_out.weight.copy_(torch.randn(fc_out.weight.shape, generator=generator) * 0.5)
        fc_out.bias.copy_(torch.randn(fc_out.bias.shape, generator=generator) * 0.5)
    return model.eval()


@pytest.fixture
def make_tiny() -> Callable[..., GeoForCausalLM]:
    """Factory: geometric-llama-tiny with part_options overrides, randomised unless `fresh=True`."""

    def make(fresh: bool = False, seed: int = 0, **modulation_options) -> GeoForCausalLM:
        config = GeoConfig.from_preset("geometric-llama-tiny")
        config.part_options["modulation"].update(modulation_options)
        torch.manual_seed(seed)
        model = GeoForCausalLM(config)
        return model.eval() if fresh else randomise_modulation(model, seed)

    return make
