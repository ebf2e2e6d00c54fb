"""The baseline model: agreement with HF Llama, causality, cache, save/load, Auto classes, heads."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    LlamaForCausalLM,
)

import geolm
from geolm import GeoConfig, GeoForCausalLM, GeoForSequenceClassification, GeoForTokenClassification
from geolm.convert import geo_to_llama, llama_to_geo, to_llama_config
from geolm.errors import ConfigError
from geolm.testing import assert_cache_matches_forward, assert_causal, full_forward_greedy


def randomized(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter (norm scales included) random values, so agreement is not an accident of init."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.1 + (1.0 if param.ndim == 1 else 0.0))
    return model.eval()


@pytest.mark.parametrize("tied", [True, False])
def test_logits_match_hf_llama_both_ways(tied: bool) -> None:
    geo = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny", tie_word_embeddings=tied)))
    llama = geo_to_llama(geo).eval()
    assert isinstance(llama, LlamaForCausalLM)
    tokens = torch.randint(0, geo.config.vocab_size, (3, 33))
    with torch.no_grad():
        ours, theirs = geo(tokens).logits, llama(tokens).logits
        assert ours.abs().max() > 1.0  # a real signal, not all zeros
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
        back = llama_to_geo(randomized(LlamaForCausalLM(to_llama_config(geo.config)), seed=1)).eval()
        theirs = LlamaForCausalLM(to_llama_config(geo.config))
        theirs.load_state_dict(back.state_dict())
        torch.testing.assert_close(back(tokens).logits, theirs.eval()(tokens).logits, atol=1e-5, rtol=0)


def test_conversion_refuses_geometric_parts() -> None:
    config = GeoConfig.from_preset("llama-tiny")
    config.attention = "not-a-baseline"
    with pytest.raises(ConfigError, match="baseline"):
        to_llama_config(config)


def test_causal_baseline() -> None:
    assert_causal(randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))))


def test_causality_check_catches_a_leak() -> None:
    """The shared helper must fail on a model that looks ahead (here: a bidirectional encoder)."""
    model = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))
    model.model.causal = False
    with pytest.raises(AssertionError, match="leak"):
        assert_causal(model)


def test_cached_generation_equals_full_forward() -> None:
    model = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))
    sequences = assert_cache_matches_forward(model, prompt_length=6, new_tokens=8)
    assert sequences.shape == (2, 14)


def test_chunked_prefill_after_cache_is_causal() -> None:
    """A multi-token chunk after a cached prefix needs an offset causal mask, not SDPA's top-left one."""
    model = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))
    tokens = torch.randint(0, 512, (2, 12))
    with torch.no_grad():
        full = model(tokens).logits
        first = model(tokens[:, :5], use_cache=True)
        second = model(tokens[:, 5:], past_key_values=first.past_key_values, use_cache=True)
    torch.testing.assert_close(second.logits, full[:, 5:], atol=1e-5, rtol=0)


def test_left_padding_matches_unpadded() -> None:
    model = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))
    tokens = torch.randint(3, 512, (1, 7))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), tokens], dim=1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 7, dtype=torch.long)], dim=1)
    with torch.no_grad():
        plain = model(tokens).logits
        left = model(padded, attention_mask=mask).logits[:, 3:]
    torch.testing.assert_close(left, plain, atol=1e-5, rtol=0)
    batch = torch.cat([padded, torch.randint(3, 512, (1, 10))])
    batch_mask = torch.cat([mask, torch.ones(1, 10, dtype=torch.long)])
    greedy = model.generate(batch, attention_mask=batch_mask, max_new_tokens=4, do_sample=False, pad_token_id=0)
    alone = model.generate(tokens, max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert alone[0, tokens.shape[1] :].tolist() == full_forward_greedy(
        model, tokens[0].tolist(), 4, end_ids=(model.config.eos_token_id,)
    )
    assert torch.equal(greedy[0, 10:], alone[0, 7:])


def test_generate_strategies_run_with_hf_implementations() -> None:
    model = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))
    prompt = torch.randint(3, 512, (1, 4))
    torch.manual_seed(0)
    sampled = model.generate(prompt, do_sample=True, top_k=20, top_p=0.9, temperature=0.8, max_new_tokens=6)
    torch.manual_seed(0)
    again = model.generate(prompt, do_sample=True, top_k=20, top_p=0.9, temperature=0.8, max_new_tokens=6)
    assert torch.equal(sampled, again)
    penalised = model.generate(prompt, do_sample=False, repetition_penalty=5.0, max_new_tokens=8)
    new = penalised[0, 4:].tolist()
    assert len(new) == 8
    # with a huge penalty, greedy decoding avoids repeating the tokens it has seen
    assert len(set(new)) >= 6


@pytest.mark.parametrize(
    "preset", ["llama-tiny", "mgm-tiny", "inl-tiny", "geo-mix-moe-tiny", "geo-mix-integrator-tiny"]
)
def test_save_and_load_in_fresh_process(tmp_path, preset: str) -> None:
    model = randomized(GeoForCausalLM(GeoConfig.from_preset(preset)))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    tokens = torch.arange(3, 19).unsqueeze(0)
    with torch.no_grad():
        expected = model(tokens).logits[0, -1, :5].tolist()
    code = (
        "import torch, geolm, json;"
        "from transformers import AutoModelForCausalLM;"
        f"m = AutoModelForCausalLM.from_pretrained({str(tmp_path)!r});"
        "m.generate(torch.arange(3, 9).unsqueeze(0), max_new_tokens=3, do_sample=False, pad_token_id=0);"
        "print(json.dumps(m(torch.arange(3, 19).unsqueeze(0)).logits[0, -1, :5].tolist()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got = [float(v) for v in out.stdout.strip().strip("[]").split(",")]
    assert got == pytest.approx(expected, abs=1e-6)


def test_auto_classes(tmp_path) -> None:
    config = AutoConfig.for_model("geolm", vocab_size=512, hidden_size=64, num_attention_heads=4)
    assert isinstance(config, GeoConfig)
    assert isinstance(AutoModelForCausalLM.from_config(config), GeoForCausalLM)
    assert isinstance(AutoModelForSequenceClassification.from_config(config), GeoForSequenceClassification)
    assert isinstance(AutoModelForTokenClassification.from_config(config), GeoForTokenClassification)
    GeoForSequenceClassification(GeoConfig.from_preset("llama-tiny", num_labels=3)).save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert isinstance(loaded, GeoForSequenceClassification) and loaded.num_labels == 3


def test_sequence_classification_shapes_and_loss() -> None:
    model = GeoForSequenceClassification(GeoConfig.from_preset("llama-tiny", num_labels=3))
    tokens = torch.randint(3, 512, (4, 9))
    mask = torch.ones_like(tokens)
    mask[0, 6:] = 0
    labels = torch.tensor([0, 2, 1, 1])
    out = model(tokens, attention_mask=mask, labels=labels)
    assert out.logits.shape == (4, 3)
    expected = torch.nn.functional.cross_entropy(out.logits, labels)
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    assert model.score.weight.grad is not None
    # padding must not change the pooled prediction of the padded example
    with torch.no_grad():
        trimmed = model(tokens[:1, :6]).logits
        torch.testing.assert_close(model(tokens[:1], attention_mask=mask[:1]).logits, trimmed, atol=1e-5, rtol=0)


def test_encoder_heads_are_bidirectional() -> None:
    model = randomized(GeoForTokenClassification(GeoConfig.from_preset("llama-tiny", num_labels=5)))
    tokens = torch.randint(3, 512, (2, 8))
    with torch.no_grad():
        before = model(tokens).logits
        changed = tokens.clone()
        changed[:, -1] = (changed[:, -1] + 1) % 512
        after = model(changed).logits
    assert (before[:, 0] - after[:, 0]).abs().max() > 1e-4  # the first token sees the last one


def test_token_classification_loss_ignores_minus_100() -> None:
    model = GeoForTokenClassification(GeoConfig.from_preset("llama-tiny", num_labels=5))
    tokens = torch.randint(3, 512, (2, 8))
    labels = torch.randint(0, 5, (2, 8))
    labels[:, -2:] = -100
    out = model(tokens, labels=labels)
    assert out.logits.shape == (2, 8, 5)
    keep = labels != -100
    expected = torch.nn.functional.cross_entropy(out.logits[keep], labels[keep])
    torch.testing.assert_close(out.loss, expected)


def test_causal_lm_loss_matches_hf() -> None:
    geo = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))
    llama = geo_to_llama(geo).eval()
    tokens = torch.randint(3, 512, (2, 10))
    labels = tokens.clone()
    labels[0, :4] = -100
    with torch.no_grad():
        torch.testing.assert_close(geo(tokens, labels=labels).loss, llama(tokens, labels=labels).loss)


def test_hidden_states_are_returned() -> None:
    model = GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))
    out = model(torch.randint(0, 512, (1, 5)), output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    assert geolm.__version__


def test_generate_uses_geocache() -> None:
    from geolm.nn.cache import GeoCache

    model = randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))
    caches = []
    forward = model.model.forward

    def spy(*args, **kwargs):
        caches.append(kwargs.get("cache"))
        return forward(*args, **kwargs)

    model.model.forward = spy
    model.generate(torch.randint(3, 512, (2, 4)), max_new_tokens=2, do_sample=False, pad_token_id=0)
    assert caches and all(isinstance(c, GeoCache) for c in caches)


def test_part_state_follows_beams_batch_selection_crop_and_reset() -> None:
    from geolm.nn.cache import GeoCache

    cache = GeoCache()
    keys = torch.zeros(3, 1, 4, 2)
    cache.update(keys, keys, 0)  # four cached tokens
    history = torch.arange(12.0).view(3, 4)  # batch on dim 0, one entry per token on dim 1
    cache.set_state("memory", 0, {"history": history}, seq_dims={"history": 1})
    cache.set_state("gate", 1, {"summary": torch.arange(6.0).view(2, 3)}, batch_dim=1)
    cache.reorder_cache(torch.tensor([2, 0, 1]))
    assert cache.state("memory", 0).tensors["history"][:, 0].tolist() == [8.0, 0.0, 4.0]
    assert cache.state("gate", 1).tensors["summary"].tolist() == [[2.0, 0.0, 1.0], [5.0, 3.0, 4.0]]  # dim 1
    cache.batch_select_indices(torch.tensor([0, 2]))
    assert cache.state("memory", 0).tensors["history"][:, 0].tolist() == [8.0, 4.0]
    assert cache.is_croppable
    cache.crop(-1)  # rewinds the history with the keys and values
    assert cache.get_seq_length() == 3 and cache.state("memory", 0).tensors["history"].shape == (2, 3)
    cache.crop(0)  # what generate() calls between steps: a no-op
    cache.set_state("scan", None, {"last": torch.zeros(2, 5)}, rewindable=False)
    assert not cache.is_croppable
    with pytest.raises(NotImplementedError, match=r"part state of scan \(layer None\) keeps no per-token history"):
        cache.crop(-1)
    cache.reset_state("scan")
    assert cache.state("scan") is None and cache.state("memory", 0) is not None
    cache.reset_state()
    assert cache.part_states == {}


@pytest.mark.parametrize("preset", ["geometric-llama-tiny", "curvature-tiny", "mgm-tiny"])
def test_every_attention_layout_keeps_a_family_causal_and_cache_exact(preset: str) -> None:
    """Biases on every attention projection and q/k norms (the layouts converted checkpoints bring) under
    coordinate modulation, curvature attention and experts."""
    base = GeoConfig.from_preset(preset)
    attention = {**base.part_options.get("attention", {}), "qkv_bias": True, "output_bias": True, "qk_norm": True}
    torch.manual_seed(0)
    model = randomized(GeoForCausalLM(GeoConfig.from_preset(preset, part_options={"attention": attention})))
    names = [name for name, _ in model.named_parameters()]
    assert any(n.endswith("self_attn.q_proj.bias") for n in names) and any(
        n.endswith("self_attn.o_proj.bias") for n in names
    )
    assert any(n.endswith("self_attn.k_norm.weight") for n in names)
    assert_causal(model)
    assert_cache_matches_forward(model)
