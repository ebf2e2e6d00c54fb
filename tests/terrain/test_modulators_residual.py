"""Residual modulator: hooks on geolm and BERT, fixed and learned alpha, frozen-base training, comparisons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from geolm import GeoConfig, GeoForCausalLM
from geolm.data.tokenizer import train_tokenizer
from geolm.errors import ConfigError, InputError
from geolm.inference import SamplingOptions
from geolm.terrain.modulators import (
    SEED_ALPHA,
    FieldConfig,
    GeometricFieldModulator,
    GeometricResidualModulator,
    attach,
    coherence,
    find_blocks,
    side_by_side,
    train_modulator,
)

WORDS = [
    "dog",
    "cat",
    "wolf",
    "fox",
    "lion",
    "tiger",
    "bird",
    "eagle",
    "owl",
    "tree",
    "oak",
    "pine",
    "rose",
    "tool",
    "knife",
    "saw",
    "car",
    "truck",
    "boat",
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer([" ".join(WORDS)] * 4 + ["the animal ran to the tree"] * 4, vocab_size=300, min_frequency=1)


@pytest.fixture
def lm():
    torch.manual_seed(0)
    return GeoForCausalLM(GeoConfig.from_preset("llama-tiny")).eval()


def residual(model, alpha: float, learn: bool = False, proj_std: float = 0.01) -> GeometricResidualModulator:
    c = model.config
    return GeometricResidualModulator(
        c.vocab_size,
        c.hidden_size,
        c.num_hidden_layers,
        geo_dim=8,
        alpha=alpha,
        learn_alpha=learn,
        proj_std=proj_std,
    )


def ids(n: int = 7) -> torch.Tensor:
    return torch.arange(10, 10 + 2 * n).view(2, n)


def test_alpha_zero_leaves_geolm_logits_unchanged_and_detach_restores(lm):
    before = lm(ids()).logits
    with attach(lm, residual(lm, 0.0, proj_std=1.0)) as attached:
        assert torch.equal(lm(ids()).logits, before)
        attached.modulator.alpha.fixed.fill_(0.5)
        changed = lm(ids()).logits
    assert not attached.attached
    assert (changed - before).abs().max() > 1e-3
    assert torch.equal(lm(ids()).logits, before)


def test_hooks_attach_to_hf_encoder():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)
    bert = BertModel(config).eval()
    assert find_blocks(bert) is bert.encoder.layer
    x = torch.randint(0, 50, (2, 6))
    before = bert(input_ids=x).last_hidden_state
    modulator = GeometricResidualModulator(50, 32, 3, geo_dim=4, alpha=0.0, learn_alpha=False, proj_std=1.0)
    attached = attach(bert, modulator)
    assert torch.equal(bert(input_ids=x).last_hidden_state, before)
    modulator.alpha.fixed.fill_(0.3)
    out = bert(input_ids=x, output_hidden_states=True)
    assert (out.last_hidden_state - before).abs().max() > 1e-2
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    attached.detach()
    assert torch.equal(bert(input_ids=x).last_hidden_state, before)


def test_fixed_alpha_applies_exactly_that_alpha(lm):
    modulator = residual(lm, SEED_ALPHA, proj_std=0.5)
    assert modulator.alpha().tolist() == pytest.approx([SEED_ALPHA] * 2, abs=1e-8)
    assert not list(modulator.alpha.parameters())
    base = lm(ids(), output_hidden_states=True).hidden_states[1]  # output of block 0 = input of block 1
    with attach(lm, modulator, layers=[0]):
        modulated = lm(ids(), output_hidden_states=True).hidden_states[1]
    a = torch.tensor(SEED_ALPHA)
    expected = (1 - a) * base + a * modulator.target(ids())
    torch.testing.assert_close(modulated, expected, rtol=0, atol=1e-6)


def test_learned_alpha_bounds_are_checked(lm):
    with pytest.raises(ConfigError, match=r"alpha=1\.0 must lie"):
        residual(lm, 1.0, learn=True)
    assert residual(lm, 0.01, learn=True).alpha().tolist() == pytest.approx([0.01, 0.01])


def test_residual_modulator_needs_input_ids(lm):
    with attach(lm, residual(lm, 0.1)), pytest.raises(InputError, match="input_ids"):
        lm(inputs_embeds=torch.randn(1, 3, lm.config.hidden_size))


def test_layer_out_of_range_is_refused(lm):
    with pytest.raises(InputError, match=r"layers \[5\] out of range"):
        attach(lm, residual(lm, 0.1), layers=[5])


def _pairs() -> np.ndarray:
    return np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]])


def test_training_freezes_base_and_tracks_alpha_per_step_and_layer(lm, tokenizer):
    modulator = residual(lm, 0.05, learn=True)
    snapshot = {k: v.clone() for k, v in lm.state_dict().items()}
    start = {k: v.clone() for k, v in modulator.state_dict().items()}
    with attach(lm, modulator) as attached:
        trace = train_modulator(attached, tokenizer, WORDS, _pairs(), steps=3, batch_size=4, lr=0.05, progress=False)
    assert all(p.grad is None for p in lm.parameters())
    assert all(p.requires_grad for p in lm.parameters())  # restored after training
    assert all(torch.equal(v, snapshot[k]) for k, v in lm.state_dict().items())
    assert not torch.equal(modulator.alpha.logit, start["alpha.logit"])
    assert not torch.equal(modulator.proj.weight, start["proj.weight"])
    assert len(trace.loss) == 3 and np.isfinite(trace.loss["loss"]).all()
    assert len(trace.alpha) == 3 * 2
    assert trace.alpha.groupby("step")["layer"].apply(list).tolist() == [[0, 1]] * 3
    final = trace.alpha[trace.alpha["step"] == 2]["alpha"].to_numpy()
    np.testing.assert_allclose(final, modulator.alpha().detach().numpy(), rtol=1e-6)
    assert not np.allclose(final, 0.05)


def test_fixed_alpha_survives_training(lm, tokenizer):
    modulator = residual(lm, SEED_ALPHA)
    with attach(lm, modulator) as attached:
        trace = train_modulator(attached, tokenizer, WORDS, _pairs(), steps=2, batch_size=4, lr=0.05, progress=False)
    assert (trace.alpha["alpha"] == modulator.alpha().tolist()[0]).all()
    assert modulator.alpha.fixed.tolist() == pytest.approx([SEED_ALPHA] * 2, abs=1e-8)


def test_field_training_tracks_layer_and_expert(lm, tokenizer):
    modulator = GeometricFieldModulator(FieldConfig(hidden_size=64, n_layers=2, ks=(1, 2)))
    with attach(lm, modulator) as attached:
        trace = train_modulator(attached, tokenizer, WORDS, _pairs(), steps=2, batch_size=4, progress=False)
    assert len(trace.alpha) == 2 * 2 * 2
    assert set(trace.alpha["expert"]) == {"k1", "k2"}


def test_side_by_side_and_coherence_on_tiny_geolm(lm, tokenizer):
    prompts = ["the dog", "a tree"]
    options = SamplingOptions(greedy=True, max_new_tokens=8, repetition_penalty=1.0)
    with attach(lm, residual(lm, 0.0, proj_std=1.0)) as attached:
        same = side_by_side(attached, tokenizer, prompts, options)
        flat = coherence(attached, tokenizer, prompts)
        attached.modulator.alpha.fixed.fill_(0.9)
        differ = side_by_side(attached, tokenizer, prompts, options)
        moved = coherence(attached, tokenizer, prompts)
    assert list(same.columns) == ["prompt", "base", "modulated", "same"]
    assert same["same"].all() and (same["base"] == same["modulated"]).all()
    assert all(isinstance(t, str) and t for t in differ["base"]) and all(differ["modulated"].str.len() > 0)
    assert not differ["same"].any()
    assert (differ["base"] == same["base"]).all()  # the base run really is unmodulated
    np.testing.assert_allclose(flat["hidden_cos"], 1.0, atol=1e-6)
    np.testing.assert_allclose(flat["loss_base"], flat["loss_modulated"])
    assert (moved["hidden_cos"] < 0.99).all()
    assert (moved["loss_modulated"] != moved["loss_base"]).all()
