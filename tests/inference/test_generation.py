"""Generation through HF `generate()`: greedy equals hand argmax, seeds, stop strings, end tokens, context."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from geolm.errors import InputError
from geolm.inference import (
    SamplingOptions,
    StopTrimmingStreamer,
    encode_prompt,
    generate_text,
    trim_at_stop,
)
from geolm.testing import full_forward_greedy

GREEDY = SamplingOptions(max_new_tokens=30, greedy=True, repetition_penalty=1.0)
PROMPT = "The sun rises in the"


def test_greedy_equals_hand_argmax_and_is_deterministic(loaded) -> None:
    model, tok = loaded
    prompt_ids = encode_prompt(tok, PROMPT)
    assert prompt_ids[0] == tok.bos_token_id
    first = generate_text(model, tok, prompt_ids, GREEDY)
    second = generate_text(model, tok, prompt_ids, GREEDY)
    expected = full_forward_greedy(model, prompt_ids, GREEDY.max_new_tokens, end_ids=(tok.eos_token_id,))
    assert first == second
    assert first.token_ids == expected
    assert len(set(expected)) > 5  # a varied continuation, so the comparison is not trivially satisfied
    assert first.text == tok.decode(expected, skip_special_tokens=True)


def test_seeded_sampling_repeats_and_seeds_differ(loaded) -> None:
    model, tok = loaded
    prompt_ids = encode_prompt(tok, PROMPT)
    runs = [
        generate_text(model, tok, prompt_ids, SamplingOptions(max_new_tokens=20, seed=seed)).token_ids
        for seed in (3, 3, 4)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def _stop_point(tok, ids: list[int], text: str) -> tuple[int, str]:
    """A cut k and the printable text of tokens k, k+1 whose first occurrence in `text` starts at token k."""
    for k in range(1, len(ids) - 2):
        stop = tok.decode(ids[k : k + 2])
        prefix = tok.decode(ids[:k])
        if stop.isascii() and stop.isprintable() and stop.strip() and text.find(stop) == len(prefix):
            return k, stop
    raise AssertionError(f"no usable stop string in {text!r}")


def test_stop_string_stops_generation_and_is_cut(loaded) -> None:
    model, tok = loaded
    prompt_ids = encode_prompt(tok, PROMPT)
    full = generate_text(model, tok, prompt_ids, GREEDY)
    k, stop = _stop_point(tok, full.token_ids, full.text)
    options = replace(GREEDY, stop=("never seen", stop))
    out = io.StringIO()
    streamer = StopTrimmingStreamer(tok, options.stop, out)
    stopped = generate_text(model, tok, prompt_ids, options, streamer=streamer)
    assert stopped.token_ids == full.token_ids[: k + 2]  # HF stopped right after the completing token
    assert stopped.text == full.text[: full.text.find(stop)]
    assert out.getvalue() == stopped.text + "\n"


def test_extra_end_token_ends_generation(loaded) -> None:
    model, tok = loaded
    prompt_ids = encode_prompt(tok, PROMPT)
    full = generate_text(model, tok, prompt_ids, GREEDY).token_ids
    end = full[6]
    ended = generate_text(model, tok, prompt_ids, GREEDY, extra_eos_ids=[end]).token_ids
    assert ended == full[: full.index(end) + 1]


def test_prompt_longer_than_context_is_refused(loaded) -> None:
    model, tok = loaded
    options = SamplingOptions(max_new_tokens=16, greedy=True)
    prompt_ids = encode_prompt(tok, "the cat sat on the mat " * 60)
    assert len(prompt_ids) > 240
    with pytest.raises(InputError) as err:
        generate_text(model, tok, prompt_ids, options)
    assert str(err.value) == (
        f"prompt is {len(prompt_ids)} tokens but at most 240 fit (context 256 minus max_new_tokens 16)"
    )
    exact = generate_text(model, tok, prompt_ids[:240], options)  # exactly at the limit is fine
    assert 1 <= len(exact.token_ids) <= 16
    with pytest.raises(InputError, match=r"max_new_tokens \(256\) must be smaller than the context \(256\)"):
        generate_text(model, tok, prompt_ids[:10], SamplingOptions(max_new_tokens=256))


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_new_tokens", 0), ("temperature", 0.0), ("top_k", -1), ("top_p", 1.5), ("repetition_penalty", 0.0)],
)
def test_bad_sampling_options(field: str, value: float) -> None:
    with pytest.raises(InputError, match=f"^{field} must be"):
        SamplingOptions(**{field: value})
    with pytest.raises(InputError, match="stop must be non-empty strings"):
        SamplingOptions(stop=("",))


def test_generation_config_uses_hf_fields(tokenizer) -> None:
    sampled = SamplingOptions(temperature=0.7, top_k=5, top_p=0.9, repetition_penalty=1.3, stop=("x",))
    config = sampled.generation_config(tokenizer, extra_eos_ids=[7, 2])
    assert config.do_sample and (config.temperature, config.top_k, config.top_p) == (0.7, 5, 0.9)
    assert config.repetition_penalty == 1.3 and config.stop_strings == ["x"]
    assert config.eos_token_id == [2, 7] and config.pad_token_id == 0
    assert not SamplingOptions(greedy=True).generation_config(tokenizer).do_sample


def test_trim_at_stop_takes_the_earliest() -> None:
    assert trim_at_stop("one two three", ["three", "two"]) == "one "
    assert trim_at_stop("one two", ["four"]) == "one two"


def test_streamer_holds_back_a_possible_stop(tokenizer) -> None:
    out = io.StringIO()
    streamer = StopTrimmingStreamer(tokenizer, ("STOP",), out)
    streamer.on_finalized_text("hello ST")
    assert out.getvalue() == "hello "  # "ST" may begin "STOP": held back
    streamer.on_finalized_text("ART and ")
    assert out.getvalue() == "hello START and "
    streamer.on_finalized_text("then STOP here")
    streamer.on_finalized_text(" more", stream_end=True)
    assert out.getvalue() == "hello START and then \n"
    streamer.on_finalized_text("next reply", stream_end=True)  # the stop state resets per stream
    assert out.getvalue().endswith("\nnext reply\n")
