from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

import geolm  # noqa: F401 (Auto registration)
from geolm.config import GeoConfig
from geolm.coordinate import find_modulation
from geolm.coordinate.modulation import CONTEXT
from geolm.modeling import GeoForCausalLM
from geolm.params import parameter_table
from geolm.testing import assert_cache_matches_forward, assert_causal, full_forward_greedy


@pytest.mark.parametrize("options", [{}, {"share_across_layers": True, "context_decay": 0.8}])
def test_causal_and_cached_decoding_matches_a_full_forward(make_tiny, options: dict) -> None:
    model = make_tiny(**options)
    tokens = torch.randint(0, 512, (2, 10))
    with torch.no_grad():
        logits = model(tokens).logits
        for bank in find_modulation(model).banks.values():
            bank.up.mul_(0.0)
        base = model(tokens).logits
        for bank in find_modulation(model).banks.values():
            bank.up.copy_(torch.randn_like(bank.up) * 0.3)
    assert (logits - base).abs().max() > 0.05  # the modulation really changes what the model computes
    assert_causal(model, length=10)
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=7)


@torch.no_grad()
def test_prefill_in_chunks_carries_the_coordinate_context(make_tiny) -> None:
    model = make_tiny()
    tokens = torch.randint(0, 512, (2, 20))
    full = model(tokens, use_cache=False).logits
    cache = model.model.new_cache()
    parts = [model(chunk, past_key_values=cache).logits for chunk in tokens.split([8, 5, 1, 6], dim=1)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)
    theta, context = find_modulation(model).coordinates(model.model.embed_tokens(tokens))
    torch.testing.assert_close(cache.state("coordinate").tensors[CONTEXT], context)
    assert theta.abs().mean() > 0.1


def test_ten_million_preset_counts_ten_million() -> None:
    model = GeoForCausalLM(GeoConfig.from_preset("geometric-llama-10m"))
    table = parameter_table(model).set_index("component")
    total = int(table["parameters"].sum())
    assert abs(total - 10_000_000) <= 200_000, total
    assert 0.17 <= table.loc["coordinate modulation", "share"] <= 0.19
    assert 0.023 <= table.loc["coordinate predictor", "share"] <= 0.028
    assert table.loc["embeddings", "parameters"] == 8192 * 256
    assert table.loc["output", "parameters"] == 0  # tied to the embeddings, counted there


def test_tiny_preset_counts_what_its_shape_says() -> None:
    config = GeoConfig.from_preset("geometric-llama-tiny")
    options = config.resolved_options()["modulation"]
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = config.num_key_value_heads * hidden // config.num_attention_heads
    shapes = [(hidden, hidden), (hidden, kv), (hidden, kv), (hidden, hidden), (hidden, inner), (hidden, inner)]
    shapes.append((inner, hidden))  # q, k, v, o, gate, up, down: every projection is a target
    plain = sum(a * b for a, b in shapes) + 2 * hidden  # the projections and two norms of a layer
    banks = sum(options.width * (a + b) for a, b in shapes)  # down (width x in) and up (out x width) factors
    hid, coords = options.predictor_hidden, options.coord_dim
    predictor = hidden + (hidden * hid + hid) + (hid * coords + coords)  # norm, fc_in, fc_out (with biases)
    embeddings = config.vocab_size * hidden * (1 if config.tie_word_embeddings else 2)
    expected = embeddings + layers * (plain + banks) + hidden + predictor + options.wavelet_pairs * coords
    total = sum(p.numel() for p in GeoForCausalLM(config).parameters())
    assert total == expected


def test_save_and_load_through_auto_classes(make_tiny, tmp_path: Path) -> None:
    model = make_tiny(share_across_layers=True)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is GeoForCausalLM
    assert find_modulation(loaded).options == find_modulation(model).options
    tokens = torch.randint(0, 512, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(loaded(tokens).logits, model(tokens).logits, atol=0.0, rtol=0.0)


def test_left_padding_leaves_coordinates_and_generation_unchanged(make_tiny) -> None:
    model = make_tiny()
    vocab = model.config.vocab_size
    tokens = torch.randint(3, vocab, (1, 7))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), tokens], dim=1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 7, dtype=torch.long)], dim=1)
    with torch.no_grad():
        plain = model(tokens).logits
        left = model(padded, attention_mask=mask).logits[:, 3:]
    torch.testing.assert_close(left, plain, atol=1e-5, rtol=0)
    batch = torch.cat([padded, torch.randint(3, vocab, (1, 10))])
    batch_mask = torch.cat([mask, torch.ones(1, 10, dtype=torch.long)])
    together = model.generate(batch, attention_mask=batch_mask, max_new_tokens=5, do_sample=False, pad_token_id=0)
    alone = model.generate(tokens, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert alone[0, tokens.shape[1] :].tolist() == full_forward_greedy(
        model, tokens[0].tolist(), 5, end_ids=(model.config.eos_token_id,)
    )
    assert torch.equal(together[0, 10:], alone[0, 7:])
