"""Weight-only int8 inference: base projections and factor banks stored as int8 with one scale per output.

Activations stay in floating point. Each matmul converts the int8 matrix to the activation dtype and scales
the output columns, x @ (q * s)^T = (x @ q^T) * s, which on a CPU was faster than both PyTorch's int8-weight
kernel `_weight_int8pack_mm` (7-64x slower than float32 here) and scaling the matrix first. What int8 buys
is memory (weights at rest and in RAM); speed stays near float32 for batches and about 2x slower per
decoding step on a CPU (docs/coordinate.md has the measurements). Embeddings (tied to the output layer),
norms, the predictor and the wavelet directions stay in floating point: the first two are shared or tiny,
the last two are the geometry.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from geolm.coordinate.modulation import FactorBank
from geolm.nn import ForwardContext, Linear


def quantize_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: (int8 weight, float32 scale) with weight ~ int8 * scale[:, None]."""
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0  # an all-zero row keeps a usable scale
    return torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def int8_matmul(x: torch.Tensor, qweight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x (..., in) @ dequantised(qweight).T, in x's dtype."""
    return F.linear(x, qweight.to(x.dtype)) * scale.to(x.dtype)


class Int8Weight(nn.Module):
    """One int8 matrix with its per-output scales, applied like `F.linear(x, weight)`."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        qweight, scale = quantize_weight(weight)
        self.register_buffer("qweight", qweight)
        self.register_buffer("scale", scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return int8_matmul(x, self.qweight, self.scale)


class Int8Linear(nn.Module):
    """Stands in for a `Linear` or `CoordinateLinear`; a coordinate projection keeps its bank link."""

    def __init__(self, linear: Linear) -> None:
        super().__init__()
        self.base = Int8Weight(linear.weight)
        self.bank_key = getattr(linear, "bank_key", None)
        self._owner = getattr(linear, "_owner", None)

    def forward(self, x: torch.Tensor, ctx: ForwardContext | None = None) -> torch.Tensor:
        out = self.base(x)
        return out if self._owner is None else out + self._owner[0].delta(self.bank_key, x, ctx)


class Int8FactorBank(nn.Module):
    """A `FactorBank` with both stacked factors in int8."""

    def __init__(self, bank: FactorBank) -> None:
        super().__init__()
        self.down = Int8Weight(bank.down)
        self.up = Int8Weight(bank.up)

    def forward(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x) * gates)


@torch.no_grad()
def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace, in place, every block projection (`Linear`, `CoordinateLinear` included) and factor bank of
    `model` by its int8 counterpart; returns `model` in eval mode, for inference only (no gradients)."""
    swaps = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if isinstance(child, Linear | FactorBank)
    ]
    for parent, name, child in swaps:
        setattr(parent, name, Int8FactorBank(child) if isinstance(child, FactorBank) else Int8Linear(child))
    return model.eval()
