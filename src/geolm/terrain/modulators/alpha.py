"""Per-layer mixing weights (alpha) that are either learned inside fixed bounds or held at an exact value.

A learned alpha is `low + (high - low) * sigmoid(logit)`: it can never leave [low, high], and unlike a hard
clamp it keeps a gradient at the bounds, so an alpha pushed to the ceiling can come back. A fixed alpha is a
buffer holding the value itself (not a logit), so the modulator applies exactly that number.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geolm.errors import ConfigError


class LayerAlpha(nn.Module):
    """Alphas of shape `shape` (layers, or layers x experts), learned in (low, high) or fixed at `init`."""

    def __init__(
        self, shape: tuple[int, ...], init: float, *, low: float = 0.0, high: float = 1.0, learn: bool = True
    ) -> None:
        super().__init__()
        if not 0.0 <= low < high <= 1.0:
            raise ConfigError(f"alpha bounds must satisfy 0 <= low < high <= 1, got low={low}, high={high}")
        inside = low < init < high if learn else low <= init <= high
        if not inside:
            interval = f"({low}, {high})" if learn else f"[{low}, {high}]"
            raise ConfigError(f"alpha={init} must lie in {interval} ({'learned' if learn else 'fixed'} alpha)")
        self.low, self.high, self.learn = low, high, learn
        if learn:
            u = (init - low) / (high - low)
            self.logit = nn.Parameter(torch.full(shape, math.log(u / (1 - u))))
        else:
            self.register_buffer("fixed", torch.full(shape, float(init)))

    def forward(self) -> torch.Tensor:
        if self.learn:
            return self.low + (self.high - self.low) * torch.sigmoid(self.logit)
        return self.fixed
