"""The Lorentz (hyperboloid) model of curvature −c, through the space part of its points, as pure functions.

A point is x = (x₀, xₛ) with −x₀² + ‖xₛ‖² = −1/c and x₀ > 0; the time coordinate is recomputed from the space
part, x₀ = √(1/c + ‖xₛ‖²), so xₛ ∈ ℝᴰ is a chart of the whole manifold and any linear map of space parts is a
map between points (HELM's Lorentz linear layer). From the origin o = (1/√c, 0):

    expmap0(u) has space part sinh(√c‖u‖)/√c · u/‖u‖,   logmap0(x) = arsinh(√c‖xₛ‖)/√c · xₛ/‖xₛ‖,
    d(o, x) = arsinh(√c‖xₛ‖)/√c,

all written with the analytic ratios of `geolm.geometry.analytic`, finite at u = 0 and continuous to the
Euclidean identity as c → 0.
"""

from __future__ import annotations

import torch

from geolm.geometry.analytic import arsin_ratio, sin_ratio
from geolm.geometry.stereographic import as_curvature, full_precision, sq_norm


@full_precision
def expmap0_space(u: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
    """Space part of the point reached from the origin along tangent u (c > 0 the negated curvature)."""
    return u * sin_ratio(-as_curvature(c, u) * sq_norm(u))


@full_precision
def logmap0_space(x_space: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
    """The tangent vector at the origin reaching the point with space part `x_space`; inverse of expmap0_space."""
    return x_space * arsin_ratio(-as_curvature(c, x_space) * sq_norm(x_space))


@full_precision
def time_part(x_space: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
    """x₀ = √(1/c + ‖xₛ‖²) of the point with space part `x_space` (c > 0)."""
    return (1 / as_curvature(c, x_space) + sq_norm(x_space)).sqrt()


@full_precision
def minkowski_norm_sq(x_time: torch.Tensor, x_space: torch.Tensor) -> torch.Tensor:
    """−x₀² + ‖xₛ‖², which is −1/c on the hyperboloid."""
    return -x_time * x_time + sq_norm(x_space)
