"""The loss terms of the three-phase coordinate curriculum, registered with the trainer by name.

All three compare segment coordinates (see `geolm.coordinate.segments`) and are scale-free: each divides by
the size of the coordinates it compares, so inflating theta cannot satisfy them. A batch without the
structure a term needs contributes 0 (still attached to the graph, so every parameter gets a gradient).

- `coordinate_contrastive` (phase 1): a document with exactly two segments is a minimal pair (a, b);
  mean over pairs of max(0, margin - |c_a - c_b| / rms(c_a, c_b)), rms(a, b) = sqrt((|a|^2 + |b|^2) / 2).
  The relative distance lies in [0, 2]; the two sentences differ in one feature, and the term pushes that
  difference into the coordinates.
- `coordinate_interference` (phase 2): in a document with several segments (the facts of one item), the
  facts' deviations from the batch's mean segment coordinate, u_i = c_i - mean, should not overlap: mean over
  pairs i < j of the same document of cos^2(u_i, u_j), in [0, 1]. Overlapping deviations interfere: their
  blend in theta_ctx cannot be told apart by projection, while orthogonal ones add without cancelling.
- `coordinate_temporal` (phase 3): neighbouring segments of one document (the assistant turns of a dialogue)
  should not jump, compared with how far apart segments of the batch lie: mean of |c_k - c_(k-1)|^2 divided
  by the batch's mean |c - mean|^2 (about 2 for unrelated segments). Dividing by the spread, not by |c|,
  keeps the term from being met by collapsing every coordinate onto one point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from geolm.coordinate.segments import Segments, batch_segments
from geolm.training.losses import LOSSES

CONTRASTIVE, INTERFERENCE, TEMPORAL = (
    "coordinate_contrastive",
    "coordinate_interference",
    "coordinate_temporal",
)
MARGIN = 1.0
EPS = 1e-12


def _zero(segments: Segments) -> torch.Tensor:
    return segments.coordinates.sum() * 0.0


def _mean_square(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.pow(2).sum(-1) + b.pow(2).sum(-1)) / 2 + EPS


def contrastive_loss(segments: Segments, margin: float = MARGIN) -> torch.Tensor:
    """Hinge on the relative distance of the two segments of each two-segment document."""
    first, second = segments.consecutive()
    pairs = segments.per_document()[first] == 2
    if not bool(pairs.any()):
        return _zero(segments)
    a, b = segments.coordinates[first[pairs]], segments.coordinates[second[pairs]]
    distance = (a - b).norm(dim=-1) / _mean_square(a, b).sqrt()
    return torch.relu(margin - distance).mean()


def interference_loss(segments: Segments) -> torch.Tensor:
    """Mean squared cosine between the centred coordinates of different segments of one document."""
    if segments.coordinates.shape[0] < 2:
        return _zero(segments)
    centred = segments.coordinates - segments.coordinates.mean(0).detach()
    unit = centred / (centred.norm(dim=-1, keepdim=True) + EPS)
    same = segments.document[:, None] == segments.document[None, :]
    pairs = torch.triu(same, diagonal=1)
    if not bool(pairs.any()):
        return _zero(segments)
    return (unit @ unit.T).pow(2)[pairs].mean()


def temporal_loss(segments: Segments) -> torch.Tensor:
    """Mean squared jump between neighbouring segments of one document, over the batch's spread."""
    previous, current = segments.consecutive()
    if previous.numel() == 0:
        return _zero(segments)
    coordinates = segments.coordinates
    spread = (coordinates - coordinates.mean(0)).pow(2).sum(-1).mean() + EPS
    return (coordinates[current] - coordinates[previous]).pow(2).sum(-1).mean() / spread


@LOSSES.register(CONTRASTIVE)
def coordinate_contrastive(model: nn.Module, batch: Mapping[str, torch.Tensor], outputs: Any) -> torch.Tensor:
    return contrastive_loss(batch_segments(model, batch))


@LOSSES.register(INTERFERENCE)
def coordinate_interference(model: nn.Module, batch: Mapping[str, torch.Tensor], outputs: Any) -> torch.Tensor:
    return interference_loss(batch_segments(model, batch))


@LOSSES.register(TEMPORAL)
def coordinate_temporal(model: nn.Module, batch: Mapping[str, torch.Tensor], outputs: Any) -> torch.Tensor:
    return temporal_loss(batch_segments(model, batch))
