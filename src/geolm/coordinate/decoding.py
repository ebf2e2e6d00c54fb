"""Adaptive decoding: nucleus sampling where the coordinates are uncertain, greedy decoding elsewhere.

uncertainty[t] = var over coordinate dims of (theta[t] - theta_ctx[t]): how far the newest token pulls away
from the running context. The modulation reports it as a part statistic at every forward; a logits processor
reads the newest value from an `inference_stats` recorder and, per sequence, keeps either HF's own top-p
filtered distribution or the argmax alone. `generate()` then samples, which for a one-token distribution is
greedy decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    set_seed,
)
from transformers.generation.logits_process import TopPLogitsWarper

from geolm.coordinate.modulation import UNCERTAINTY, coordinate_override, find_modulation
from geolm.coordinate.refinement import refine_coordinates
from geolm.errors import InputError
from geolm.nn.stats import InferenceStats, inference_stats

Prompt = str | Sequence[int] | torch.Tensor


class AdaptiveDecodingProcessor(LogitsProcessor):
    """Top-p (`top_p`) filtering for sequences whose uncertainty exceeds `threshold`, argmax for the rest.

    It records the uncertainty and the choice of every step (`uncertainty`, `explored`: lists of (B,)).
    """

    def __init__(self, stats: InferenceStats, threshold: float, top_p: float = 0.92) -> None:
        self.stats = stats
        self.threshold = threshold
        self.nucleus = TopPLogitsWarper(top_p)
        self.uncertainty: list[torch.Tensor] = []
        self.explored: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        uncertainty = self.stats.latest(UNCERTAINTY).to(scores.device)
        explore = uncertainty > self.threshold
        self.uncertainty.append(uncertainty)
        self.explored.append(explore)
        best = scores.argmax(-1, keepdim=True)
        greedy = torch.full_like(scores, -float("inf")).scatter(-1, best, scores.gather(-1, best))
        return torch.where(explore[:, None], self.nucleus(input_ids, scores), greedy)


@dataclass(frozen=True)
class AdaptiveGeneration:
    """Sequences (prompt + new tokens), the uncertainty and choice (True = sampled) of each new token."""

    sequences: torch.Tensor
    uncertainty: torch.Tensor
    explored: torch.Tensor
    texts: list[str] | None = None


def as_input_ids(prompt: Prompt, tokenizer: PreTrainedTokenizerBase | None, device: torch.device) -> torch.Tensor:
    """(B, T) token ids from a string (needs `tokenizer`), a list of ids or a 1-D/2-D tensor."""
    if isinstance(prompt, str):
        if tokenizer is None:
            raise InputError("a text prompt needs a tokenizer; pass token ids instead or give the tokenizer")
        prompt = tokenizer(prompt, return_tensors="pt").input_ids
    ids = torch.as_tensor(prompt, dtype=torch.long, device=device)
    ids = ids[None] if ids.dim() == 1 else ids
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise InputError(f"the prompt must hold at least one token, got shape {tuple(ids.shape)}")
    return ids


@torch.no_grad()
def adaptive_generate(
    model: PreTrainedModel,
    prompt: Prompt,
    tokenizer: PreTrainedTokenizerBase | None = None,
    *,
    max_new_tokens: int = 64,
    threshold: float | None = None,
    top_p: float = 0.92,
    refinement_steps: int = 0,
    refinement_lr: float = 0.05,
    refinement_lam: float = 0.1,
    seed: int | None = None,
    extra_eos_ids: Sequence[int] = (),
) -> AdaptiveGeneration:
    """Continue `prompt` with uncertainty-adaptive decoding (threshold: the model's option unless given).

    `refinement_steps` > 0 first refines the prompt's coordinates (see `refine_coordinates`); the new tokens
    then use predicted coordinates. Generation ends at the end-of-sequence token or any of `extra_eos_ids`
    (such as a chat format's end of turn). Texts are decoded when a tokenizer is given.
    """
    if not 0 < top_p <= 1 or max_new_tokens < 1:
        raise InputError(f"need 0 < top_p <= 1 and max_new_tokens >= 1, got {top_p} and {max_new_tokens}")
    modulation = find_modulation(model)
    ids = as_input_ids(prompt, tokenizer, model.device)
    threshold = modulation.options.uncertainty_threshold if threshold is None else threshold
    if seed is not None:
        set_seed(seed)
    refined = None
    if refinement_steps:
        refined = refine_coordinates(model, ids, refinement_steps, refinement_lr, refinement_lam)[0]
    special = tokenizer if tokenizer is not None else model.config
    eos = [i for i in dict.fromkeys((special.eos_token_id, *extra_eos_ids)) if i is not None]
    with coordinate_override(model, refined), inference_stats(model) as stats:
        processor = AdaptiveDecodingProcessor(stats, threshold, top_p)
        sequences = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            logits_processor=LogitsProcessorList([processor]),
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            pad_token_id=special.pad_token_id,
            eos_token_id=eos or None,
        )
    texts = None
    if tokenizer is not None:
        texts = tokenizer.batch_decode(sequences[:, ids.shape[1] :], skip_special_tokens=True)
    return AdaptiveGeneration(
        sequences=sequences,
        uncertainty=torch.stack(processor.uncertainty, dim=1),
        explored=torch.stack(processor.explored, dim=1),
        texts=texts,
    )
