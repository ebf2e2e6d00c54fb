"""What the integrator layers did while a model generated, from the general statistics recorder.

    with geolm.inference_stats(model) as stats:
        model.generate(...)
    iteration_stats(stats)          # the seed's get_inference_stats(): mean iterations per layer, and more

Nothing here keeps counters of its own: every number is recomputed from the per-token values the layers
reported (`integrator_layer_iterations`, `integrator_residual`), so there is no running average to start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geolm.integrator.layer import LAYER_ITERATIONS, RESIDUAL
from geolm.nn.stats import InferenceStats


@dataclass(frozen=True)
class IterationStats:
    """Over the generated tokens (every row): the mean iterations per layer, their overall mean, the share of
    tokens that stopped after n = 1, 2, ... iterations in each layer (`histogram[layer][n - 1]`), and the mean
    relative residual when they stopped."""

    tokens: int
    mean_iterations: float
    per_layer: list[float]
    histogram: list[list[float]]
    mean_residual: float


def iteration_stats(stats: InferenceStats, max_iterations: int | None = None) -> IterationStats:
    """Summarise the integrator statistics of the tokens generated inside `stats` (see the module docstring);
    `max_iterations` sets the histogram's length (default: the largest count seen)."""
    counts = stats.per_token(LAYER_ITERATIONS).round().long()  # (B, N, layers): whole numbers by construction
    per_layer = counts.flatten(0, 1)  # (tokens, layers)
    longest = max_iterations or int(per_layer.max())
    histogram = [
        (torch.bincount(per_layer[:, layer], minlength=longest + 1)[1 : longest + 1] / per_layer.shape[0]).tolist()
        for layer in range(per_layer.shape[1])
    ]
    return IterationStats(
        tokens=per_layer.shape[0],
        mean_iterations=float(per_layer.float().mean()),
        per_layer=per_layer.float().mean(0).tolist(),
        histogram=histogram,
        mean_residual=float(stats.per_token(RESIDUAL).mean()),
    )
