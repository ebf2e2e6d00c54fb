"""The baseline parts: grouped-query attention, SwiGLU, no modulation and no memory.

With these four every geolm model is a Llama, weight for weight (module names match HF `LlamaForCausalLM`).
Interfaces every registered part follows (see docs/architecture.md):

- attention: `cls(config, layer_idx, modulation)`; `forward(x, rope, ctx) -> x`, where `rope` is the
  (cos, sin) pair of the current positions and `ctx` the `ForwardContext`; it updates `ctx.cache` itself.
- ffn: `cls(config, layer_idx, modulation)`; `forward(x, ctx) -> x`.
- modulation: `cls(config)`, one per model; `linear(in, out, *, layer_idx, role, bias)` builds every projection, and
  `forward(inputs_embeds, ctx)` runs once before the first layer to put per-token state into `ctx.state`. An
  attention or FFN part names the roles it builds through `linear` in `modulated_roles`, the projections a
  modulation may target in it.
- memory: `cls(config, layer_idx)` or the string "none" for no module; `forward(x, ctx) -> x`, applied in each
  block between attention and FFN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from geolm.config import GeoConfig
from geolm.errors import ConfigError
from geolm.nn.context import ForwardContext
from geolm.nn.layers import Linear, RMSNorm, apply_rotary
from geolm.nn.options import PartOptions, boolean, option
from geolm.nn.registry import ATTENTION, FFN, MEMORY, MODULATION


@MODULATION.register("none")
class NoModulation(nn.Module):
    """Plain linear projections and no per-token state."""

    def __init__(self, config: GeoConfig) -> None:
        super().__init__()
        self.config = config

    def linear(
        self, in_features: int, out_features: int, *, layer_idx: int, role: str, bias: bool = False
    ) -> nn.Module:
        return Linear(in_features, out_features, bias=bias)

    def forward(self, inputs_embeds: torch.Tensor, ctx: ForwardContext) -> None:
        return None


MEMORY.register("none")(None)


@dataclass(frozen=True)
class ProjectionOptions(PartOptions):
    """How an attention part projects, as the Llama family's checkpoints do: biases on the query, key and value
    projections (Qwen2; Llama's `attention_bias` adds the output's too) and an RMSNorm over each head's
    queries and keys before the rotation (Qwen3). All off is Llama's default."""

    kind = "attention"

    qkv_bias: bool = option(False, boolean, "true or false")
    output_bias: bool = option(False, boolean, "true or false")
    qk_norm: bool = option(False, boolean, "true or false")


@ATTENTION.register("gqa")
class GroupedQueryAttention(nn.Module):
    """Multi-head attention with shared key/value heads, rotary positions and PyTorch SDPA kernels."""

    modulated_roles: ClassVar[tuple[str, ...]] = ("q_proj", "k_proj", "v_proj", "o_proj")
    options_class: ClassVar[type[ProjectionOptions]] = ProjectionOptions

    def __init__(self, config: GeoConfig, layer_idx: int, modulation: NoModulation) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.dropout = config.attention_dropout
        hidden, q_out, kv_out = (
            config.hidden_size,
            self.num_heads * self.head_dim,
            self.num_kv_heads * self.head_dim,
        )
        layout = self.options_class.from_config(config)
        bias = layout.qkv_bias
        self.q_proj = modulation.linear(hidden, q_out, layer_idx=layer_idx, role="q_proj", bias=bias)
        self.k_proj = modulation.linear(hidden, kv_out, layer_idx=layer_idx, role="k_proj", bias=bias)
        self.v_proj = modulation.linear(hidden, kv_out, layer_idx=layer_idx, role="v_proj", bias=bias)
        self.o_proj = modulation.linear(q_out, hidden, layer_idx=layer_idx, role="o_proj", bias=layout.output_bias)
        if layout.qk_norm:
            self.q_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
            self.k_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
        self.qk_norm = layout.qk_norm

    def project_qkv(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], ctx: ForwardContext
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries (B, H, T, D) and the full keys/values (B, H_kv, S, D) after the cache update."""
        bsz, seq, _ = x.shape
        q = self.q_proj(x, ctx).view(bsz, seq, self.num_heads, self.head_dim)
        k = self.k_proj(x, ctx).view(bsz, seq, self.num_kv_heads, self.head_dim)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = self.v_proj(x, ctx).view(bsz, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rope
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if ctx.cache is not None:
            k, v = ctx.cache.update(k, v, self.layer_idx)
        return q, k, v

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], ctx: ForwardContext) -> torch.Tensor:
        bsz, seq, _ = x.shape
        q, k, v = self.project_qkv(x, rope, ctx)
        groups = self.num_heads // self.num_kv_heads
        # a branch, not `and seq > 1`: under dynamic shapes that is a symbolic bool, which SDPA refuses (a graph
        # break in every layer); the branch makes the compiler specialise on it instead
        causal = ctx.is_causal and ctx.attention_mask is None
        if seq == 1:
            causal = False
        if ctx.attention_mask is not None:  # SDPA's grouped path takes no mask: share key heads by copying
            k, v = repeat_kv(k, groups), repeat_kv(v, groups)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=ctx.attention_mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=causal,
            enable_gqa=groups > 1 and ctx.attention_mask is None,
        )
        return self.o_proj(out.transpose(1, 2).reshape(bsz, seq, -1), ctx)


def repeat_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Expand (B, H_kv, S, D) to (B, H_kv * groups, S, D) so every query head sees its shared key head."""
    if groups == 1:
        return x
    bsz, kv_heads, seq, dim = x.shape
    return x[:, :, None].expand(bsz, kv_heads, groups, seq, dim).reshape(bsz, kv_heads * groups, seq, dim)


@FFN.register("swiglu")
class SwiGLU(nn.Module):
    """Llama's gated feed-forward block: down(silu(gate(x)) * up(x))."""

    modulated_roles: ClassVar[tuple[str, ...]] = ("gate_proj", "up_proj", "down_proj")

    def __init__(self, config: GeoConfig, layer_idx: int, modulation: NoModulation) -> None:
        super().__init__()
        hidden, inner = config.hidden_size, config.intermediate_size
        self.gate_proj = modulation.linear(hidden, inner, layer_idx=layer_idx, role="gate_proj")
        self.up_proj = modulation.linear(hidden, inner, layer_idx=layer_idx, role="up_proj")
        self.down_proj = modulation.linear(inner, hidden, layer_idx=layer_idx, role="down_proj")

    def forward(self, x: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x, ctx)) * self.up_proj(x, ctx), ctx)

    @classmethod
    def take_weights(cls, weights: dict[str, torch.Tensor], prefix: str, taker: str) -> dict[str, torch.Tensor]:
        """The projection weights of the SwiGLU block at `prefix` ({"gate_proj": ..., ...}), removed from
        `weights` (a converted model's replaced weights, by name) for the new part `taker` that starts from them."""
        keys = {role: f"{prefix}.{role}.weight" for role in cls.modulated_roles}
        if not all(key in weights for key in keys.values()):
            raise ConfigError(f"{prefix}: {taker} with no dense feed-forward to start from")
        return {role: weights.pop(key) for role, key in keys.items()}
