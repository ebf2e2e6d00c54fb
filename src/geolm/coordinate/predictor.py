"""The amortised coordinate predictor: one token's input embedding -> that token's coordinates theta[t].

It reads each position on its own (norm, MLP), so theta[t] depends on token t and nothing after it; the
running context over earlier tokens comes from the scan in `geolm.coordinate.scan`. A sequence mean here is
exactly how the future leaked into every position in the public original.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from geolm.nn import RMSNorm


class CoordinatePredictor(nn.Module):
    """norm -> Linear(hidden, predictor_hidden) -> SiLU -> Linear(predictor_hidden, coord_dim), in float32."""

    def __init__(self, hidden_size: int, inner: int, coord_dim: int, eps: float) -> None:
        super().__init__()
        self.norm = RMSNorm(hidden_size, eps)
        self.fc_in = nn.Linear(hidden_size, inner)
        self.fc_out = nn.Linear(inner, coord_dim)

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        """(B, T, hidden) -> (B, T, coord_dim) float32, outside autocast (coordinates are geometry)."""
        with torch.autocast(embeds.device.type, enabled=False):
            x = self.norm(embeds.float()).float()
            x = F.silu(F.linear(x, self.fc_in.weight.float(), self.fc_in.bias.float()))
            return F.linear(x, self.fc_out.weight.float(), self.fc_out.bias.float())
