"""Building blocks shared by every geolm model: RMSNorm, rotary embeddings and the plain linear layer."""

from __future__ import annotations

import torch
from torch import nn

from geolm.nn.context import ForwardContext


class RMSNorm(nn.Module):
    """Root-mean-square norm computed in float32, as Llama does, so bf16 training stays stable."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (the half-split layout of HF Llama) evaluated at explicit positions."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta

    @torch.no_grad()
    def forward(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of shape (B, T, head_dim) for `position_ids` of shape (B, T).

        The frequencies are recomputed each call (head_dim / 2 numbers) rather than kept in a buffer, so a
        model materialised from the meta device by `from_pretrained` needs no special re-initialisation.
        """
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.float32, device=position_ids.device)
        inv_freq = 1.0 / (self.theta ** (exponents / self.head_dim))
        freqs = position_ids[..., None].float() * inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` of shape (B, H, T, D) by the angles whose cos/sin have shape (B, T, D)."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Linear(nn.Linear):
    """The baseline projection: a plain linear layer that accepts (and ignores) the forward context.

    Every projection in a geolm block is called as `proj(x, ctx)`, so a modulation part can swap in a
    layer that reads per-token state from `ctx` without the attention or FFN code changing.
    """

    def forward(self, x: torch.Tensor, ctx: ForwardContext | None = None) -> torch.Tensor:
        return super().forward(x)
