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

from geolm.geometry.analytic import artan_ratio, cos_root, sin_ratio, tan_ratio

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
        # Entering the context costs more than small arithmetic; meta tensors (shapes only) have no autocast.
        if device == "meta" or not torch.is_autocast_enabled(device):
            return fn(*args, **kwargs)
        with torch.autocast(device_type=device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def as_curvature(k: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """κ as a tensor of `like`'s dtype and device."""
    return torch.as_tensor(k, dtype=like.dtype, device=like.device)


def broadcast_shape(*shapes: torch.Size) -> tuple[int, ...]:
    """The shape that broadcasting `shapes` together gives (assumed compatible; cheaper than torch's)."""
    rank = max(len(shape) for shape in shapes)
    padded = [(1,) * (rank - len(shape)) + tuple(shape) for shape in shapes]
    return tuple(max(sizes) for sizes in zip(*padded, strict=True))


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
def logmap0(y: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """The tangent vector at the origin that reaches y: artan_κ(‖y‖)·y/‖y‖, the inverse of `expmap0` (inside
    the ball for κ < 0; on the sphere, the shorter geodesic)."""
    return y * artan_ratio(as_curvature(k, y) * sq_norm(y))


@full_precision
def squash_tangent(u: torch.Tensor, k: torch.Tensor | float, radius: float) -> torch.Tensor:
    """u shortened smoothly so that its geodesic length √|κ|·‖u‖ stays below `radius`: R·tanh(s/R) for
    length s. It is the identity to first order for short vectors and exactly so at κ = 0, so the
    Euclidean limit is continuous; on the sphere it keeps points away from the antipode of the origin, in
    the ball away from the boundary."""
    z = as_curvature(k, u).abs() * sq_norm(u) / radius**2
    return u * tan_ratio(-z)  # tan_ratio(-z) = tanh(√z)/√z, analytic at z = 0


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


# 2ℓ³·A'(κℓ²) = Σ cᵢ κ^i ℓ^(2i+3) near κℓ² = 0, A(z) = arcsin(√z)/√z: the coefficients 2·(i+1)·aᵢ₊₁ of
# A's series, and the |κℓ²| below which they replace the closed form, per dtype: the closed form loses about
# 3·ulp/|κℓ²| to cancellation and the five terms truncate at about |κℓ²|⁵, so both stay near working precision.
CURVATURE_SLOPE_SERIES = (1 / 3, 3 / 10, 15 / 56, 35 / 144, 315 / 1408)
CURVATURE_SLOPE_RADIUS = {torch.float32: 0.05, torch.float64: 1e-3}


def half_chord_distance_values(half_chord_sq: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """d = 2ℓ·A(κℓ²) without autograd, as 2·arsin_κ-type(√(|κ|ℓ²))/√|κ| with |κ| floored at ulp².

    The sign of κ picks arcsin (sphere) or arsinh (ball) elementwise with `torch.where`; below |κ| = ulp² the
    curvature term is smaller than rounding, so the floor leaves d = 2ℓ to working precision. κℓ² is capped at
    1 − ulp on the sphere (antipodal points). Buffers are reused in place: this runs on every attention score.
    """
    info = torch.finfo(half_chord_sq.dtype)
    magnitude = k.abs().clamp_min(info.eps**2)
    spherical = k > 0
    cap = torch.where(spherical, 1 - info.eps, torch.inf)
    root = torch.minimum((half_chord_sq * magnitude).clamp_min_(0), cap).sqrt_()
    values = torch.where(spherical, torch.asin(root), root.asinh_())
    return values.mul_(2 / magnitude.sqrt())


def half_chord_distance_slopes(
    half_chord_sq: torch.Tensor, k: torch.Tensor, d: torch.Tensor, need_k: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """∂d/∂ℓ² and ∂d/∂κ elementwise, from ℓ², κ and d = `half_chord_distance_values`.

    ∂d/∂ℓ² = 1/√(ℓ²(1 − κℓ²)) (zero where ℓ² <= tiny: coincident points) and ∂d/∂κ = (ℓ²·∂d/∂ℓ² − d/2)/κ,
    replaced by its series 2ℓ³·A'(κℓ²) near κℓ² = 0 so that it stays exact through κ = 0 (A'(0) = 1/6).
    Attention evaluates this on every score, so it works in place on buffers of its own.
    """
    info = torch.finfo(half_chord_sq.dtype)
    s = half_chord_sq.clamp_min(info.tiny)
    z = (s * k).clamp_max_(1 - info.eps)
    slope_s = (1 - z).mul_(s).rsqrt_().masked_fill_(half_chord_sq <= info.tiny, 0)
    if not need_k:
        return slope_s, None
    closed = (slope_s * s).add_(d, alpha=-0.5).div_(k)
    series = torch.full_like(z, CURVATURE_SLOPE_SERIES[-1])
    for coefficient in reversed(CURVATURE_SLOPE_SERIES[:-1]):
        series.mul_(z).add_(coefficient)
    series.mul_(s.sqrt().mul_(s))
    radius = CURVATURE_SLOPE_RADIUS.get(z.dtype, CURVATURE_SLOPE_RADIUS[torch.float32])
    return slope_s, torch.where(z.abs_() > radius, closed, series)


def half_chord_distance_grads(
    half_chord_sq: torch.Tensor, k: torch.Tensor, d: torch.Tensor, grad: torch.Tensor, need_k: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gradients of Σ grad·d with respect to ℓ² and κ (`half_chord_distance_slopes`); κ's gradient is summed
    over the dimensions κ was broadcast along."""
    slope_s, slope_k = half_chord_distance_slopes(half_chord_sq, k, d, need_k)
    return grad * slope_s, None if slope_k is None else sum_of_products(grad, slope_k, k.shape)


def sum_to_shape(x: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum the broadcast dimensions of `x` away so that it has `shape` (the gradient of a broadcast)."""
    lead = x.dim() - len(shape)
    dims = [*range(lead), *(lead + i for i, size in enumerate(shape) if size == 1 and x.shape[lead + i] != 1)]
    return x.sum(dims, keepdim=True).view(shape) if dims else x


def sum_of_products(x: torch.Tensor, y: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Σ x·y reduced to `shape` (a broadcast factor's gradient); a batched dot product when `shape` ends in
    (1, 1), so that the (…, N, M) product is never stored."""
    if x.dim() >= 2 and (len(shape) == 0 or (len(shape) >= 2 and tuple(shape[-2:]) == (1, 1))):
        dots = x.flatten(-2).unsqueeze(-2) @ y.flatten(-2).unsqueeze(-1)
        return sum_to_shape(dots, shape)
    return sum_to_shape(x * y, shape)


class HalfChordDistance(torch.autograd.Function):
    """d = 2ℓ·A(κℓ²) from ℓ², A(z) = arcsin(√z)/√z continued as arsinh(√-z)/√-z, with a hand-written backward.

    Attention evaluates d on every (query, key) pair, so forward and backward are written to touch that tensor
    few times (`half_chord_distance_values`, `half_chord_distance_grads`); autograd never differentiates the
    `torch.where` choices, so neither side leaks NaN into the other.
    """

    @staticmethod
    def forward(half_chord_sq: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return half_chord_distance_values(half_chord_sq, k)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(*inputs, output)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        half_chord_sq, k, d = ctx.saved_tensors
        grad_s, grad_k = half_chord_distance_grads(half_chord_sq, k, d, grad, ctx.needs_input_grad[1])
        return grad_s, grad_k


def apply(function: type[torch.autograd.Function], *args):
    """`function.apply(*args)`, or its bare forward when nothing will be differentiated.

    `apply` costs tens of microseconds of bookkeeping even under `torch.no_grad`, more than the arithmetic
    of a decoding step; the forward alone returns the same values.
    """
    if torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        return function.apply(*args)
    return function.forward(*args)


def distance_from_half_chord(half_chord_sq: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """d = 2ℓ·arsin_ratio(κℓ²) from ℓ² (see `HalfChordDistance`); κ broadcasts against ℓ²."""
    return apply(HalfChordDistance, half_chord_sq, k)


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


def expmap0_terms(uu: torch.Tensor, k: torch.Tensor, max_radius_sq: float) -> torch.Tensor:
    """(ρ, b, f) of expmap0(u) from ‖u‖², stacked on a last dimension of 3; differentiable and branch-free.

    Projection into the ball is a clamp of the hyperbolic radius √-κ‖u‖ at √max_radius_sq.
    """
    shrink_sq = 1 / ((-k * uu / max_radius_sq).clamp_min(1))
    z = k * uu * shrink_sq
    sin_r, cos_r = sin_ratio(z), cos_root(z)
    return torch.cat([uu * shrink_sq * sin_r * sin_r, cos_r * cos_r, shrink_sq.sqrt() * sin_r * cos_r], -1)


class Expmap0Terms(torch.autograd.Function):
    """`expmap0_terms` with a cheaper forward: closed forms picked by `torch.where` on κ's sign.

    The backward differentiates `expmap0_terms` itself (recomputed), whose branch-free form is what keeps
    gradients finite and exact through κ = 0; the forward only needs values, where sin t/t and cos t of
    t = √|κ‖u‖²| are already exact at small t. Decoding evaluates this once per token and layer, so its
    operation count, not its arithmetic, is what costs.
    """

    @staticmethod
    def forward(uu: torch.Tensor, k: torch.Tensor, max_radius_sq: float) -> torch.Tensor:
        info = torch.finfo(uu.dtype)
        shrink_sq = ((-k * uu).div_(max_radius_sq)).clamp_min_(1).reciprocal_()
        z = shrink_sq * uu * k
        t = z.abs().clamp_min_(info.tiny).sqrt_()
        spherical = k > 0
        sin_r = torch.where(spherical, t.sin(), t.sinh()).div_(t)
        cos_r = torch.where(spherical, t.cos(), t.cosh())
        return torch.cat([shrink_sq * uu * sin_r * sin_r, cos_r * cos_r, shrink_sq.sqrt_() * sin_r * cos_r], -1)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        uu, k, ctx.max_radius_sq = inputs
        ctx.save_for_backward(uu, k)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        uu, k = (t.detach().requires_grad_() for t in ctx.saved_tensors)
        with torch.enable_grad():
            terms = expmap0_terms(uu, k, ctx.max_radius_sq)
        grad_uu, grad_k = torch.autograd.grad(terms, (uu, k), grad, allow_unused=True)
        return grad_uu, grad_k, None


def tangent_terms(
    u: torch.Tensor, v: torch.Tensor, k: torch.Tensor, eps: float | None = None
) -> tuple[RowTerms, RowTerms]:
    """Row terms of project(expmap0(·)) for the rows of u (..., N, D) and of v (..., M, D), κ (..., 1, 1).

    Both sides go through one `Expmap0Terms` call on their stacked squared norms. Unlike a detour through
    `expmap0`, nothing here has a pole when a spherical geodesic reaches the antipode of the origin.
    """
    eps = BALL_EPS.get(u.dtype, BALL_EPS[torch.float32]) if eps is None else eps
    uu, vv = sq_norm(u), sq_norm(v)
    lead = broadcast_shape(uu.shape[:-2], vv.shape[:-2], k.shape[:-2])
    both = torch.cat([uu.expand(*lead, -1, 1), vv.expand(*lead, -1, 1)], -2)
    max_radius_sq = math.atanh(1 - eps) ** 2
    if torch.compiler.is_compiling():  # the compiler fuses the branch-free form; autograd.grad would split graphs
        terms = expmap0_terms(both, k, max_radius_sq)
    else:
        terms = apply(Expmap0Terms, both, k, max_radius_sq)
    x, y = terms.split([u.shape[-2], v.shape[-2]], -2)
    return RowTerms(*x.split(1, -1)), RowTerms(*y.split(1, -1))


def augmented_rows(
    x: RowTerms, x_dirs: torch.Tensor, y: RowTerms, y_dirs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows x′ (..., N, D + 2) and y′ (..., M, D + 2) whose dot products are the squared half-chords:
    ℓ²_ij = ⟨x′_i, y′_j⟩ with x′ = (ρ, b, −2 f p) and y′ = (b, ρ, f p).

    So ℓ² of every pair is one matrix product, and an attention kernel can treat x′ and y′ as queries and keys
    whose scores are an elementwise function of their dot product (`geolm.curvature.score`). `x_dirs` and
    `y_dirs` are the p rows, (..., N, D) and (..., M, D).
    """

    def augmented(first: torch.Tensor, second: torch.Tensor, scaled: torch.Tensor) -> torch.Tensor:
        lead = broadcast_shape(first.shape[:-1], scaled.shape[:-1])
        return torch.cat([first.expand(*lead, 1), second.expand(*lead, 1), scaled.expand(*lead, -1)], -1)

    return augmented(x.rho, x.b, -2 * x.f * x_dirs), augmented(y.b, y.rho, y.f * y_dirs)


@full_precision
def half_chord_product(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """ℓ² of every pair of augmented rows (`augmented_rows`), in float32 or wider even under autocast."""
    return rows @ columns.mT


@full_precision
def half_chord_pairwise(x: RowTerms, x_dirs: torch.Tensor, y: RowTerms, y_dirs: torch.Tensor) -> torch.Tensor:
    """ℓ² for every (i, j), shape (..., N, M), as one matrix product of augmented rows (`augmented_rows`): the
    row terms ride along in two extra columns and no (N, M) tensor is touched elementwise."""
    return half_chord_product(*augmented_rows(x, x_dirs, y, y_dirs))


@full_precision
def pairwise_dist(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """Distances between all rows of x (..., N, D) and y (..., M, D), shape (..., N, M); κ is (..., 1, 1)."""
    k = as_curvature(k, x)
    return distance_from_half_chord(half_chord_pairwise(point_terms(x, k), x, point_terms(y, k), y), k)


@full_precision
def pairwise_dist_expmap0(
    u: torch.Tensor, v: torch.Tensor, k: torch.Tensor | float, eps: float | None = None
) -> torch.Tensor:
    """d(project(expmap0(u_i)), project(expmap0(v_j))) for all pairs, shape (..., N, M); κ is (..., 1, 1)."""
    k = as_curvature(k, u)
    x, y = tangent_terms(u, v, k, eps)
    return distance_from_half_chord(half_chord_pairwise(x, u, y, v), k)
