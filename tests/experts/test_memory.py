"""The `slots` working memory: causal across segments, cache-exact in every way a cache is used, and honest
about what it carries and costs."""

import pytest
import torch
from memory_reference import reference_memory

from geolm import GeoConfig, GeoForCausalLM
from geolm.experts.memory import READ_SHARE, STATE, WorkingMemory
from geolm.nn.context import ForwardContext
from geolm.params import parameter_table
from geolm.testing import assert_cache_matches_forward, assert_causal

SEGMENT = 8  # mgm-tiny's segment length


def randomized(config: GeoConfig, seed: int = 0) -> GeoForCausalLM:
    """Random values everywhere, the memory's zero-initialised output included, so the memory matters."""
    torch.manual_seed(seed)
    model = GeoForCausalLM(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def mgm() -> GeoForCausalLM:
    config = GeoConfig.from_preset("mgm-tiny")
    assert config.part_options["memory"]["segment_length"] == SEGMENT
    return randomized(config)


def test_memory_preset_is_causal_over_several_segments(mgm: GeoForCausalLM) -> None:
    assert_causal(mgm, length=3 * SEGMENT - 2)


@pytest.mark.parametrize(("beams", "left_padding"), [(1, 0), (1, 3), (3, 0)])
def test_cached_decoding_equals_a_full_forward_across_segments(mgm, beams: int, left_padding: int) -> None:
    # a prompt of more than one segment, then decoding across the next segment boundary
    assert_cache_matches_forward(
        mgm, prompt_length=SEGMENT + 3, new_tokens=SEGMENT, num_beams=beams, left_padding=left_padding
    )


def test_chunked_prefill_equals_one_forward(mgm: GeoForCausalLM) -> None:
    ids = torch.randint(0, mgm.config.vocab_size, (2, 28), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = mgm(ids, use_cache=False).logits
        cache, pieces, start = mgm.model.new_cache(), [], 0
        for size in (3, 9, 1, 7, 8):  # chunks that start, end and straddle segment boundaries
            out = mgm(ids[:, start : start + size], cache=cache, use_cache=True)
            pieces.append(out.logits)
            start += size
    assert start == ids.shape[1]
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-5, rtol=1e-5)
    state = cache.state(STATE, 0)
    assert state is not None and state.tensors["segment"].tolist() == [28 // SEGMENT] * 2
    assert state.tensors["filled"].sum(-1).tolist() == [28 % SEGMENT] * 2


def test_decoding_writes_the_slots_only_when_a_segment_closes(mgm: GeoForCausalLM, monkeypatch) -> None:
    writes = []
    real_write = WorkingMemory.write
    monkeypatch.setattr(WorkingMemory, "write", lambda self, *args: writes.append(self) or real_write(self, *args))
    ids = torch.randint(0, mgm.config.vocab_size, (1, SEGMENT + 2), generator=torch.Generator().manual_seed(4))
    layers, written = mgm.config.num_hidden_layers, []
    with torch.no_grad():
        cache = mgm.model.new_cache()
        mgm(ids[:, :3], cache=cache, use_cache=True)  # places 0-2: no segment closes
        for position in range(3, ids.shape[1]):
            writes.clear()
            mgm(ids[:, position : position + 1], cache=cache, use_cache=True)
            written.append(len(writes) // layers)
    assert written == [int(position == SEGMENT - 1) for position in range(3, SEGMENT + 2)]
    assert cache.state(STATE, 0).tensors["segment"].tolist() == [1]


def memory_outputs(layer: WorkingMemory, x: torch.Tensor) -> torch.Tensor:
    ctx = ForwardContext(position_ids=torch.arange(x.shape[1])[None], attention_mask=None, is_causal=True)
    return layer(x, ctx)


def live_layer(seed: int = 0) -> WorkingMemory:
    torch.manual_seed(seed)
    layer = WorkingMemory(GeoConfig.from_preset("mgm-tiny"), 0)
    with torch.no_grad():
        layer.o_weight.normal_()
        layer.write_gate.bias.fill_(1.0)  # slots that really change as segments are written
    return layer


@pytest.mark.parametrize("padding", [0, 5])
def test_segment_blocks_equal_one_masked_attention_in_values_and_gradients(padding: int) -> None:
    layer = live_layer()
    x = torch.randn(2, 3 * SEGMENT + 5, layer.q_proj.in_features, requires_grad=True)
    real = torch.ones(2, x.shape[1], dtype=torch.bool)
    real[1, :padding] = False  # left padding: the second row's positions start later in the chunk
    positions = (real.long().cumsum(-1) - 1).clamp(min=0)
    ctx = ForwardContext(position_ids=positions, attention_mask=None, is_causal=True, token_mask=real)
    ours, theirs = layer(x, ctx), reference_memory(layer, x, ctx)[0]
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(ours) * real[..., None]
    inputs = [x, *layer.parameters()]
    for a, b in zip(*(torch.autograd.grad((out * weights).sum(), inputs) for out in (ours, theirs)), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("length", [3, 2 * SEGMENT])  # read by token (shorter than a segment) or by segment
def test_segment_blocks_equal_one_masked_attention_after_a_cached_chunk(length: int) -> None:
    """A chunk that starts inside a segment whose first tokens are buffered (and runs across two boundaries)."""
    layer = live_layer(1).eval()
    model = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny"))
    cache = model.model.new_cache()
    x = torch.randn(1, 5 + length, layer.q_proj.in_features)

    def context(start: int, stop: int) -> ForwardContext:
        positions = torch.arange(start, stop)[None]
        return ForwardContext(position_ids=positions, attention_mask=None, is_causal=True, cache=cache)

    with torch.no_grad():
        layer(x[:, :5], context(0, 5))
        later = context(5, x.shape[1])
        theirs, slots = reference_memory(layer, x[:, 5:], later)
        ours = layer(x[:, 5:], later)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cache.state(STATE, 0).tensors["memory"], slots, atol=1e-5, rtol=1e-5)


def test_one_token_steps_equal_one_masked_attention_across_boundaries() -> None:
    """Decoding's one-token path (`WorkingMemory.step`): every step's output and the slots after it."""
    layer = live_layer(2).eval()
    cache = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny")).model.new_cache()
    x = torch.randn(2, 2 * SEGMENT + 3, layer.q_proj.in_features)
    with torch.no_grad():
        for t in range(x.shape[1]):  # two segments close on the way
            ctx = ForwardContext(position_ids=torch.tensor([[t]]), attention_mask=None, is_causal=True, cache=cache)
            theirs, slots = reference_memory(layer, x[:, t : t + 1], ctx)
            torch.testing.assert_close(layer(x[:, t : t + 1], ctx), theirs, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(cache.state(STATE, 0).tensors["memory"], slots, atol=1e-5, rtol=1e-5)
    assert int(cache.state(STATE, 0).tensors["segment"][0]) == 2


def test_a_segment_reads_only_what_earlier_segments_wrote() -> None:
    """Alone, the memory part has no other path between segments: what crosses a boundary was written."""
    config = GeoConfig.from_preset("mgm-tiny")
    torch.manual_seed(0)
    layer = WorkingMemory(config, 0)
    with torch.no_grad():
        layer.o_weight.normal_()
    x = torch.randn(1, 3 * SEGMENT, config.hidden_size)
    base = memory_outputs(layer, x)
    changed = x.clone()
    changed[0, 2] += 1.0  # a token of segment 0
    out = memory_outputs(layer, changed)
    assert torch.equal(out[0, :2], base[0, :2])  # earlier tokens: untouched
    assert (out[0, SEGMENT:] - base[0, SEGMENT:]).abs().amax(-1).min() > 1e-6  # every later token: through the slots
    later = x.clone()
    later[0, SEGMENT + 5] += 1.0  # a token of segment 1
    out = memory_outputs(layer, later)
    assert torch.equal(out[0, : SEGMENT + 5], base[0, : SEGMENT + 5])


def test_the_memory_is_read_and_its_share_reported(mgm: GeoForCausalLM) -> None:
    ids = torch.randint(0, mgm.config.vocab_size, (2, 2 * SEGMENT))
    with torch.no_grad():
        share = mgm(ids).part_stats[READ_SHARE]
    assert share.shape == (2, 2 * SEGMENT)
    assert bool((share > 0).all() and (share < 1).all())
    # the first token of a segment has only the slots (and itself) to attend to: its share is the largest
    assert bool((share[:, 0] > share[:, SEGMENT - 1]).all())


def test_the_cache_refuses_to_rewind_the_slots(mgm: GeoForCausalLM) -> None:
    cache = mgm.model.new_cache()
    with torch.no_grad():
        mgm(torch.randint(0, mgm.config.vocab_size, (1, 5)), cache=cache, use_cache=True)
    with pytest.raises(NotImplementedError, match="slots"):
        cache.crop(-2)
    assert not cache.is_croppable  # so assisted decoding stops at once, with transformers' own message
    prompt = torch.randint(3, 100, (1, 5))
    with torch.no_grad(), pytest.raises(ValueError, match="cropped"):
        mgm.generate(prompt, attention_mask=torch.ones_like(prompt), assistant_model=mgm, max_new_tokens=3)


def test_the_memory_parameter_count_is_counted_not_claimed() -> None:
    """The seed's 256 x 2048 slots are 524,288 numbers; the memory's projections come on top, per layer."""
    config = GeoConfig.from_preset(
        "mgm-tiny", part_options={"memory": {"slots": 256, "slot_size": 2048, "heads": 16, "segment_length": 64}}
    )
    with torch.device("meta"):
        model = GeoForCausalLM(config)
    table = parameter_table(model).set_index("component")
    hidden, width, layers = config.hidden_size, 2048, config.num_hidden_layers
    per_layer = 256 * width + width + 2 * hidden * width + 3 * width * width + 2 * width * width + width
    per_layer += hidden * width  # the output projection
    assert table.loc["memory", "parameters"] == layers * per_layer
    assert table.loc["memory", "parameters"] > 20 * 256 * width  # the slots are the small part
