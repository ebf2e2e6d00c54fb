"""The κ-stereographic model as pure tensor functions, one formula for every curvature κ (geoopt's sign).

κ < 0 is the Poincaré ball of radius 1/√-κ, κ = 0 Euclidean space, κ > 0 the stereographic projection of the
sphere of radius 1/√κ; the metric is λ(x)²·Euclidean with λ(x) = 2 / (1 + κ‖x‖²), so d(0, x) = 2·artan_κ(‖x‖)
and d_0(x, y) = 2‖x − y‖. Every function takes κ as a tensor broadcastable against `x[..., :1]` (one κ per
row, for instance per attention head), contains no Python branch on κ (see `geolm.geometry.analytic`), and
runs in at least float32 even under autocast.

Distances. With (−x) ⊕_κ y the Möbius sum,

    d_κ(x, y) = 2·artan_κ(‖(−x) ⊕_κ y‖),   ‖(−x) ⊕_κ y‖² = ‖x − y‖² / (1 + 2κ⟨x,y⟩ + κ²‖x‖²‖y‖²).

(The Poincaré-ball formula with −2c⟨x,y⟩ in the denominator is the same one written with c = −κ.) The
denominator vanishes for antipodal points of the sphere, so it is rewritten with the identity
1 + 2κ⟨x,y⟩ + κ²‖x‖²‖y‖² = (1 + κ‖x‖²)(1 + κ‖y‖²) − κ‖x − y‖², which turns the distance into

    d_κ = 2ℓ·arsin(√κ ℓ)/(√κ ℓ),   ℓ² = ‖x − y‖² / ((1 + κ‖x‖²)(1 + κ‖y‖²)),

(ℓ is half the chord between the points on the sphere or hyperboloid): ℓ² is bounded on the sphere and never
divides by a vanishing number, and arsin(√κ ℓ)/(√κ ℓ) is one analytic function of κℓ² (arsinh for κ < 0).
Pairwise distances expand ℓ² into row terms and one matrix product, so N×M distances cost one N×M×D matmul
and never build an N×M×D tensor.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import torch

from geolm.geometry.analytic import arsin_ratio, artan_ratio, cos_root, sin_ratio, tan_ratio

# Gap to the Poincaré ball's boundary that `project` keeps, as a fraction of its radius (geoopt's values).
BALL_EPS = {torch.float32: 4e-3, torch.float64: 1e-5}

F = TypeVar("F", bound=Callable[..., torch.Tensor])


def full_precision(fn: F) -> F:
    """Run `fn` with half-precision tensor arguments cast to float32 and autocast switched off."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        def up(value):
            if isinstance(value, torch.Tensor) and value.dtype in (torch.float16, torch.bfloat16):
                return value.float()
            return value

        args = tuple(up(a) for a in args)
        kwargs = {name: up(value) for name, value in kwargs.items()}
        device = next(a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)).device.type
        with torch.autocast(device_type=device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def as_curvature(k: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """κ as a tensor of `like`'s dtype and device."""
    return torch.as_tensor(k, dtype=like.dtype, device=like.device)


def sq_norm(x: torch.Tensor) -> torch.Tensor:
    """‖x‖² over the last dimension, kept as a size-1 dimension."""
    return (x * x).sum(-1, keepdim=True)


@full_precision
def tan_k(x: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """tan_κ(x): tan(√κ x)/√κ for κ > 0, x at κ = 0, tanh(√-κ x)/√-κ for κ < 0 (elementwise)."""
    return x * tan_ratio(as_curvature(k, x) * x * x)


@full_precision
def artan_k(y: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """artan_κ(y), the inverse of tan_κ (elementwise; for κ < 0 needs |y| < 1/√-κ)."""
    return y * artan_ratio(as_curvature(k, y) * y * y)


@full_precision
def expmap0(u: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """The point reached from the origin along tangent vector u: tan_κ(‖u‖)·u/‖u‖ (finite at u = 0)."""
    return u * tan_ratio(as_curvature(k, u) * sq_norm(u))


@full_precision
def project(x: torch.Tensor, k: torch.Tensor | float, eps: float | None = None) -> torch.Tensor:
    """Pull points of the ball (κ < 0) to norm <= (1 - eps)/√-κ; identity for κ >= 0."""
    k = as_curvature(k, x)
    eps = BALL_EPS.get(x.dtype, BALL_EPS[torch.float32]) if eps is None else eps
    excess = (-k).clamp_min(0) * sq_norm(x) / (1 - eps) ** 2
    return x * excess.clamp_min(1).rsqrt()


@full_precision
def mobius_add(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """x ⊕_κ y, the gyrovector sum (x + y at κ = 0)."""
    k = as_curvature(k, x)
    xy, xx, yy = (x * y).sum(-1, keepdim=True), sq_norm(x), sq_norm(y)
    numerator = (1 - 2 * k * xy - k * yy) * x + (1 + k * xx) * y
    return numerator / (1 - 2 * k * xy + k * k * xx * yy)


def distance_from_half_chord(half_chord_sq: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """d = 2ℓ·arsin_ratio(κℓ²) from ℓ²; the clamps keep sqrt and arcsin differentiable.

    ℓ² is clamped at the smallest normal number (zero gradient at coincident points) and κℓ² at 1 - ulp
    (antipodal points of the sphere, where the distance is not differentiable, get a large finite gradient).
    """
    info = torch.finfo(half_chord_sq.dtype)
    half_chord_sq = half_chord_sq.clamp_min(info.tiny)
    return 2 * half_chord_sq.sqrt() * arsin_ratio((k * half_chord_sq).clamp_max(1 - info.eps))


@full_precision
def dist(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """Geodesic distance between matching rows of x and y (shape x.shape[:-1])."""
    k = as_curvature(k, x)
    half_chord_sq = sq_norm(x - y) / ((1 + k * sq_norm(x)) * (1 + k * sq_norm(y)))
    return distance_from_half_chord(half_chord_sq, k).squeeze(-1)


class RowTerms(NamedTuple):
    """Per-row factors of ℓ²(x_i, y_j) = ρ_i b_j + b_i ρ_j − 2 f_i f_j ⟨p_i, p_j⟩ (each (..., N, 1)).

    For a point x: b = 1/(1 + κ‖x‖²), ρ = ‖x‖² b, f = b, p = x. For x = expmap0(u) the same numbers follow
    from θ² = κ‖u‖² without visiting x: b = cos²θ, ρ = ‖u‖²(sin θ/θ)², f = (sin θ/θ)·cos θ, p = u.
    """

    rho: torch.Tensor
    b: torch.Tensor
    f: torch.Tensor


def point_terms(x: torch.Tensor, k: torch.Tensor) -> RowTerms:
    """Row terms of points given in stereographic coordinates."""
    xx = sq_norm(x)
    b = 1 / (1 + k * xx)
    return RowTerms(xx * b, b, b)


def tangent_terms(u: torch.Tensor, k: torch.Tensor, eps: float | None = None) -> RowTerms:
    """Row terms of expmap0(u), projected into the ball for κ < 0 (`project` after `expmap0`).

    Projection is a clamp of the hyperbolic radius √-κ‖u‖ at artanh(1 - eps). Unlike a detour through
    `expmap0`, nothing here has a pole when a spherical geodesic reaches the antipode of the origin.
    """
    eps = BALL_EPS.get(u.dtype, BALL_EPS[torch.float32]) if eps is None else eps
    max_radius_sq = math.atanh(1 - eps) ** 2
    uu = sq_norm(u)
    shrink_sq = 1 / ((-k * uu / max_radius_sq).clamp_min(1))
    z = k * uu * shrink_sq
    sin_r, cos_r = sin_ratio(z), cos_root(z)
    return RowTerms(uu * shrink_sq * sin_r * sin_r, cos_r * cos_r, shrink_sq.sqrt() * sin_r * cos_r)


def half_chord_pairwise(x: RowTerms, y: RowTerms, dots: torch.Tensor) -> torch.Tensor:
    """ℓ² for every (i, j) from row terms and the matrix of ⟨p_i, p_j⟩, shape (..., N, M)."""
    return x.rho * y.b.mT + x.b * y.rho.mT - 2 * (x.f * y.f.mT) * dots


@full_precision
def pairwise_dist(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """Distances between all rows of x (..., N, D) and y (..., M, D), shape (..., N, M); κ is (..., 1, 1)."""
    k = as_curvature(k, x)
    terms = half_chord_pairwise(point_terms(x, k), point_terms(y, k), x @ y.mT)
    return distance_from_half_chord(terms, k)


@full_precision
def pairwise_dist_expmap0(
    u: torch.Tensor, v: torch.Tensor, k: torch.Tensor | float, eps: float | None = None
) -> torch.Tensor:
    """d(project(expmap0(u_i)), project(expmap0(v_j))) for all pairs, shape (..., N, M); κ is (..., 1, 1)."""
    k = as_curvature(k, u)
    terms = half_chord_pairwise(tangent_terms(u, k, eps), tangent_terms(v, k, eps), u @ v.mT)
    return distance_from_half_chord(terms, k)
