"""Field modulator: simplex templates, gate and alpha bounds, null space, validity and CV checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.errors import ConfigError, InputError
from geolm.terrain.modulators import FieldConfig, GeometricFieldModulator, attach, regular_simplex


def field(**kwargs) -> GeometricFieldModulator:
    torch.manual_seed(0)
    return GeometricFieldModulator(FieldConfig(**{"hidden_size": 32, "n_layers": 2, **kwargs}))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_regular_simplex_has_unit_edges_and_the_textbook_volume(k):
    verts = regular_simplex(k, 8).double()
    edges = torch.cdist(verts, verts)[tuple(torch.triu_indices(k + 1, k + 1, 1))]
    torch.testing.assert_close(edges, torch.ones_like(edges), rtol=0, atol=1e-6)
    torch.testing.assert_close(verts.mean(0), torch.zeros(8, dtype=verts.dtype), rtol=0, atol=1e-6)
    health = field(ks=(k,)).health()
    expected = math.sqrt(k + 1) / (math.factorial(k) * 2 ** (k / 2))
    assert health["template_volume"].iloc[0] == pytest.approx(expected, rel=1e-5)
    assert health["template_valid"].iloc[0]


def test_alphas_stay_inside_the_clamp_and_gates_inside_their_bounds():
    modulator = field(alpha=0.1, alpha_min=0.05, alpha_max=0.3)
    with torch.no_grad():
        modulator.alpha.logit[0] = 50.0
        modulator.alpha.logit[1] = -50.0
        for expert in modulator.experts:
            expert.to_gate.bias.fill_(-20.0)  # every expert gate ~0: the strongest suppression possible
    alphas = modulator.alpha().detach()
    assert alphas[0].tolist() == pytest.approx([0.3] * 3) and alphas[1].tolist() == pytest.approx([0.05] * 3)
    coords = torch.randn(3, 5, 32) @ modulator.active
    for layer, a in ((0, 0.3), (1, 0.05)):
        gate = modulator.gate(coords, layer).detach()
        floor = (1 - a) ** 3
        assert gate.min() >= floor - 1e-6 and gate.max() <= 1.0
        assert gate.min() == pytest.approx(floor, abs=1e-4)


def test_fixed_zero_alpha_is_the_identity():
    modulator = field(alpha=0.0, alpha_min=0.0, learn_alpha=False)
    h = torch.randn(2, 4, 32)
    assert torch.equal(modulator(h, 0), h)


def test_tail_null_space_is_untouched_and_the_rest_moves():
    modulator = field(alpha=0.3, null_fraction=0.25)
    h = torch.randn(2, 6, 32)
    out = modulator(h, 1)
    assert torch.equal(out[..., 24:], h[..., 24:])
    assert (out[..., :24] - h[..., :24]).abs().max() > 1e-3


def test_any_preserved_subspace_gets_no_component_of_the_change():
    gen = torch.Generator().manual_seed(1)
    preserved = torch.linalg.qr(torch.randn(32, 6, generator=gen)).Q
    torch.manual_seed(0)
    modulator = GeometricFieldModulator(FieldConfig(hidden_size=32, n_layers=2, alpha=0.3), preserved=preserved)
    assert modulator.active.shape == (32, 26)
    h = torch.randn(4, 5, 32, generator=gen)
    change = modulator(h, 0) - h
    along = change @ preserved
    assert along.abs().max() < 1e-5 * change.abs().max()
    assert change.norm() > 1e-4 * h.norm()


def test_preserved_basis_must_be_orthonormal():
    with pytest.raises(InputError, match="orthonormal"):
        GeometricFieldModulator(FieldConfig(hidden_size=8, n_layers=1, ks=(1,), edim=2), torch.ones(8, 2))


def test_config_rejects_edim_below_k():
    with pytest.raises(ConfigError, match="edim=2"):
        FieldConfig(hidden_size=8, n_layers=1, ks=(1, 4), edim=2)


def test_validity_monitor_counts_degenerate_simplices():
    modulator = field(ks=(1, 4))
    h = torch.randn(2, 3, 32)
    modulator(h, 0)
    frame = modulator.validity()
    assert frame[frame["layer"] == 0]["simplices"].tolist() == [6, 6]
    assert frame["invalid"].sum() == 0
    collapse = modulator.experts[1]  # k = 4: every vertex pulled onto the origin
    with torch.no_grad():
        collapse.to_deform.weight.zero_()
        collapse.to_deform.bias.copy_(-collapse.template.flatten() / collapse.deform_scale)
    modulator(h, 1)
    frame = modulator.validity().set_index(["layer", "expert"])
    assert frame.loc[(1, "k4"), "invalid"] == 6 and frame.loc[(1, "k1"), "invalid"] == 0
    assert frame.loc[(1, "k4"), "invalid_share"] == 1.0
    modulator.reset_monitor()
    assert modulator.validity()["simplices"].sum() == 0


def test_cv_check_reads_active_coordinates_and_counts_invalid():
    modulator = field(null_fraction=0.5)
    rng = np.random.default_rng(0)
    flat = np.zeros((200, 32))
    flat[:, 16:] = rng.standard_normal((200, 16))  # all variation in the preserved half
    result = modulator.cv_check(flat, n_sets=50)
    assert result["invalid"] == 50 and math.isnan(result["cv"]) and not result["in_band"]
    gauss = modulator.cv_check(rng.standard_normal((500, 32)), n_sets=300)
    assert gauss["invalid"] == 0 and 0.05 < gauss["cv"] < 0.5


def test_field_modulator_hooks_into_geolm():
    torch.manual_seed(0)
    lm = GeoForCausalLM(GeoConfig.from_preset("llama-tiny")).eval()
    x = torch.arange(20, 32).view(2, 6)
    before = lm(x).logits
    modulator = GeometricFieldModulator(FieldConfig(hidden_size=64, n_layers=2, alpha=0.3))
    with attach(lm, modulator):
        after = lm(x).logits
    assert (after - before).abs().max() > 1e-4
    assert modulator.validity()["simplices"].tolist() == [12] * 6
    assert torch.equal(lm(x).logits, before)
