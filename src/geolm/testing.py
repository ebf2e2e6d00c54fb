"""Reusable correctness checks that every causal preset must pass (used by the test suite and `verify`).

They raise `AssertionError` with a message saying what differed and by how much.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel


def _random_tokens(model: PreTrainedModel, batch: int, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.vocab_size, (batch, length), generator=generator)


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
) -> torch.Tensor:
    """Greedy `generate()` with the KV cache gives the logits of one full forward over the same tokens.

    Returns the generated sequences so callers can check more.
    """
    model.eval()
    prompt = _random_tokens(model, batch, prompt_length, seed)
    out = model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        use_cache=True,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=model.config.pad_token_id,
    )
    cached = torch.stack(out.logits, dim=1)  # (B, new_tokens, V)
    full = model(out.sequences, use_cache=False).logits[:, prompt_length - 1 : -1]
    diff = (cached.float() - full.float()).abs().max().item()
    if diff > atol:
        raise AssertionError(f"cached decoding differs from a full forward by {diff:.3g} (> {atol})")
    return out.sequences
