"""Curvature attention: each head scores keys by minus their geodesic distance on its own κ-manifold.

Per head h, κ_h = 2·tanh(raw_h) in (-2, 2) (κ < 0 hyperbolic, 0 Euclidean, κ > 0 spherical) and scores are
-d_κ(expmap0(q/√D), expmap0(k/√D)) / τ_h, softmax-normalised over the allowed keys, then applied to the
values. Queries and keys are rotated by RoPE first: expmap0 commutes with rotations and d_κ is invariant under
them, so scores still depend on positions only through their difference. Distances come from one QKᵀ
product and row norms (`geolm.geometry.stereographic.pairwise_dist_expmap0`), in float32 even under
autocast. Projections, the KV cache (raw rotated keys, as the baseline stores them) and grouped key/value
heads are the baseline's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geolm.config import GeoConfig
from geolm.curvature.options import CurvatureOptions
from geolm.geometry.stereographic import (
    apply,
    distance_from_half_chord,
    half_chord_distance_grads,
    half_chord_distance_values,
    half_chord_pairwise,
    sum_of_products,
    tangent_terms,
)
from geolm.nn.baseline import GroupedQueryAttention, NoModulation
from geolm.nn.context import ForwardContext
from geolm.nn.registry import ATTENTION

KAPPA_MAX = 2.0


def initial_kappa(init: str, heads: int) -> torch.Tensor:
    """Starting curvatures of `heads` heads for a `CurvatureOptions.init` (random draws use torch's RNG)."""
    if init == "random":
        return torch.empty(heads).uniform_(-1.0, 1.0)
    if init == "linspace":
        return torch.linspace(-1.0, 1.0, heads)
    return torch.zeros(heads)


def key_mask(ctx: ForwardContext, queries: int, keys: int, device: torch.device) -> torch.Tensor | None:
    """Boolean (…, T, S) mask of the keys each query may see, or None when it sees all of them.

    The model's mask is used when it has one; otherwise a causal model needs the triangle aligned to the
    last query (the newest `queries` of `keys` positions), and one query or an encoder needs nothing.
    """
    if ctx.attention_mask is not None:
        return ctx.attention_mask
    if not ctx.is_causal or queries == 1:
        return None
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril(keys - queries)


def wide(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32, or float64 if it already is."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


@ATTENTION.register("curvature")
class CurvatureAttention(GroupedQueryAttention):
    """Grouped-query attention scoring keys by minus their geodesic distance, with a learnt κ per head."""

    options_class = CurvatureOptions

    def __init__(self, config: GeoConfig, layer_idx: int, modulation: NoModulation) -> None:
        super().__init__(config, layer_idx, modulation)
        self.options = CurvatureOptions.from_config(config)
        self.raw_kappa = nn.Parameter(torch.atanh(initial_kappa(self.options.init, self.num_heads) / KAPPA_MAX))
        tau = torch.full((self.num_heads,), math.log(self.options.tau))
        self.log_tau = nn.Parameter(tau, requires_grad=self.options.learn_tau)

    @property
    def kappa(self) -> torch.Tensor:
        """Curvature of each query head, shape (H,)."""
        return KAPPA_MAX * torch.tanh(self.raw_kappa)

    def geometry(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ℓ² of every (query, key) pair on each head's manifold, κ and −1/τ, grouped as (B, H_kv, G, …).

        Queries (B, H, T, D) and keys (B, H_kv, S, D) are scaled by 1/√D, taken to the manifold by expmap0
        (projected into the ball for κ < 0) and compared in float32 or wider: ℓ² is (B, H_kv, G, T, S).
        """
        bsz, heads, queries, dim = q.shape
        kv_heads = k.shape[1]
        groups = heads // kv_heads
        scale = dim**-0.5
        u = wide(q).view(bsz, kv_heads, groups, queries, dim) * scale
        v = wide(k).unsqueeze(2) * scale
        kappa = self.kappa.to(u.dtype).view(kv_heads, groups, 1, 1)
        weight = -self.log_tau.to(u.dtype).neg().exp().view(kv_heads, groups, 1, 1)
        rows, columns = tangent_terms(u, v, kappa)
        return half_chord_pairwise(rows, u, columns, v), kappa, weight

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """-d/τ for queries (B, H, T, D) and keys (B, H_kv, S, D): (B, H, T, S) in float32 or wider."""
        half_chord_sq, kappa, weight = self.geometry(q, k)
        bsz, heads, queries, keys = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
        return (distance_from_half_chord(half_chord_sq, kappa) * weight).view(bsz, heads, queries, keys)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], ctx: ForwardContext) -> torch.Tensor:
        bsz, seq, _ = x.shape
        q, k, v = self.project_qkv(x, rope, ctx)
        keys = k.shape[2]
        mask = key_mask(ctx, seq, keys, x.device)
        hidden = None if mask is None else ~(mask if mask.dim() < 4 else mask.unsqueeze(2))
        probs = apply(GeodesicSoftmax, *self.geometry(q, k), hidden)[0].to(v.dtype)
        if self.training and self.dropout:
            probs = nn.functional.dropout(probs, self.dropout)
        out = probs.view(bsz, self.num_kv_heads, -1, keys) @ v  # shared value heads, no copy
        out = out.view(bsz, self.num_heads, seq, self.head_dim).transpose(1, 2).reshape(bsz, seq, -1)
        return self.o_proj(out, ctx)


class GeodesicSoftmax(torch.autograd.Function):
    """softmax(w·d) over the visible keys from ℓ², κ and w = −1/τ, fused so that few (…, T, S) tensors exist.

    The forward keeps ℓ², d and the probabilities (d is a second, non-differentiable output, which is how a
    forward intermediate reaches `setup_context`); the backward reuses its buffers in place. Equal to
    `softmax(scores)` with `CurvatureAttention.scores` (tested), at a fraction of autograd's memory traffic.
    """

    @staticmethod
    def forward(
        half_chord_sq: torch.Tensor, kappa: torch.Tensor, weight: torch.Tensor, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        d = half_chord_distance_values(half_chord_sq, kappa)
        scores = d * weight
        if hidden is not None:
            scores.masked_fill_(hidden, float("-inf"))
        return scores.softmax(-1), d

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        half_chord_sq, kappa, weight, _ = inputs
        probs, d = output
        ctx.mark_non_differentiable(d)
        ctx.save_for_backward(half_chord_sq, kappa, weight, probs, d)

    @staticmethod
    def backward(ctx, grad: torch.Tensor, _: None):
        half_chord_sq, kappa, weight, probs, d = ctx.saved_tensors
        grad_scores = grad * probs  # softmax's backward p·(g − Σ g·p), in one buffer
        grad_scores.addcmul_(probs, grad_scores.sum(-1, keepdim=True), value=-1)
        grad_weight = sum_of_products(grad_scores, d, weight.shape)
        grad_d = grad_scores.mul_(weight)
        grad_s, grad_kappa = half_chord_distance_grads(half_chord_sq, kappa, d, grad_d, ctx.needs_input_grad[1])
        return grad_s, grad_kappa, grad_weight, None
