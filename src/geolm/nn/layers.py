"""Building blocks shared by every geolm model: RMSNorm, rotary embeddings and the plain linear layer."""

from __future__ import annotations

import torch
from torch import nn

from geolm.nn.context import ForwardContext


class RMSNorm(nn.Module):
    """Root-mean-square norm computed in float32, as Llama does, so bf16 training stays stable."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim))
        self.eps = eps
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (the half-split layout of HF Llama) evaluated at explicit positions.

    `scaling` (the `rope_parameters` of a scaled RoPE without its theta: linear, llama3 or yarn) takes the
    frequencies and the cos/sin factor from transformers' own RoPE functions, as the converted checkpoint's
    model computed them.
    """

    def __init__(
        self, head_dim: int, theta: float = 10000.0, scaling: dict | None = None, max_positions: int | None = None
    ) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta
        self.scaling = dict(scaling) if scaling else None
        self.max_positions = max_positions
        self._scaled: dict[torch.device, tuple[torch.Tensor, float]] = {}

    def frequencies(self, device: torch.device) -> tuple[torch.Tensor, float]:
        """The inverse frequencies (head_dim / 2) and the factor cos and sin are scaled by."""
        if self.scaling is None:
            exponents = torch.arange(0, self.head_dim, 2, dtype=torch.float32, device=device)
            return 1.0 / (self.theta ** (exponents / self.head_dim)), 1.0
        if device not in self._scaled:
            from transformers import LlamaConfig
            from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

            shape = {"hidden_size": self.head_dim, "num_attention_heads": 1, "head_dim": self.head_dim}
            rope = {"rope_theta": self.theta, **self.scaling}
            config = LlamaConfig(**shape, max_position_embeddings=self.max_positions, rope_parameters=rope)
            inv_freq, factor = ROPE_INIT_FUNCTIONS[self.scaling["rope_type"]](config, device)
            self._scaled[device] = (inv_freq.float(), float(factor))
        return self._scaled[device]

    @torch.no_grad()
    def forward(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of shape (B, T, head_dim) for `position_ids` of shape (B, T).

        The frequencies are computed on first use (plain RoPE: each call, head_dim / 2 numbers) rather than kept
        in a buffer, so a model materialised from the meta device by `from_pretrained` needs no special
        re-initialisation.
        """
        inv_freq, factor = self.frequencies(position_ids.device)
        freqs = position_ids[..., None].float() * inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * factor).to(dtype), (emb.sin() * factor).to(dtype)


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
