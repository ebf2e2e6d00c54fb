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
from geolm.curvature.blockwise import blockwise_attention
from geolm.curvature.flex import flex_geodesic_attention
from geolm.curvature.options import CurvatureOptions
from geolm.errors import ConfigError
from geolm.geometry.analytic import arsin_ratio
from geolm.geometry.stereographic import (
    apply,
    augmented_rows,
    distance_from_half_chord,
    half_chord_distance_grads,
    half_chord_distance_values,
    half_chord_product,
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


def causal_mask(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    """(T, S), True where a query may see a key: the queries are the newest `queries` of `keys` positions."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril(keys - queries)


def wide(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32, or float64 if it already is."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def augmented(
    q: torch.Tensor, k: torch.Tensor, kappa: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented rows q′, k′ whose dot products are the squared half-chords ℓ² (`geolm.curvature.score`), and
    κ and w = −1/τ, grouped as (B, H_kv, G, …).

    Queries (B, H, T, D) and keys (B, H_kv, S, D) are scaled by 1/√D, taken to the manifold by expmap0
    (projected into the ball for κ < 0) and described in float32 or wider: q′ is (B, H_kv, G, T, D + 2)
    and k′ (B, H_kv, G, S, D + 2), since a key's row terms depend on the curvature of the query head.
    κ and w (H,) come back as (H_kv, G, 1, 1).
    """
    bsz, heads, queries, dim = q.shape
    kv_heads = k.shape[1]
    groups = heads // kv_heads
    scale = dim**-0.5
    u = wide(q).view(bsz, kv_heads, groups, queries, dim) * scale
    v = wide(k).unsqueeze(2) * scale
    kappa = kappa.to(u.dtype).view(kv_heads, groups, 1, 1)
    rows, columns = tangent_terms(u, v, kappa)
    return *augmented_rows(rows, u, columns, v), kappa, weight.to(u.dtype).view(kv_heads, groups, 1, 1)


def squared_distance(half_chord_sq: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """d_κ² = 4ℓ²·A(κℓ²)², analytic in ℓ² (no square root, so smooth where points meet), κ = 0 included."""
    g = half_chord_sq.clamp_min(0)
    return 4 * g * arsin_ratio((kappa * g).clamp_max(1 - torch.finfo(g.dtype).eps)) ** 2


def squared_scores(q: torch.Tensor, k: torch.Tensor, kappa: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """w·√D·(d² − d₀²)/8 for queries (B, H, T, D) and keys (B, H_kv, S, D): (B, H, T, S), d₀ the key's distance
    from the origin. At κ = 0, d² = 4‖u − v‖² for u, v the queries and keys over √D, so with w = −1 this is
    q·k/√D − ‖q‖²/(2√D): scaled dot-product scores plus a term of the query alone, which softmax ignores."""
    bsz, heads, queries, dim = q.shape
    rows, columns, grouped_kappa, grouped_weight = augmented(q, k, kappa, weight)
    pairs = squared_distance(half_chord_product(rows, columns), grouped_kappa)
    # The origin's augmented row is (ρ, b, −2fu) = (0, 1, 0), so its ℓ² to each key is that key's ρ column.
    from_origin = squared_distance(columns[..., 1].unsqueeze(-2), grouped_kappa)
    return (grouped_weight * dim**0.5 / 8 * (pairs - from_origin)).view(bsz, heads, queries, k.shape[2])


def geodesic_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kappa: torch.Tensor,
    weight: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    kernel: str = "reference",
    dropout: float = 0.0,
    score: str = "distance",
) -> torch.Tensor:
    """Curvature attention of queries (B, H, T, D) over keys and values (B, H_kv, S, D): (B, H, T, D).

    Head h scores a key by w_h·d_κh(query, key) with w = −1/τ (κ and w are (H,)), or with `score` "squared"
    by `squared_scores` (reference kernel only). `mask` (B or 1, 1, T, S) is True where a query may attend;
    without one, `causal` lets the queries (the newest T of S positions) see keys up to their own. `kernel`
    is "reference", "blockwise" or "flex" (docs/curvature.md); `dropout` (reference only) drops attention
    probabilities.
    """
    bsz, heads, queries = q.shape[:3]
    keys = k.shape[2]
    if kernel == "reference":
        if mask is None and causal and queries > 1:
            mask = causal_mask(queries, keys, q.device)
        if score == "squared":
            scores = squared_scores(q, k, kappa, weight)
            scores = scores if mask is None else scores.masked_fill(~mask, float("-inf"))
            probs = scores.softmax(-1).nan_to_num(0.0).to(v.dtype)  # a row that sees nothing: zeros
        else:
            rows, columns, kappa, weight = augmented(q, k, kappa, weight)
            hidden = None if mask is None else ~(mask if mask.dim() < 4 else mask.unsqueeze(2))
            probs = apply(GeodesicSoftmax, half_chord_product(rows, columns), kappa, weight, hidden)[0].to(v.dtype)
        if dropout:
            probs = nn.functional.dropout(probs, dropout)
        return (probs.view(bsz, k.shape[1], -1, keys) @ v).view(bsz, heads, queries, -1)  # no copy of shared v
    rows, columns, kappa, weight = augmented(q, k, kappa, weight)
    fused = flex_geodesic_attention if kernel == "flex" else blockwise_attention
    grouped_mask = None if mask is None else mask.unsqueeze(2)
    out = fused(rows, columns, v.unsqueeze(2), kappa, weight, grouped_mask, causal and mask is None)
    return out.to(v.dtype).view(bsz, heads, queries, -1)


@ATTENTION.register("curvature")
class CurvatureAttention(GroupedQueryAttention):
    """Grouped-query attention scoring keys by minus their geodesic distance, with a learnt κ per head."""

    options_class = CurvatureOptions

    def __init__(self, config: GeoConfig, layer_idx: int, modulation: NoModulation) -> None:
        super().__init__(config, layer_idx, modulation)
        self.options = CurvatureOptions.from_config(config)
        self.raw_kappa = nn.Parameter(torch.empty(self.num_heads))
        self.log_tau = nn.Parameter(torch.empty(self.num_heads), requires_grad=self.options.learn_tau)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """κ and τ as the options start them (the projections reset their own)."""
        with torch.no_grad():
            self.raw_kappa.copy_(torch.atanh(initial_kappa(self.options.init, self.num_heads) / KAPPA_MAX))
            self.log_tau.fill_(math.log(self.options.tau))

    @property
    def kappa(self) -> torch.Tensor:
        """Curvature of each query head, shape (H,)."""
        return KAPPA_MAX * torch.tanh(self.raw_kappa)

    @property
    def weight(self) -> torch.Tensor:
        """−1/τ of each query head, shape (H,): scores are w·d."""
        return -torch.exp(-self.log_tau)

    def geometry(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ℓ² of every (query, key) pair on each head's manifold (B, H_kv, G, T, S), κ and −1/τ."""
        rows, columns, kappa, weight = augmented(q, k, self.kappa, self.weight)
        return half_chord_product(rows, columns), kappa, weight

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The scores (−d/τ, or the squared form) for queries (B, H, T, D) and keys (B, H_kv, S, D): (B, H, T, S)
        in float32 or wider."""
        if self.options.score == "squared":
            return squared_scores(q, k, self.kappa, self.weight)
        half_chord_sq, kappa, weight = self.geometry(q, k)
        bsz, heads, queries, keys = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
        return (distance_from_half_chord(half_chord_sq, kappa) * weight).view(bsz, heads, queries, keys)

    def kernel(self, ctx: ForwardContext, queries: int, device: torch.device) -> str:
        """The back-end this forward runs: the `kernel` option, or what "auto" picks for these inputs."""
        chosen = ctx.current(self.options).kernel
        if self.options.score == "squared":
            if chosen not in ("auto", "reference"):
                raise ConfigError(
                    f"part_options['attention']['kernel'] = {chosen!r}: the squared score runs on the reference "
                    "kernel only; use 'auto' or 'reference'"
                )
            return "reference"
        dropping = self.training and self.dropout > 0
        if chosen == "auto":
            if dropping or queries == 1:
                return "reference"
            return "flex" if device.type == "cuda" and torch.is_grad_enabled() else "blockwise"
        if dropping and chosen != "reference":
            raise ConfigError(
                f"part_options['attention']['kernel'] = {chosen!r} applies no attention dropout "
                f"(attention_dropout = {self.dropout}); use 'auto' or 'reference'"
            )
        if chosen == "flex" and device.type != "cuda" and torch.is_grad_enabled() and self.raw_kappa.requires_grad:
            raise ConfigError(
                f"part_options['attention']['kernel'] = 'flex' cannot train on {device.type}: torch runs "
                "FlexAttention's backward on CUDA only; use 'auto' or 'blockwise'"
            )
        return chosen

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], ctx: ForwardContext) -> torch.Tensor:
        bsz, seq, _ = x.shape
        q, k, v = self.project_qkv(x, rope, ctx)
        out = geodesic_attention(
            q,
            k,
            v,
            self.kappa,
            self.weight,
            ctx.attention_mask,
            ctx.is_causal,
            self.kernel(ctx, seq, x.device),
            self.dropout if self.training else 0.0,
            self.options.score,
        )
        return self.o_proj(out.transpose(1, 2).reshape(bsz, seq, -1), ctx)


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
        if hidden is None:
            return scores.softmax(-1), d
        probs = scores.masked_fill_(hidden, float("-inf")).softmax(-1)
        return probs.nan_to_num_(0.0), d  # a row that sees nothing: zeros, as the other back-ends give

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
