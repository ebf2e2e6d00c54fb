"""The probability simplex with the Fisher–Rao metric, through the square-root map to a sphere.

p ↦ s = 2√p is an isometry from the open simplex with the Fisher–Rao metric onto the positive orthant of the
sphere of radius 2, so distances and logarithms are the sphere's:

    d(p, q) = 2·arccos(Σᵢ √(pᵢqᵢ)),
    log_p(q) at the barycentre b = 1/n (in sphere coordinates) = θ/sin θ·(s_q − cos θ·s_b), cos θ = ⟨s_q, s_b⟩/4,

with θ/sin θ written as an analytic function of θ, finite at q = b. `clr` is the other standard geometry of the
simplex (Aitchison's), a linear isometry onto the zero-sum hyperplane, given for comparison.
"""

from __future__ import annotations

import torch

from geolm.geometry.analytic import arsin_ratio
from geolm.geometry.stereographic import full_precision

RADIUS = 2.0


@full_precision
def sphere_point(p: torch.Tensor) -> torch.Tensor:
    """2√p: the point of the radius-2 sphere that the simplex point p maps to."""
    return RADIUS * p.clamp_min(0).sqrt()


@full_precision
def fisher_rao_distance(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """2·arccos(Σ √(p q)) over the last dimension (the Bhattacharyya coefficient clamped to [0, 1])."""
    overlap = (p.clamp_min(0) * q.clamp_min(0)).sqrt().sum(-1).clamp(0.0, 1.0)
    return RADIUS * torch.arccos(overlap)


@full_precision
def log_barycentre(p: torch.Tensor) -> torch.Tensor:
    """The tangent vector at the barycentre pointing to p (sphere coordinates, length = Fisher–Rao distance).

    With s = 2√p, b = 2/√n and the chord h = ‖s − b‖, θ = 2·arcsin(h/4) and the logarithm is
    (θ/sin θ)·(s − cos θ·b); θ/sin θ = arcsin(x)/(x·√(1 − x²)), x = h/4, an analytic function of x² (and
    x² <= 1/2 on the positive orthant, so the root never vanishes).
    """
    n = p.shape[-1]
    s = sphere_point(p)
    b = torch.full_like(s, RADIUS / n**0.5)
    x_sq = ((s - b) ** 2).sum(-1, keepdim=True) / (2 * RADIUS) ** 2  # sin²(θ/2) = (h/2R)², h the chord
    cos_theta = 1 - 2 * x_sq
    ratio = arsin_ratio(x_sq) / (1 - x_sq).sqrt()  # θ/sin θ with θ = 2 arcsin(x)
    return ratio * (s - cos_theta * b)


def clr(p: torch.Tensor) -> torch.Tensor:
    """Centred log-ratio: log p minus its mean over the last dimension (Aitchison geometry)."""
    logs = p.clamp_min(torch.finfo(p.dtype).tiny).log()
    return logs - logs.mean(-1, keepdim=True)
