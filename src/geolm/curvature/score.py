"""The score of curvature attention: one elementwise map of one dot product per (query, key) pair.

A head maps its query and key to points x, y of its κ-manifold (expmap0, then the projection into the ball for
κ < 0). Their squared half-chord is a dot product of augmented rows (`geolm.geometry.stereographic`):

    ℓ² = ⟨q′, k′⟩,   q′ = (ρ_x, b_x, −2 f_x u),   k′ = (b_y, ρ_y, f_y v),

where u, v are the scaled query and key and ρ, b, f are per-row terms (for a point x, b = 1/(1 + κ‖x‖²),
ρ = ‖x‖²·b, f = b). The geodesic distance is an analytic function of g = ℓ² and κ alone,

    d_κ(g) = 2√g · A(κg),   A(z) = arcsin(√z)/√z for z > 0, arsinh(√−z)/√−z for z < 0, A(0) = 1,

and the score is w·d_κ(g) with w = −1/τ. So curvature attention is attention over q′ and k′ whose scores go
through `score_map`, a per-head elementwise function of q′·k′: exactly what FlexAttention's `score_mod` and
a blockwise online softmax can fuse. Gradients reach q and k through q′ and k′ by ordinary autograd; the map
itself only needs ∂d/∂g and ∂d/∂κ.

This module holds the map three ways, tested equal: `score_map` is the differentiable, branch-free
definition (FlexAttention traces its gradient); `distances` evaluates d for heads that share the sign of κ
with one transcendental function per score, and `geolm.geometry.stereographic.half_chord_distance_grads`
gives both slopes in closed form; those two are what the blockwise kernel evaluates on every block.
"""

from __future__ import annotations

import torch

from geolm.geometry.analytic import arsin_ratio
from geolm.geometry.stereographic import half_chord_distance_values


def score_map(g: torch.Tensor, kappa: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """w·d_κ(g) for squared half-chords g, differentiable everywhere in g, κ and w (κ = 0 included).

    g is floored at 0 (rounding can make a dot product of nearby points slightly negative) and κg capped
    below 1 (antipodal points of the sphere); the square root's gradient is zero at coincident points, as in
    the closed-form slopes.
    """
    info = torch.finfo(g.dtype)
    g = g.clamp_min(0)
    root = torch.where(g > info.tiny, g.clamp_min(info.tiny).sqrt(), 0.0)
    return weight * 2 * root * arsin_ratio((kappa * g).clamp_max(1 - info.eps))


def distances(g: torch.Tensor, kappa: torch.Tensor, spherical: bool | None) -> torch.Tensor:
    """d_κ(g) for heads whose κ all have one sign (κ > 0 when `spherical`, else κ <= 0), as a new tensor;
    with `spherical` None, for heads of either sign (`half_chord_distance_values`: both forms, chosen
    elementwise).

    Knowing the sign saves a second transcendental function per score: arcsin on the sphere; on the ball
    arsinh(r) = log1p(r + r²/(1 + √(1 + r²))), which keeps full relative precision for small r and is a few
    times faster than `torch.asinh` on CPUs. |κ| is floored at ulp², where the curvature term is below
    rounding, so κ = 0 gives d = 2√g to working precision.
    """
    if spherical is None:
        return half_chord_distance_values(g, kappa)
    info = torch.finfo(g.dtype)
    if spherical:
        root = (g * kappa).clamp_(0, 1 - info.eps).sqrt_()
        return root.asin_().mul_(2 / kappa.sqrt())
    magnitude = kappa.abs().clamp_min(info.eps**2)
    square = (g * magnitude).clamp_min_(0)  # r²
    values = (square + 1).sqrt_().add_(1)
    torch.div(square, values, out=values)  # r² / (1 + √(1 + r²))
    values.add_(square.sqrt_()).log1p_()
    return values.mul_(2 / magnitude.sqrt())
