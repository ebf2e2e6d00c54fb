"""Reusable correctness checks that every causal preset must pass (used by the test suite and `verify`).

They raise `AssertionError` with a message saying what differed and by how much.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel


def _random_tokens(model: PreTrainedModel, batch: int, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.vocab_size, (batch, length), generator=generator).to(model.device)


@torch.no_grad()
def assert_causal(model: PreTrainedModel, length: int = 12, batch: int = 2, seed: int = 0, atol: float = 1e-5) -> None:
    """Changing the tokens after position t never changes the logits at positions <= t.

    For every cut point t the suffix is replaced by fresh random tokens; logits up to t must be unchanged.
    """
    model.eval()
    tokens = _random_tokens(model, batch, length, seed)
    reference = model(tokens, use_cache=False).logits
    generator = torch.Generator().manual_seed(seed + 1)
    for t in range(length - 1):
        changed = tokens.clone()
        changed[:, t + 1 :] = torch.randint(0, model.config.vocab_size, (batch, length - t - 1), generator=generator)
        logits = model(changed, use_cache=False).logits
        diff = (logits[:, : t + 1] - reference[:, : t + 1]).abs().max().item()
        if diff > atol:
            raise AssertionError(f"future tokens leak: changing tokens after {t} moved logits at <= {t} by {diff:.3g}")
        if t == 0 and (logits[:, 1:] - reference[:, 1:]).abs().max().item() <= atol:
            raise AssertionError("changing later tokens changed nothing at all: the check itself is void")


@torch.no_grad()
def assert_cache_matches_forward(
    model: PreTrainedModel,
    prompt_length: int = 5,
    new_tokens: int = 7,
    batch: int = 2,
    seed: int = 0,
    atol: float = 1e-4,
    num_beams: int = 1,
    left_padding: int = 0,
) -> torch.Tensor:
    """`generate()` with the KV cache gives, at every step, the logits of one full forward over the same tokens
    (`cached_and_full_logits` says how they are compared). Returns the generated sequences so callers can
    check more.
    """
    sequences, cached, full = cached_and_full_logits(
        model, prompt_length, new_tokens, batch, seed, num_beams, left_padding
    )
    diff = (cached.float() - full.float()).abs().max().item()
    if diff > atol:
        where = f"beam search ({num_beams} beams)" if num_beams > 1 else "greedy decoding"
        padded = f", left padding {left_padding}" if left_padding else ""
        raise AssertionError(f"cached {where}{padded} differs from a full forward by {diff:.3g} (> {atol})")
    return sequences


def cached_and_full_logits(
    model: PreTrainedModel,
    prompt_length: int = 5,
    new_tokens: int = 7,
    batch: int = 2,
    seed: int = 0,
    num_beams: int = 1,
    left_padding: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sequences `generate()` makes with the KV cache from random prompts, the logits it used at every step,
    and the logits of one full forward over the same tokens at those positions, each (B * beams, new_tokens, V).

    Greedy (`num_beams=1`) or beam search; `left_padding` > 0 pads the first prompt that many tokens on the left,
    as a batch of prompts of unequal length is. For beam search each returned sequence is followed back
    through `beam_indices` to the cache row that produced each of its tokens. The reference never calls
    `generate()`, so a fault shared by the cached and uncached paths of `generate()` cannot hide.
    """
    model.eval()
    prompt = _random_tokens(model, batch, prompt_length, seed)
    mask = torch.ones_like(prompt)
    if left_padding:
        if left_padding >= prompt_length:
            raise ValueError(f"left_padding {left_padding} leaves no real token in a prompt of {prompt_length}")
        pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
        prompt[0, :left_padding] = pad
        mask[0, :left_padding] = 0
    out = model.generate(
        prompt,
        attention_mask=mask,
        max_new_tokens=new_tokens,
        do_sample=False,
        num_beams=num_beams,
        num_return_sequences=num_beams,
        eos_token_id=None,  # every sequence runs the full length, so every step has a reference
        use_cache=True,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=model.config.pad_token_id,
    )
    steps = torch.stack(out.logits, dim=1)  # (B * beams, new_tokens, V), in the order of the cache's rows
    if num_beams > 1:
        rows = out.beam_indices[:, :new_tokens]
        if bool((rows < 0).any()):
            raise AssertionError("a beam ended early although no end token was set")
        steps = steps[rows, torch.arange(new_tokens, device=steps.device)[None, :]]
    if out.sequences.shape[1] != prompt_length + new_tokens:
        raise AssertionError(f"expected {new_tokens} new tokens, got {out.sequences.shape[1] - prompt_length}")
    full_mask = torch.cat(
        [mask.repeat_interleave(num_beams, dim=0), torch.ones_like(out.sequences[:, prompt_length:])], 1
    )
    full = model(out.sequences, attention_mask=full_mask, use_cache=False).logits[:, prompt_length - 1 : -1]
    return out.sequences, steps, full


@torch.no_grad()
def full_forward_greedy(
    model: PreTrainedModel,
    prompt_ids: list[int],
    max_new_tokens: int,
    end_ids: tuple[int, ...] = (),
    repetition_penalty: float = 1.0,
) -> list[int]:
    """Greedy decoding by hand: one full forward over the whole sequence per new token, no cache, no `generate()`.

    The reference that cached decoding must reproduce. `repetition_penalty` applies HF's processor to the
    last position's logits, as `generate()` does; decoding stops after any of `end_ids`.
    """
    from transformers import RepetitionPenaltyLogitsProcessor

    model.eval()
    penalty = RepetitionPenaltyLogitsProcessor(repetition_penalty) if repetition_penalty != 1.0 else None
    ids = torch.tensor([list(prompt_ids)], device=model.device)
    new: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(ids, use_cache=False).logits[:, -1].float()
        if penalty is not None:
            logits = penalty(ids, logits)
        token = int(logits.argmax(-1))
        new.append(token)
        ids = torch.cat([ids, ids.new_tensor([[token]])], dim=1)
        if token in end_ids:
            break
    return new
