"""The squared score of curvature attention: −√D·(d² − d₀²)/(8τ), exactly scaled dot-product attention at κ = 0,
τ = 1, and causal, cache-exact and differentiable at every curvature."""

from __future__ import annotations

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.curvature.attention import squared_distance
from geolm.errors import ConfigError
from geolm.testing import assert_cache_matches_forward, assert_causal

KAPPAS = [-2.0, -1e-6, 0.0, 1e-6, 2.0]


@pytest.mark.parametrize("kappa", KAPPAS)
def test_the_squared_distance_has_exact_gradients(kappa: float) -> None:
    g = torch.tensor([1e-3, 0.01, 0.2, 0.45], dtype=torch.float64, requires_grad=True)
    k = torch.tensor(kappa, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(squared_distance, (g, k))
    at_zero = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # points that meet: no square root to blow up
    (slope,) = torch.autograd.grad(squared_distance(at_zero, k).sum(), at_zero)
    assert float(slope) == pytest.approx(4.0)
    expected = 4 * g.detach()  # the Euclidean limit
    if kappa == 0.0:
        torch.testing.assert_close(squared_distance(g, k).detach(), expected)


def twins(**attention) -> tuple[GeoForCausalLM, GeoForCausalLM]:
    """A llama-tiny and a curvature model with the squared score holding the same weights."""
    torch.manual_seed(0)
    llama = GeoForCausalLM(GeoConfig.from_preset("llama-tiny")).eval()
    options = {"score": "squared", "init": "zero", "tau": 1.0, **attention}
    curved = GeoForCausalLM(
        GeoConfig.from_preset("llama-tiny", attention="curvature", part_options={"attention": options})
    )
    missing, unexpected = curved.load_state_dict(llama.state_dict(), strict=False)
    assert not unexpected and all(name.endswith(("raw_kappa", "log_tau")) for name in missing)
    return llama, curved.eval()


def test_at_zero_curvature_the_squared_score_is_scaled_dot_product_attention() -> None:
    llama, curved = twins()
    tokens = torch.randint(3, 500, (2, 40), generator=torch.Generator().manual_seed(1))
    padded = torch.ones_like(tokens)
    padded[1, :5] = 0  # left padding
    with torch.no_grad():
        for mask in (None, padded):
            expected = llama(tokens, attention_mask=mask).logits
            assert expected.abs().max() > 0.1
            torch.testing.assert_close(curved(tokens, attention_mask=mask).logits, expected, atol=1e-5, rtol=0)


def test_at_any_curvature_the_squared_score_is_causal_and_cache_exact() -> None:
    _, curved = twins(init="linspace")
    assert float(curved.model.layers[0].self_attn.kappa.detach().abs().max()) > 0.5
    assert_causal(curved)
    assert_cache_matches_forward(curved)
    assert_cache_matches_forward(curved, left_padding=2)
    for kappa in KAPPAS:  # no NaN, masked or not
        with torch.no_grad():
            for layer in curved.model.layers:
                layer.self_attn.raw_kappa.fill_(torch.atanh(torch.tensor(kappa / 2.0)))
            assert torch.isfinite(curved(torch.randint(3, 500, (1, 16))).logits).all()


def test_the_squared_score_refuses_a_fused_kernel() -> None:
    _, curved = twins(kernel="blockwise")
    with pytest.raises(ConfigError, match="the squared score runs on the reference kernel only"):
        curved(torch.randint(3, 500, (1, 8)))
