"""Cached decoding against full forwards for every causal family: greedy and beam search, with and without padding.

The reference is a full forward over the generated tokens, never a second `generate()` call, so a cache
that `generate()` silently drops (as a changed keyword name once did) fails here.
"""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

import geolm.cli.verify as verify_cli
from geolm.config import GeoConfig
from geolm.modeling import GeoForCausalLM
from geolm.nn.cache import GeoCache
from geolm.systems import FAMILIES
from geolm.testing import assert_cache_matches_forward, full_forward_greedy
from test_modeling import randomized

CAUSAL_FAMILIES = ["llama-tiny", *(family.tiny for family in FAMILIES)]


def forgetful(model: GeoForCausalLM) -> GeoForCausalLM:
    """The model with its base forward dropping whatever cache it is handed, as generate() once made it do."""
    forward = model.model.forward

    def without_cache(*args, cache=None, past_key_values=None, **kwargs):
        return forward(*args, **kwargs)

    model.model.forward = without_cache
    return model


@pytest.mark.parametrize("left_padding", [0, 2])
@pytest.mark.parametrize("num_beams", [1, 3])
@pytest.mark.parametrize("preset", CAUSAL_FAMILIES)
def test_cached_decoding_equals_a_full_forward(preset: str, num_beams: int, left_padding: int) -> None:
    model = randomized(GeoForCausalLM(GeoConfig.from_preset(preset)))
    sequences = assert_cache_matches_forward(
        model, prompt_length=5, new_tokens=7, num_beams=num_beams, left_padding=left_padding
    )
    assert sequences.shape == (2 * num_beams, 12)
    if num_beams > 1:  # the beams really differ, so following each back through its cache rows is tested
        assert len({tuple(row) for row in sequences[:num_beams].tolist()}) == num_beams


@torch.no_grad()
def test_forward_takes_the_cache_under_either_name() -> None:
    model = randomized(GeoForCausalLM(GeoConfig.from_preset("geometric-llama-tiny")))
    tokens = torch.randint(0, model.config.vocab_size, (2, 9))
    full = model(tokens, use_cache=False).logits
    for name in ("cache", "past_key_values"):
        prefix = model.model.new_cache()
        model(tokens[:, :5], **{name: prefix})
        rest = model(tokens[:, 5:], **{name: prefix}).logits
        torch.testing.assert_close(rest, full[:, 5:], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="not both"):
        model(tokens, cache=model.model.new_cache(), past_key_values=model.model.new_cache())


@pytest.mark.parametrize("num_beams", [1, 3])
def test_the_cache_check_fails_when_the_cache_is_dropped(num_beams: int) -> None:
    model = forgetful(randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))))
    with pytest.raises(AssertionError, match="differs from a full forward"):
        assert_cache_matches_forward(model, num_beams=num_beams)


def test_verify_exits_non_zero_when_a_check_fails(monkeypatch) -> None:
    import typer

    broken = forgetful(randomized(GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))))
    monkeypatch.setattr(verify_cli, "_load", lambda checkpoint, preset: broken)
    app = typer.Typer()
    app.command()(verify_cli.verify)
    result = CliRunner().invoke(app, ["--preset", "llama-tiny"])
    assert result.exit_code == 1, result.output
    assert "FAIL cache" in result.output
    assert "ok   causality" in result.output  # only the broken check fails
    assert "1 check(s) failed" in result.output


@pytest.mark.parametrize("preset", CAUSAL_FAMILIES)
def test_assisted_decoding_gives_the_models_own_greedy_continuation(preset: str, monkeypatch) -> None:
    """Assisted decoding drafts tokens with a smaller model and crops the cache where they are rejected; the
    result must be the main model's greedy continuation, as full forwards compute it. The working memory's
    slots cannot be rewound (tests/experts/test_memory.py), so the mixture runs here without them."""
    options = {kind: o for kind, o in GeoConfig.from_preset(preset).part_options.items() if kind != "memory"}
    rewindable = {"memory": "none", "part_options": options}
    model = randomized(GeoForCausalLM(GeoConfig.from_preset(preset, **rewindable))).eval()
    assistant = randomized(GeoForCausalLM(GeoConfig.from_preset(preset, num_hidden_layers=1, **rewindable))).eval()
    with torch.no_grad():  # a different model, so that some of its drafts are rejected
        for param in assistant.parameters():
            param.add_(torch.randn_like(param) * param.std(correction=0).clamp(min=0.1))
    prompt = torch.randint(3, 512, (1, 5))
    rewinds = []
    crop = GeoCache.crop
    monkeypatch.setattr(GeoCache, "crop", lambda self, n: rewinds.append(n) or crop(self, n))
    with torch.no_grad():
        out = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            assistant_model=assistant,
            do_sample=False,
            max_new_tokens=10,
            eos_token_id=None,
            pad_token_id=0,
        )
    assert out[0, 5:].tolist() == full_forward_greedy(model, prompt[0].tolist(), 10)
    assert any(n < 0 for n in rewinds)  # drafts were rejected and the caches (part state too) rewound
