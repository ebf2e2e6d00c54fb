"""Text generation through HF `generate()`: sampling options, the context check, and stop-string trimming.

Sampling, repetition penalty and stop strings are HF's own logits processors and stopping criteria, set
up through a `GenerationConfig`; this module only chooses their values and checks the prompt fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed
from transformers.generation.streamers import BaseStreamer

from geolm.errors import InputError
from geolm.sampling import SamplingOptions


@dataclass(frozen=True)
class Generation:
    """A continuation: its text (cut before any stop string) and every new token id, end tokens included."""

    text: str
    token_ids: list[int]


def context_length(model: PreTrainedModel) -> int:
    """How many positions the model was built for."""
    return int(model.config.max_position_embeddings)


def prompt_room(context: int, max_new_tokens: int) -> int:
    """How many prompt tokens fit beside `max_new_tokens` new ones in the context."""
    if max_new_tokens >= context:
        raise InputError(f"max_new_tokens ({max_new_tokens}) must be smaller than the context ({context})")
    return context - max_new_tokens


def check_prompt_fits(prompt_tokens: int, context: int, max_new_tokens: int) -> None:
    """Refuse a prompt that leaves no room for `max_new_tokens` new tokens inside the context."""
    room = prompt_room(context, max_new_tokens)
    if prompt_tokens == 0:
        raise InputError("prompt is empty and the tokenizer adds no beginning-of-sequence token")
    if prompt_tokens > room:
        raise InputError(
            f"prompt is {prompt_tokens} tokens but at most {room} fit "
            f"(context {context} minus max_new_tokens {max_new_tokens})"
        )


def trim_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the earliest stop string (HF stops after the token that completes it)."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(cuts)] if cuts else text


@torch.no_grad()
def generate_text(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt_ids: Sequence[int],
    options: SamplingOptions,
    *,
    extra_eos_ids: Sequence[int] = (),
    streamer: BaseStreamer | None = None,
) -> Generation:
    """Continue `prompt_ids` with HF `generate()`; raises `InputError` if the prompt leaves no room."""
    check_prompt_fits(len(prompt_ids), context_length(model), options.max_new_tokens)
    if options.seed is not None:
        set_seed(options.seed)
    input_ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=model.device)
    output = model.generate(
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        generation_config=options.generation_config(tokenizer, extra_eos_ids),
        tokenizer=tokenizer,
        streamer=streamer,
    )
    new_ids = output[0, input_ids.shape[1] :].tolist()
    text = tokenizer.decode(new_ids, skip_special_tokens=True)
    return Generation(text=trim_at_stop(text, options.stop), token_ids=new_ids)


def encode_prompt(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of a plain prompt, with whatever special tokens the tokenizer adds (such as `<s>`)."""
    return list(tokenizer(text).input_ids)
