"""Segments of a training block and their coordinates: what the curriculum's coordinate losses compare.

A document starts at `<s>`. Inside it, a segment is a maximal run of loss-carrying tokens (labels != -100)
other than `<s>`, `</s>` and padding. The coordinate sources lay documents out so that segments are the parts
that matter: the two sentences of a minimal pair and the facts of a multi-fact item (joined by a newline that
carries no loss), and the assistant turns of a dialogue (the chat layout takes no loss on user turns and
role tokens). Data packed the ordinary way gives one segment per text document.

A segment's coordinates are the decay-weighted mean of theta over its n tokens,
    c = (1 - d) * sum_t d^(end - t) * theta[t] / (1 - d^n),
i.e. theta_ctx / (1 - d^n) at its last token had the context scan restarted at its first token: the
normalisation `get_coordinate_statistics` uses for a prompt. It comes from the model's own theta_ctx without
another scan: c = (theta_ctx[end] - d^n * theta_ctx[start - 1]) / (1 - d^n).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from geolm.coordinate.modulation import find_modulation

IGNORE = -100


@dataclass(frozen=True)
class Segments:
    """Coordinates (S, D) of the segments of a batch in reading order, and the document of each (S,)."""

    coordinates: torch.Tensor
    document: torch.Tensor

    def consecutive(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Index pairs (i, i + 1) of neighbouring segments inside one document."""
        same = self.document[1:] == self.document[:-1]
        first = torch.nonzero(same).flatten()
        return first, first + 1

    def per_document(self) -> torch.Tensor:
        """How many segments the document of each segment holds (S,)."""
        _, inverse, counts = torch.unique(self.document, return_inverse=True, return_counts=True)
        return counts[inverse]


def segment_mask(input_ids: torch.Tensor, labels: torch.Tensor, special_ids: list[int]) -> torch.Tensor:
    """(B, T) bool: tokens that belong to a segment (loss-carrying and not `<s>`, `</s>` or padding)."""
    special = torch.tensor(special_ids, dtype=input_ids.dtype, device=input_ids.device)
    return (labels != IGNORE) & ~torch.isin(input_ids, special)


def segment_coordinates(context: torch.Tensor, mask: torch.Tensor, documents: torch.Tensor, decay: float) -> Segments:
    """Segments of `mask` (B, T) with their coordinates from theta_ctx `context` (B, T, D).

    `documents` (B, T) numbers the documents of each row (the running count of `<s>` tokens).
    """
    bsz, length, _ = context.shape
    previous = F.pad(mask[:, :-1], (1, 0), value=False)
    following = F.pad(mask[:, 1:], (0, 1), value=False)
    positions = torch.arange(length, device=mask.device).expand(bsz, length)
    start_of = torch.where(mask & ~previous, positions, -1).cummax(dim=1).values
    rows, ends = torch.nonzero(mask & ~following, as_tuple=True)
    starts = start_of[rows, ends]
    weight = torch.pow(torch.tensor(decay, device=context.device), (ends - starts + 1).float())[:, None]
    entering = context[rows, (starts - 1).clamp(min=0)] * (starts > 0)[:, None]
    coordinates = (context[rows, ends] - weight * entering) / (1.0 - weight)
    return Segments(coordinates, documents[rows, ends] + rows * (length + 1))


def batch_segments(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> Segments:
    """The segments of a training micro-batch, with coordinates recomputed by the model's predictor.

    The predictor and scan are cheap next to the forward, and recomputing keeps the model's outputs free of
    coordinate state; the result is what the forward just used (same embeddings, same predictor).
    """
    modulation = find_modulation(model)
    input_ids = batch["input_ids"]
    _, context = modulation.coordinates(model.get_input_embeddings()(input_ids))
    config = model.config
    special = [i for i in (config.bos_token_id, config.eos_token_id, config.pad_token_id) if i is not None]
    bos = config.bos_token_id
    documents = (input_ids == bos).long().cumsum(1) if bos is not None else torch.zeros_like(input_ids)
    mask = segment_mask(input_ids, batch["labels"], special)
    return segment_coordinates(context, mask, documents, modulation.options.context_decay)
