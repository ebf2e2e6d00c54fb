"""What one forward pass hands every part: positions, mask, cache and per-token state of other parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.cache_utils import Cache


@dataclass
class ForwardContext:
    """Shared inputs of a forward pass.

    `attention_mask` is a boolean (B, 1, T, S) tensor, True where a query may attend to a key, or None when
    no padding is present: then attention parts use the causal (or full, for encoders) fast path.
    `token_mask` is a boolean (B, T), True at real tokens of the current chunk, or None when nothing is padding;
    parts with running state use it to let padding leave that state untouched.
    `state` carries per-token tensors that one part computes for others, such as the coordinates that the
    coordinate modulation predicts before the first layer.
    """

    position_ids: torch.Tensor
    attention_mask: torch.Tensor | None
    is_causal: bool
    cache: Cache | None = None
    token_mask: torch.Tensor | None = None
    state: dict[str, Any] = field(default_factory=dict)
