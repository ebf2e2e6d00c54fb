"""With and without the modulator: how much the representations move, the LM loss, and generations.

Coherence is measured two ways: the mean per-token cosine between the modulated and the base final hidden
states (1.0 means untouched), and, for causal LMs, the next-token loss of the same texts with and without
modulation (a modulator that wrecks the model shows up as a loss jump). Generations are greedy by default, so
the two texts differ only because of the modulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from geolm.inference.generation import SamplingOptions, encode_prompt, generate_text
from geolm.terrain.loading import model_kind
from geolm.terrain.modulators.hooks import AttachedModulator


def _final_states(model: torch.nn.Module, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    out = model(input_ids=input_ids, output_hidden_states=True)
    last = getattr(out, "last_hidden_state", None)
    return (out.hidden_states[-1] if last is None else last), getattr(out, "logits", None)


def _next_token_loss(logits: torch.Tensor | None, input_ids: torch.Tensor) -> float:
    if logits is None or input_ids.shape[1] < 2:
        return float("nan")
    return float(F.cross_entropy(logits[0, :-1].float(), input_ids[0, 1:]))


@torch.no_grad()
def coherence(attached: AttachedModulator, tokenizer: Any, texts: Sequence[str]) -> pd.DataFrame:
    """One row per text: tokens, mean per-token cosine (modulated vs base), and LM loss for causal models."""
    model = attached.model
    causal = model_kind(model) == "decoder"
    device = next(model.parameters()).device
    rows = []
    for text in texts:
        ids = torch.tensor([encode_prompt(tokenizer, text)], device=device)
        with attached.disabled():
            base, base_logits = _final_states(model, ids)
        modulated, mod_logits = _final_states(model, ids)
        row = {
            "text": text,
            "tokens": ids.shape[1],
            "hidden_cos": float(F.cosine_similarity(base[0].float(), modulated[0].float(), dim=-1).mean()),
        }
        if causal:
            row["loss_base"] = _next_token_loss(base_logits, ids)
            row["loss_modulated"] = _next_token_loss(mod_logits, ids)
        rows.append(row)
    return pd.DataFrame(rows)


def preservation(base: np.ndarray, modulated: np.ndarray) -> float:
    """Mean cosine between matching rows of two representation sets (the seed's "per-token preservation")."""
    num = np.einsum("nd,nd->n", base, modulated)
    den = np.linalg.norm(base, axis=1) * np.linalg.norm(modulated, axis=1)
    return float(np.mean(num / np.where(den > 0, den, 1.0)))


def side_by_side(
    attached: AttachedModulator,
    tokenizer: Any,
    prompts: Sequence[str],
    options: SamplingOptions | None = None,
) -> pd.DataFrame:
    """One row per prompt with the base continuation and the modulated one (greedy unless told otherwise)."""
    options = options or SamplingOptions(greedy=True, max_new_tokens=32, repetition_penalty=1.0)
    rows = []
    for prompt in prompts:
        ids = encode_prompt(tokenizer, prompt)
        with attached.disabled():
            base = generate_text(attached.model, tokenizer, ids, options)
        modulated = generate_text(attached.model, tokenizer, ids, options)
        same = base.token_ids == modulated.token_ids
        rows.append({"prompt": prompt, "base": base.text, "modulated": modulated.text, "same": same})
    return pd.DataFrame(rows)
