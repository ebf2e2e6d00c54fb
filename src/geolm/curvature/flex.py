"""Curvature attention through PyTorch's FlexAttention: the score map as `score_mod`, masks as block masks.

FlexAttention compiles attention with a user score function into one fused kernel (Triton on CUDA, C++ on
CPU) that never stores the length x length scores, forward or backward. The augmented rows q′, k′ are its
queries and keys (scale 1, so the kernel's score is ℓ² = q′·k′), `score_map` with the head's κ and
w = −1/τ is the `score_mod`, and autograd reaches q′, k′, v, κ and w through the kernel's own backward.
The causal triangle (queries as the newest T of S positions) and the model's padding mask become block
masks, so fully masked blocks are skipped. torch runs FlexAttention's backward on CUDA only: on the CPU
this back-end serves inference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from geolm.curvature.score import score_map
from geolm.geometry.stereographic import full_precision


@functools.cache
def compiled_flex_attention() -> Callable[..., torch.Tensor]:
    """`flex_attention` under `torch.compile` (its fused kernel only exists compiled), built on first use."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def block_mask(mask: torch.Tensor | None, causal: bool, queries: int, keys: int, device: torch.device):
    """The block mask of a boolean (B or 1, 1, T, S) `mask` (True = may attend), or of the causal triangle of
    the newest `queries` of `keys` positions; None when every query sees every key."""
    from torch.nn.attention.flex_attention import create_block_mask

    if mask is not None:
        batch = mask.shape[0]

        def allowed(b, h, q_idx, kv_idx):
            return mask[b if batch > 1 else 0, 0, q_idx, kv_idx]

        return create_block_mask(allowed, batch, None, queries, keys, device=device)
    if not causal:
        return None
    offset = keys - queries

    def causal_mask(b, h, q_idx, kv_idx):
        return kv_idx <= q_idx + offset

    return create_block_mask(causal_mask, None, None, queries, keys, device=device)


@full_precision
def flex_geodesic_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kappa: torch.Tensor,
    weight: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Curvature attention (B, H_kv, G, T, D) by FlexAttention, with the shapes of `blockwise_attention`
    (`mask` (B or 1, 1, 1, T, S), True = may attend)."""
    bsz, kv_heads, groups, queries, width = q.shape
    keys = k.shape[-2]
    heads = kv_heads * groups
    kappa_heads, weight_heads = kappa.reshape(heads), weight.reshape(heads)

    def geodesic_score(score, b, h, q_idx, kv_idx):
        return score_map(score, kappa_heads[h], weight_heads[h])

    values = v.expand(bsz, kv_heads, groups, keys, v.shape[-1]).reshape(bsz, heads, keys, -1)
    out = compiled_flex_attention()(
        q.reshape(bsz, heads, queries, width),
        k.reshape(bsz, heads, keys, width),
        values.to(q.dtype),
        score_mod=geodesic_score,
        block_mask=block_mask(None if mask is None else mask[:, :, 0], causal, queries, keys, q.device),
        scale=1.0,
    )
    return out.view(bsz, kv_heads, groups, queries, -1)
