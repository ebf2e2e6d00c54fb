"""Experts that compute in their own geometry: one module per geometry, holding that group's stacked weights.

Every expert maps a token's hidden state x (width D) to a tangent vector at the origin, u = x/√D, computes a
two-layer network whose hidden layer lives on its manifold, and returns √D times a tangent vector at the
origin. The geometries (docs/experts.md has the formulas):

- euclidean, hyperbolic, spherical: a hyperbolic-network MLP (Ganea et al. 2018) on the κ-stereographic
  manifold, h = expmap0(W₁u) ⊕_κ b₁, a = silu(logmap0(h)), y = expmap0(W₂a) ⊕_κ b₂, out = logmap0(y); the
  Möbius sums are where the geometry enters, and κ = 0 is exactly W₂·silu(W₁u + b₁) + b₂. Hyperbolic
  κ = −2·sigmoid(raw) (the Poincaré ball with Möbius layers), spherical κ = +2·sigmoid(raw). The gated
  form (`expert_form="gated"`) multiplies a by a second layer of the same kind, logmap0(expmap0(Vu) ⊕_κ c),
  so that κ = 0 is the SwiGLU feed-forward W₂·(silu(W₁u + b₁) ⊙ (Vu + c)) + b₂ a dense model starts from;
- lorentz: HELM-style layers on the hyperboloid of curvature −c through space parts (time recomputed):
  xₛ = expmap0(u), h = W₁xₛ + b₁, a = silu(h), out = logmap0(W₂a + b₂), c = 2·sigmoid(raw);
- simplex: the hidden layer is a point of the probability simplex, p = softmax(W₁u + b₁), read in the
  Fisher–Rao geometry as its logarithm at the barycentre, out = W₂·log_b(p) + b₂;
- complex: complex weights stored as real pairs (`torch.view_as_complex` in forward), z = W₁u + b₁,
  a = z·sigmoid(|z|) (phase kept), out = Re(W₂a) + b₂;
- product: the hidden layer lives on a product of a ball, a sphere and a flat factor (the inner width split
  in three), each factor the stereographic layer above with its own learnt curvature, and a Euclidean
  output layer.

Tangent vectors of curved geometries pass through `squash_tangent` (geodesic length below
`tangent_radius`), which keeps spherical points off the antipode and hyperbolic ones off the boundary.

A geometry's layer is a chain of some hundred small elementwise operations (most of them on one number per
row), so eagerly it costs far more than its two matrix products. `run(..., fused=True)` compiles a group's
computation on its own (dynamic shapes; one graph per geometry, shared by every layer's group of that
geometry), which fuses the chain into a few loops.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from geolm.compiling import compiled
from geolm.geometry.lorentz import expmap0_space, logmap0_space
from geolm.geometry.simplex import log_barycentre
from geolm.geometry.stereographic import expmap0, logmap0, mobius_add, project, squash_tangent

KAPPA_MAX = 2.0


def raw_for(kappa: float) -> float:
    """The raw parameter whose 2·sigmoid is |κ| = `kappa` (a vanishing |κ| for 0)."""
    return math.log(kappa / (KAPPA_MAX - kappa)) if kappa > 0 else -30.0


def batched_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x (E, n, in) through each expert's own weight (E, out, in) and bias (E, out): (E, n, out)."""
    out = x @ weight.mT
    return out if bias is None else out + bias[:, None]


class ExpertGroup(nn.Module):
    """`count` experts of one geometry; subclasses say how experts map tangents u (E, n, D) to (E, n, D), every
    expert on its own rows, in one batched computation."""

    curved: ClassVar[bool] = False  # whether the group learns a curvature per expert
    compilable: ClassVar[bool] = True  # whether `fused` compiles the computation (it must run faster)

    def __init__(
        self, count: int, hidden: int, inner: int, kappa_init: float, radius: float, gated: bool = False
    ) -> None:
        super().__init__()
        self.count, self.hidden, self.radius, self.gated = count, hidden, radius, gated
        self.up = nn.Parameter(torch.randn(count, inner, hidden) * inner**-0.5)  # ‖W₁u‖ ≈ ‖u‖ ≈ 1
        self.up_bias = nn.Parameter(torch.zeros(count, inner))
        self.down = nn.Parameter(torch.randn(count, hidden, inner) * inner**-0.5 * 0.1)
        self.down_bias = nn.Parameter(torch.zeros(count, hidden))
        self.raw_kappa = nn.Parameter(torch.full((count,), raw_for(kappa_init))) if self.curved else None
        if gated:  # the value branch of the gated form (SwiGLU's up_proj; `up` is its silu branch, gate_proj)
            self.value = nn.Parameter(torch.randn(count, inner, hidden) * inner**-0.5)
            self.value_bias = nn.Parameter(torch.zeros(count, inner))

    def kappa(self) -> torch.Tensor:
        """Sectional curvature of each expert (count,): 0 for flat geometries."""
        return self.up.new_zeros(self.count)

    def forward(self, index: int, x: torch.Tensor, fused: bool = False) -> torch.Tensor:
        """Expert `index` of this group on tokens x (n, D) -> (n, D)."""
        return self.run(x[None], slice(index, index + 1), fused)[0]

    def run(self, x: torch.Tensor, experts: slice = slice(None), fused: bool = False) -> torch.Tensor:
        """The experts `experts` of this group, each on its own tokens: x (E, n, D) -> (E, n, D); with `fused`,
        through the compiled computation (the same numbers to rounding)."""
        scale = math.sqrt(self.hidden)
        compute = type(self).compute  # compiled per class: each has its own graphs and limit of recompilations
        if fused and self.compilable and not torch.compiler.is_compiling():  # (compiling: part of the model's graph)
            compute = compiled(compute)
        return (compute(self, x.float() / scale, experts) * scale).to(x.dtype)

    def compute(self, u: torch.Tensor, experts: slice) -> torch.Tensor:
        raise NotImplementedError


class StereographicExperts(ExpertGroup):
    """Experts on the κ-stereographic manifold; `sign` fixes the geometry (0 flat, −1 ball, +1 sphere)."""

    sign: ClassVar[float] = 0.0

    def kappa(self) -> torch.Tensor:
        if self.raw_kappa is None:
            return super().kappa()
        return self.sign * KAPPA_MAX * torch.sigmoid(self.raw_kappa)

    def compute(self, u: torch.Tensor, experts: slice) -> torch.Tensor:
        k = self.kappa()[experts].view(-1, 1, 1)
        u = squash_tangent(u, k, self.radius)
        active = F.silu(self.mobius_linear(u, self.up[experts], self.up_bias[experts], k))
        if self.gated:
            active = active * self.mobius_linear(u, self.value[experts], self.value_bias[experts], k)
        return self.mobius_linear(active, self.down[experts], self.down_bias[experts], k)

    def mobius_linear(self, u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """logmap0(expmap0(Wu) ⊕_κ expmap0(b)) for each expert: one layer on its manifold, read back as a tangent."""

        def point(tangent: torch.Tensor) -> torch.Tensor:
            return project(expmap0(squash_tangent(tangent, k, self.radius), k), k)

        return logmap0(project(mobius_add(point(batched_linear(u, weight)), point(bias[:, None]), k), k), k)


class EuclideanExperts(StereographicExperts):
    sign = 0.0


class HyperbolicExperts(StereographicExperts):
    curved, sign = True, -1.0


class SphericalExperts(StereographicExperts):
    curved, sign = True, 1.0


class LorentzExperts(ExpertGroup):
    """Experts on the hyperboloid of curvature −c, linear on space parts with the time recomputed."""

    curved = True

    def kappa(self) -> torch.Tensor:
        return -KAPPA_MAX * torch.sigmoid(self.raw_kappa)

    def compute(self, u: torch.Tensor, experts: slice) -> torch.Tensor:
        c = -self.kappa()[experts].view(-1, 1, 1)
        space = expmap0_space(squash_tangent(u, c, self.radius), c)
        active = F.silu(batched_linear(space, self.up[experts], self.up_bias[experts]))
        return logmap0_space(batched_linear(active, self.down[experts], self.down_bias[experts]), c)


class SimplexExperts(ExpertGroup):
    """Experts whose hidden layer is a point of the simplex, read in the Fisher–Rao geometry."""

    def compute(self, u: torch.Tensor, experts: slice) -> torch.Tensor:
        p = torch.softmax(batched_linear(u, self.up[experts], self.up_bias[experts]), dim=-1)
        return batched_linear(log_barycentre(p), self.down[experts], self.down_bias[experts])


class ComplexExperts(ExpertGroup):
    """Experts with complex weights, stored as real pairs on a trailing dimension of 2. Compiled, their
    complex arithmetic ran slower than eager (14 against 11 ms for a training step of 2 experts x 290 rows on
    2 CPU cores), so `fused` leaves them eager."""

    compilable = False

    def __init__(self, count: int, hidden: int, inner: int, kappa_init: float, radius: float) -> None:
        super().__init__(count, hidden, inner, kappa_init, radius)
        self.up = nn.Parameter(torch.randn(count, inner, hidden, 2) * (2 * inner) ** -0.5)
        self.up_bias = nn.Parameter(torch.zeros(count, inner, 2))
        self.down = nn.Parameter(torch.randn(count, hidden, inner, 2) * (2 * inner) ** -0.5 * 0.1)

    def compute(self, u: torch.Tensor, experts: slice) -> torch.Tensor:
        with torch.autocast(u.device.type, enabled=False):  # no half-precision complex kernels
            up = torch.view_as_complex(self.up[experts].float())
            z = batched_linear(u.to(up.dtype), up, torch.view_as_complex(self.up_bias[experts].float()))
            active = z * torch.sigmoid(z.abs())
            out = batched_linear(active, torch.view_as_complex(self.down[experts].float())).real
            return out + self.down_bias[experts].float()[:, None]


class ProductExperts(ExpertGroup):
    """Experts whose hidden layer is a point of ball × sphere × flat space, one curvature per curved factor."""

    curved = True
    SIGNS = (-1.0, 1.0, 0.0)

    def __init__(self, count: int, hidden: int, inner: int, kappa_init: float, radius: float) -> None:
        super().__init__(count, hidden, inner, kappa_init, radius)
        self.raw_kappa = nn.Parameter(torch.full((count, 2), raw_for(kappa_init)))
        third = inner // 3
        self.widths = (third, third, inner - 2 * third)

    def factor_kappas(self) -> torch.Tensor:
        """(count, 3): the ball's, the sphere's and the flat factor's curvature."""
        curved = KAPPA_MAX * torch.sigmoid(self.raw_kappa) * self.raw_kappa.new_tensor(self.SIGNS[:2])
        return torch.cat([curved, curved.new_zeros(self.count, 1)], dim=-1)

    def kappa(self) -> torch.Tensor:
        """The mean of the factors' curvatures, one number per expert (what nuanced routing reads)."""
        return self.factor_kappas().mean(-1)

    def compute(self, u: torch.Tensor, experts: slice) -> torch.Tensor:
        tangents = batched_linear(u, self.up[experts]).split(self.widths, -1)
        biases = self.up_bias[experts][:, None].split(self.widths, -1)
        kappas = self.factor_kappas()[experts].T[..., None, None]  # (3, E, 1, 1)
        active = [  # three factors, not a loop over tokens
            self.factor(tangent, bias, k) for tangent, bias, k in zip(tangents, biases, kappas, strict=True)
        ]
        return batched_linear(torch.cat(active, -1), self.down[experts], self.down_bias[experts])

    def factor(self, tangent: torch.Tensor, bias: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """silu(logmap0(expmap0(W₁u) ⊕_κ b₁)) on one factor of curvature k."""

        def point(v: torch.Tensor) -> torch.Tensor:
            return project(expmap0(squash_tangent(v, k, self.radius), k), k)

        return F.silu(logmap0(project(mobius_add(point(tangent), point(bias), k), k), k))


EXPERT_GROUPS: dict[str, type[ExpertGroup]] = {
    "euclidean": EuclideanExperts,
    "hyperbolic": HyperbolicExperts,
    "spherical": SphericalExperts,
    "lorentz": LorentzExperts,
    "simplex": SimplexExperts,
    "complex": ComplexExperts,
    "product": ProductExperts,
}
