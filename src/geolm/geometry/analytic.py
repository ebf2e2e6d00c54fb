"""Branch-free evaluation of analytic functions of z = κ·r² that change formula with the sign of κ.

tan_κ, artan_κ and friends are one analytic function of z whose closed form reads tan(√z)/√z for z > 0 and
tanh(√−z)/√−z for z < 0, with a removable 0/0 at z = 0. Picking a formula with a Python `if` on κ breaks
`torch.compile`, and picking it with `torch.where` leaks NaN gradients from the unused side. Here the value is
a product of three factors, each a function of a clamped copy of z:

    f(z) = T(clamp(z, -δ, δ)) · f₊(max(z, δ)) / T(δ) · f₋(max(-z, δ)) / T(-δ)

where T is the Taylor polynomial at 0. For |z| < δ the two closed-form factors are constants equal to 1 within
T's truncation error (about 1e-17 for δ = 1e-3 and five terms), so f = T(z), gradients included; for
z > δ only the f₊ factor varies, for z < -δ only f₋. Every factor sees a safe argument, so values and
gradients are finite wherever f is, κ = 0 included, and the κ-derivative there is T'(0), not zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

RADIUS = 1e-3  # δ: where the Taylor polynomial hands over to the closed forms


def polynomial(z: torch.Tensor | float, coefficients: Sequence[float]) -> torch.Tensor | float:
    """Σ cᵢ zⁱ by Horner's rule."""
    result = coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        result = result * z + coefficient
    return result


def even_analytic(
    z: torch.Tensor,
    positive: Callable[[torch.Tensor], torch.Tensor],
    negative: Callable[[torch.Tensor], torch.Tensor],
    coefficients: Sequence[float],
) -> torch.Tensor:
    """f(z), given f(t²) = positive(t) and f(-t²) = negative(t) for t > 0 and f's Taylor coefficients at 0."""
    series = polynomial(z.clamp(-RADIUS, RADIUS), coefficients)
    above = positive(z.clamp_min(RADIUS).sqrt()) / polynomial(RADIUS, coefficients)
    below = negative((-z).clamp_min(RADIUS).sqrt()) / polynomial(-RADIUS, coefficients)
    return series * above * below


def tan_ratio(z: torch.Tensor) -> torch.Tensor:
    """tan(√z)/√z, continued as tanh(√-z)/√-z."""
    return even_analytic(
        z, lambda t: torch.tan(t) / t, lambda t: torch.tanh(t) / t, (1.0, 1 / 3, 2 / 15, 17 / 315, 62 / 2835)
    )


def artan_ratio(z: torch.Tensor) -> torch.Tensor:
    """arctan(√z)/√z, continued as artanh(√-z)/√-z (finite for z > -1)."""
    return even_analytic(
        z, lambda t: torch.atan(t) / t, lambda t: torch.atanh(t) / t, (1.0, -1 / 3, 1 / 5, -1 / 7, 1 / 9)
    )


def arsin_ratio(z: torch.Tensor) -> torch.Tensor:
    """arcsin(√z)/√z, continued as arsinh(√-z)/√-z (finite for z <= 1).

    The differentiable definition of d = 2ℓ·arsin_ratio(κℓ²); `stereographic.HalfChordDistance` computes the
    same with a hand-written backward and is tested against autograd through this.
    """
    return even_analytic(
        z, lambda t: torch.asin(t) / t, lambda t: torch.asinh(t) / t, (1.0, 1 / 6, 3 / 40, 5 / 112, 35 / 1152)
    )


def sin_ratio(z: torch.Tensor) -> torch.Tensor:
    """sin(√z)/√z, continued as sinh(√-z)/√-z (entire)."""
    return even_analytic(
        z,
        lambda t: torch.sin(t) / t,
        lambda t: torch.sinh(t) / t,
        (1.0, -1 / 6, 1 / 120, -1 / 5040, 1 / 362880),
    )


def cos_root(z: torch.Tensor) -> torch.Tensor:
    """cos(√z), continued as cosh(√-z) (entire)."""
    return even_analytic(z, torch.cos, torch.cosh, (1.0, -1 / 2, 1 / 24, -1 / 720, 1 / 40320))
