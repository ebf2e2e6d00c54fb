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

A group computes on one of two layouts of its experts' rows (`Padded`, `Grouped`), which say how a layer's
matrix product and its per-expert values (curvatures, biases) reach each row: a padded batch (E, n, D), each
expert on its own n rows, or the rows of all experts in one (n, D), sorted by expert, through torch's grouped
matmul (`grouped_linear`), which wastes no work on padding.

A geometry's layer is a chain of some hundred small elementwise operations (most of them on one number per
row), so eagerly it costs far more than its two matrix products. `run(..., fused=True)` compiles a group's
computation on its own (dynamic shapes; one graph per geometry, shared by every layer's group of that
geometry), which fuses the chain into a few loops.
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

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


@torch.library.custom_op("geolm::grouped_linear", mutates_args=())
def grouped_linear(u: torch.Tensor, weight: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Rows u (n, in) sorted by expert, expert e's rows ending at `ends[e]` (int32), each through its expert's
    weight (E, out, in): (n, out). torch's grouped matmul, wrapped as an operator of its own so that
    torch.compile calls it as it is (its compiled form takes bf16 only)."""
    return F.grouped_mm(u.contiguous(), weight.mT, offs=ends)


@torch.library.custom_op("geolm::grouped_linear_backward", mutates_args=())
def grouped_linear_backward(
    grad: torch.Tensor, u: torch.Tensor, weight: torch.Tensor, ends: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradients of `grouped_linear` for u and weight."""
    grad = grad.contiguous()  # the grouped matmul refuses broadcast (stride 0) gradients
    return F.grouped_mm(grad, weight, offs=ends), F.grouped_mm(grad.mT, u.contiguous(), offs=ends)


@grouped_linear.register_fake
def _(u: torch.Tensor, weight: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    return u.new_empty(u.shape[0], weight.shape[1])


@grouped_linear_backward.register_fake
def _(grad: torch.Tensor, u: torch.Tensor, weight: torch.Tensor, ends: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.empty_like(u), torch.empty_like(weight)


def _save_inputs(ctx, inputs: tuple, output: torch.Tensor) -> None:
    ctx.save_for_backward(*inputs)


def _grouped_linear_grads(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
    return (*grouped_linear_backward(grad, *ctx.saved_tensors), None)


grouped_linear.register_autograd(_grouped_linear_grads, setup_context=_save_inputs)


def grouped_runs(device: torch.device, *widths: int) -> bool:
    """Whether torch's grouped matmul takes float32 rows of these `widths` on `device`: on the CPU, for widths
    of whole 16-byte units (its kernels' alignment); on CUDA it takes bf16 only, and experts compute in float32."""
    return device.type == "cpu" and hasattr(F, "grouped_mm") and all(width % 4 == 0 for width in widths)


class Padded(NamedTuple):
    """The experts `experts` of a group, each on its own row of a padded batch u (E, n, D)."""

    experts: slice

    def linear(self, u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """u (E, n, in) through each expert's weight (count, out, in) and bias (count, out): (E, n, out)."""
        out = u @ weight[self.experts].mT
        return out if bias is None else out + self.each(bias)

    def each(self, values: torch.Tensor) -> torch.Tensor:
        """One value per expert (count, …), placed to broadcast over its rows: (E, 1, …)."""
        return values[self.experts][:, None]


class Grouped(NamedTuple):
    """All experts of a group on the rows of one u (n, D), sorted by expert: expert e's rows end at `ends[e]`
    (int32, (count,)), and `owner` (n,) is each row's expert."""

    ends: torch.Tensor
    owner: torch.Tensor

    def linear(self, u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """u (n, in) through its rows' experts' weights (count, out, in) and biases (count, out): (n, out)."""
        out = grouped_linear(u, weight, self.ends)
        return out if bias is None else out + self.each(bias)

    def each(self, values: torch.Tensor) -> torch.Tensor:
        """One value per expert (count, …), given to each of its rows: (n, …). A group of one expert broadcasts
        its values instead: torch 2.13's inductor fails to generate CPU code for the gradient of a gather from
        a single row."""
        if values.shape[0] == 1:
            return values.expand(self.owner.shape[0], *values.shape[1:])
        return values.index_select(0, self.owner)


Layout = Padded | Grouped
EVERY_EXPERT = Padded(slice(None))


class ExpertGroup(nn.Module):
    """`count` experts of one geometry; subclasses say how experts map tangents u to tangents of the same
    shape, every expert on its own rows of a `Layout`, in one computation."""

    curved: ClassVar[bool] = False  # whether the group learns a curvature per expert
    compilable: ClassVar[bool] = True  # whether `fused` compiles the computation (it must run faster)
    groupable: ClassVar[bool] = True  # whether it computes on the `Grouped` layout (torch's grouped matmul)

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

    def takes_grouped(self, device: torch.device) -> bool:
        """Whether this group computes on the `Grouped` layout on `device`."""
        return self.groupable and grouped_runs(device, *self.up.shape[1:])

    def kappa(self) -> torch.Tensor:
        """Sectional curvature of each expert (count,): 0 for flat geometries."""
        return self.up.new_zeros(self.count)

    def forward(self, index: int, x: torch.Tensor, fused: bool = False) -> torch.Tensor:
        """Expert `index` of this group on tokens x (n, D) -> (n, D)."""
        return self.run(x[None], Padded(slice(index, index + 1)), fused)[0]

    def run(self, x: torch.Tensor, layout: Layout = EVERY_EXPERT, fused: bool = False) -> torch.Tensor:
        """The experts of `layout`, each on its own tokens: x (E, n, D) padded, or (n, D) grouped, to the same
        shape; with `fused`, through the compiled computation (the same numbers to rounding)."""
        scale = math.sqrt(self.hidden)
        compute = type(self).compute  # compiled per class: each has its own graphs and limit of recompilations
        if fused and self.compilable and not torch.compiler.is_compiling():  # (compiling: part of the model's graph)
            compute = compiled(compute)
        return (compute(self, x.float() / scale, layout) * scale).to(x.dtype)

    def compute(self, u: torch.Tensor, layout: Layout) -> torch.Tensor:
        raise NotImplementedError

    def point(self, tangent: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """expmap0 of a tangent of the κ-stereographic manifold, squashed below `radius` first."""
        return project(expmap0(squash_tangent(tangent, k, self.radius), k), k)

    def mobius_layer(
        self, tangent: torch.Tensor, bias: torch.Tensor, kappa: torch.Tensor, k: torch.Tensor, layout: Layout
    ) -> torch.Tensor:
        """logmap0(expmap0(Wu) ⊕_κ expmap0(b)) for the products `tangent` = Wu of each row: one layer on its
        expert's manifold, read back as a tangent. The biases' points are computed once per expert (`kappa`,
        (count, 1)) and placed on the rows, whose curvatures are `k`."""
        biased = mobius_add(self.point(tangent, k), layout.each(self.point(bias, kappa)), k)
        return logmap0(project(biased, k), k)


class StereographicExperts(ExpertGroup):
    """Experts on the κ-stereographic manifold; `sign` fixes the geometry (0 flat, −1 ball, +1 sphere)."""

    sign: ClassVar[float] = 0.0

    def kappa(self) -> torch.Tensor:
        if self.raw_kappa is None:
            return super().kappa()
        return self.sign * KAPPA_MAX * torch.sigmoid(self.raw_kappa)

    def compute(self, u: torch.Tensor, layout: Layout) -> torch.Tensor:
        kappa = self.kappa()[:, None]
        k = layout.each(kappa)
        u = squash_tangent(u, k, self.radius)
        active = F.silu(self.mobius_layer(layout.linear(u, self.up), self.up_bias, kappa, k, layout))
        if self.gated:
            active = active * self.mobius_layer(layout.linear(u, self.value), self.value_bias, kappa, k, layout)
        return self.mobius_layer(layout.linear(active, self.down), self.down_bias, kappa, k, layout)


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

    def compute(self, u: torch.Tensor, layout: Layout) -> torch.Tensor:
        c = -layout.each(self.kappa())[..., None]
        space = expmap0_space(squash_tangent(u, c, self.radius), c)
        active = F.silu(layout.linear(space, self.up, self.up_bias))
        return logmap0_space(layout.linear(active, self.down, self.down_bias), c)


class SimplexExperts(ExpertGroup):
    """Experts whose hidden layer is a point of the simplex, read in the Fisher–Rao geometry."""

    def compute(self, u: torch.Tensor, layout: Layout) -> torch.Tensor:
        p = torch.softmax(layout.linear(u, self.up, self.up_bias), dim=-1)
        return layout.linear(log_barycentre(p), self.down, self.down_bias)


class ComplexExperts(ExpertGroup):
    """Experts with complex weights, stored as real pairs on a trailing dimension of 2. Compiled, their
    complex arithmetic ran slower than eager (14 against 11 ms for a training step of 2 experts x 290 rows on
    2 CPU cores), so `fused` leaves them eager; the grouped matmul takes no complex numbers, so they compute
    padded."""

    compilable = groupable = False

    def __init__(self, count: int, hidden: int, inner: int, kappa_init: float, radius: float) -> None:
        super().__init__(count, hidden, inner, kappa_init, radius)
        self.up = nn.Parameter(torch.randn(count, inner, hidden, 2) * (2 * inner) ** -0.5)
        self.up_bias = nn.Parameter(torch.zeros(count, inner, 2))
        self.down = nn.Parameter(torch.randn(count, hidden, inner, 2) * (2 * inner) ** -0.5 * 0.1)

    def compute(self, u: torch.Tensor, layout: Layout) -> torch.Tensor:
        with torch.autocast(u.device.type, enabled=False):  # no half-precision complex kernels
            up = torch.view_as_complex(self.up.float())
            z = layout.linear(u.to(up.dtype), up, torch.view_as_complex(self.up_bias.float()))
            active = z * torch.sigmoid(z.abs())
            out = layout.linear(active, torch.view_as_complex(self.down.float())).real
            return out + layout.each(self.down_bias.float())


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

    def compute(self, u: torch.Tensor, layout: Layout) -> torch.Tensor:
        tangents = layout.linear(u, self.up).split(self.widths, -1)
        biases = self.up_bias.split(self.widths, -1)
        active = [  # three factors, not a loop over tokens
            F.silu(self.mobius_layer(tangent, bias, kappa[:, None], layout.each(kappa[:, None]), layout))
            for tangent, bias, kappa in zip(tangents, biases, self.factor_kappas().T, strict=True)
        ]
        return layout.linear(torch.cat(active, -1), self.down, self.down_bias)


EXPERT_GROUPS: dict[str, type[ExpertGroup]] = {
    "euclidean": EuclideanExperts,
    "hyperbolic": HyperbolicExperts,
    "spherical": SphericalExperts,
    "lorentz": LorentzExperts,
    "simplex": SimplexExperts,
    "complex": ComplexExperts,
    "product": ProductExperts,
}
