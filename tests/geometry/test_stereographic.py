"""κ-stereographic functions against geoopt (float64) and an mpmath reference near κ = 0."""

import geoopt.manifolds.stereographic.math as gm
import mpmath
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geolm.geometry import stereographic as S

KAPPAS = [-2.0, -1.0, -0.1, -1e-3, -1e-9, 0.0, 1e-9, 1e-3, 0.1, 1.0, 2.0]


def f64(*shape: int, scale: float = 0.4, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * scale


def reference_dist(x: torch.Tensor, y: torch.Tensor, k: float | mpmath.mpf) -> mpmath.mpf:
    """2·artan_κ(‖(−x) ⊕_κ y‖) in 40-digit arithmetic, straight from the textbook formulas."""
    mpmath.mp.dps = 40
    k = mpmath.mpf(k)
    a, b = [mpmath.mpf(float(v)) for v in -x], [mpmath.mpf(float(v)) for v in y]
    ab, aa, bb = (
        mpmath.fsum(p * q for p, q in zip(a, b, strict=True)),
        mpmath.fsum(p * p for p in a),
        mpmath.fsum(q * q for q in b),
    )
    num = [(1 - 2 * k * ab - k * bb) * p + (1 + k * aa) * q for p, q in zip(a, b, strict=True)]
    norm = mpmath.sqrt(mpmath.fsum(n * n for n in num)) / abs(1 - 2 * k * ab + k * k * aa * bb)
    if k == 0:
        return 2 * norm
    root = mpmath.sqrt(abs(k))
    return 2 * (mpmath.atan(root * norm) if k > 0 else mpmath.atanh(root * norm)) / root


def reference_slope(x: torch.Tensor, y: torch.Tensor, k: float) -> float:
    """∂d/∂κ by a central difference of step 1e-15 in 40-digit arithmetic."""
    h = mpmath.mpf("1e-15")
    return float((reference_dist(x, y, k + h) - reference_dist(x, y, k - h)) / (2 * h))


@pytest.mark.parametrize("kappa", KAPPAS)
def test_distances_match_geoopt(kappa: float) -> None:
    k = torch.tensor(kappa, dtype=torch.float64)
    x, y = f64(6, 5, scale=0.2, seed=1), f64(7, 5, scale=0.2, seed=2)  # well inside the smallest ball
    expected = gm.dist(x[:, None], y[None], k=k)
    # Below |κ| = 1e-8 geoopt switches to a first-order series in |κ| (wrong sign for κ < 0): its own error
    # there is about |κ|·‖x‖³; elsewhere both agree to rounding.
    atol = 1e-8 if 0 < abs(kappa) < 1e-8 else 1e-12
    torch.testing.assert_close(S.pairwise_dist(x, y, k), expected, atol=atol, rtol=0)
    torch.testing.assert_close(S.dist(x[:, None], y[None], k), expected, atol=atol, rtol=0)
    u, v = f64(6, 5, scale=0.4, seed=3), f64(7, 5, scale=0.4, seed=4)
    on_manifold = gm.project(gm.expmap0(u, k=k), k=k)[:, None], gm.project(gm.expmap0(v, k=k), k=k)[None]
    torch.testing.assert_close(S.pairwise_dist_expmap0(u, v, k), gm.dist(*on_manifold, k=k), atol=atol, rtol=0)
    torch.testing.assert_close(S.expmap0(u, k), gm.expmap0(u, k=k), atol=atol, rtol=0)
    torch.testing.assert_close(S.mobius_add(x, y[:6], k), gm.mobius_add(x, y[:6], k=k), atol=1e-12, rtol=0)
    torch.testing.assert_close(S.project(x * 9, k), gm.project(x * 9, k=k), atol=1e-12, rtol=0)
    t = f64(9, scale=0.3)
    torch.testing.assert_close(S.tan_k(t, k), gm.tan_k(t, k), atol=atol, rtol=0)
    torch.testing.assert_close(S.artan_k(S.tan_k(t, k), k), t, atol=1e-14, rtol=0)


@pytest.mark.parametrize("kappa", [-1e-9, 1e-9, -1e-6, 1e-6])
def test_distances_near_zero_curvature_match_exact_arithmetic(kappa: float) -> None:
    x, y = f64(4, seed=5), f64(4, seed=6)
    assert S.dist(x, y, kappa).item() == pytest.approx(float(reference_dist(x, y, kappa)), abs=1e-14)


def test_near_the_ball_boundary_matches_exact_arithmetic_where_the_mobius_route_does_not() -> None:
    k = torch.tensor(-2.0, dtype=torch.float64)
    x, y = S.project(f64(3, 5, seed=1) * 3, k), S.project(f64(3, 5, seed=2) * 3, k)  # 1e-5 from the boundary
    ours = S.dist(x, y, k)
    exact = torch.tensor([float(reference_dist(a, b, -2.0)) for a, b in zip(x, y, strict=True)], dtype=torch.float64)
    torch.testing.assert_close(ours, exact, atol=1e-10, rtol=0)
    assert (gm.dist(x, y, k=k) - exact).abs().max() > 1e-2  # artanh of a norm next to 1/√-κ loses the digits


def test_sign_convention_of_the_mobius_denominator() -> None:
    """‖(−x) ⊕_κ y‖² = ‖x − y‖² / (1 + 2κ⟨x,y⟩ + κ²‖x‖²‖y‖²) with geoopt's κ; −2κ is the c = −κ form."""
    x, y = f64(5, 4, seed=7), f64(5, 4, seed=8)
    for kappa in (-1.0, 1.0):
        got = (gm.mobius_add(-x, y, k=torch.tensor(kappa, dtype=torch.float64)) ** 2).sum(-1)
        xy, xx, yy = (x * y).sum(-1), (x * x).sum(-1), (y * y).sum(-1)
        plus = ((x - y) ** 2).sum(-1) / (1 + 2 * kappa * xy + kappa**2 * xx * yy)
        minus = ((x - y) ** 2).sum(-1) / (1 - 2 * kappa * xy + kappa**2 * xx * yy)
        torch.testing.assert_close(got, plus, atol=1e-12, rtol=0)
        assert (got - minus).abs().max() > 1e-3


@pytest.mark.parametrize("kappa", [-1e-3, -1e-9, 0.0, 1e-9, 1e-3])
def test_curvature_derivative_is_exact_through_zero(kappa: float) -> None:
    for seed in range(3):
        x, y = f64(4, scale=0.6, seed=10 + seed), f64(4, scale=0.6, seed=20 + seed)
        expected = reference_slope(x, y, kappa)
        for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
            k = torch.tensor(kappa, dtype=dtype, requires_grad=True)
            S.pairwise_dist(x.to(dtype)[None], y.to(dtype)[None], k).sum().backward()
            assert k.grad.item() == pytest.approx(expected, abs=tol * max(1.0, abs(expected)))


def test_continuous_through_zero_curvature() -> None:
    """d(κ) = d(0) + κ·∂d/∂κ(0) + O(κ²) from both sides: no jump, no kink at κ = 0."""
    x, y = f64(8, 6, seed=30), f64(8, 6, seed=31)
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    flat = S.dist(x, y, zero)
    slopes = torch.stack([torch.autograd.grad(S.dist(x[i], y[i], zero), zero)[0] for i in range(8)])
    assert slopes.abs().min() > 0.01
    for kappa in (1e-12, 1e-8, 1e-5, 1e-3):
        for signed in (kappa, -kappa):
            residual = (S.dist(x, y, signed) - flat.detach() - signed * slopes).abs().max().item()
            assert residual <= 50 * kappa**2 + 1e-14, (signed, residual)


def _grads_finite(*tensors: torch.Tensor) -> bool:
    return all(t.grad is not None and bool(torch.isfinite(t.grad).all()) for t in tensors)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_gradients_at_the_hard_places(dtype: torch.dtype) -> None:
    base = torch.tensor([[0.3, -0.2, 0.1]], dtype=dtype)
    # coincident points
    for kappa in (-1.0, 0.0, 1.0):
        x, y, k = (
            base.clone().requires_grad_(),
            base.clone().requires_grad_(),
            torch.tensor(kappa, dtype=dtype),
        )
        k.requires_grad_(True)
        d = S.pairwise_dist(x, y, k) + S.dist(x, y, k)
        d.sum().backward()
        assert d.abs().max() < 1e-3 and _grads_finite(x, y, k)
    # next to the boundary of the Poincaré ball
    k = torch.tensor(-1.0, dtype=dtype, requires_grad=True)
    edge = S.project(torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]], dtype=dtype), k).detach().requires_grad_()
    d = S.pairwise_dist(edge, edge, k)
    d.sum().backward()
    assert torch.isfinite(d).all() and d[0, 1] > 5 and _grads_finite(edge, k)
    # nearly antipodal on the sphere: y = -x / (κ‖x‖²), slightly perturbed
    k = torch.tensor(1.0, dtype=dtype, requires_grad=True)
    x = base.clone().requires_grad_()
    y = (-base / (base**2).sum() * (1 + 1e-6)).requires_grad_()
    d = S.pairwise_dist(x, y, k) + S.dist(x, y, k)
    d.sum().backward()
    assert torch.isfinite(d).all() and _grads_finite(x, y, k)
    assert d.max().item() == pytest.approx(2 * torch.pi, rel=2e-3)  # twice π/√κ, the diameter


def test_tangent_form_has_no_pole_at_the_antipode_of_the_origin() -> None:
    """expmap0 sends ‖u‖ = π/(2√κ) to infinity in the chart; the fused distance stays exact there."""
    # At exactly the antipode the arcsine is clamped 1 ulp short of 1 (finite gradient): d is π − O(√ulp).
    for dtype, tol in ((torch.float32, 1e-3), (torch.float64, 1e-7)):
        u = torch.tensor([[torch.pi / 2, 0.0], [0.0, 0.0], [1.0, 0.0]], dtype=dtype, requires_grad=True)
        k = torch.tensor(1.0, dtype=dtype, requires_grad=True)
        d = S.pairwise_dist_expmap0(u, u, k)
        d.sum().backward()
        assert d[0, 1].item() == pytest.approx(torch.pi, abs=tol)  # d(0, expmap0(u)) = 2‖u‖: the far pole
        assert d[0, 2].item() == pytest.approx(torch.pi - 2.0, abs=1e-5)
        assert _grads_finite(u, k)


def test_mixed_curvatures_broadcast_per_head_and_stay_float32_under_autocast() -> None:
    kappas = torch.tensor([-1.5, -1e-9, 0.0, 0.7], dtype=torch.float64).view(4, 1, 1)
    u, v = f64(4, 5, 3, scale=0.7, seed=40), f64(4, 6, 3, scale=0.7, seed=41)
    fused = S.pairwise_dist_expmap0(u, v, kappas)
    for h in range(4):
        alone = S.pairwise_dist_expmap0(u[h], v[h], kappas[h].item())
        torch.testing.assert_close(fused[h], alone, atol=1e-14, rtol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = S.pairwise_dist_expmap0(u.bfloat16(), v.bfloat16(), kappas.float())
    assert low.dtype == torch.float32
    exact = S.pairwise_dist_expmap0(u.bfloat16().double(), v.bfloat16().double(), kappas)
    torch.testing.assert_close(low.double(), exact, atol=2e-5, rtol=2e-5)


def test_float32_pairwise_matches_float64() -> None:
    u, v = f64(64, 32, scale=0.3, seed=42), f64(48, 32, scale=0.3, seed=43)  # wraps the sphere at κ = 2
    for kappa in (-2.0, 0.0, 2.0):
        low = S.pairwise_dist_expmap0(u.float(), v.float(), kappa).double()
        exact = S.pairwise_dist_expmap0(u, v, kappa, eps=S.BALL_EPS[torch.float32])
        torch.testing.assert_close(low, exact, atol=1e-5, rtol=2e-6)


def test_tangent_projection_is_project_after_expmap0() -> None:
    u, v = f64(5, 4, scale=5.0, seed=46), f64(6, 4, scale=0.2, seed=47)  # rows of u reach the ball's edge
    k = torch.tensor(-1.0, dtype=torch.float64)
    x, y = S.project(S.expmap0(u, k), k), S.project(S.expmap0(v, k), k)
    assert ((x * x).sum(-1).sqrt() > 1 - 2e-5).sum() >= 3
    torch.testing.assert_close(S.pairwise_dist_expmap0(u, v, k), S.dist(x[:, None], y[None], k), atol=1e-9, rtol=0)


def test_one_graph_serves_both_signs_of_curvature() -> None:
    """No Python branch or .item() on κ: dynamo captures the whole function once and reuses it for any κ."""
    graphs = []

    def backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    compiled = torch.compile(S.pairwise_dist_expmap0, fullgraph=True, backend=backend, dynamic=False)
    u, v = f64(5, 4, seed=44), f64(6, 4, seed=45)
    for kappa in (-1.3, 0.0, 1e-9, 1.3):
        k = torch.tensor(kappa, dtype=torch.float64)
        torch.testing.assert_close(compiled(u, v, k), S.pairwise_dist_expmap0(u, v, k), atol=1e-14, rtol=0)
    assert len(graphs) == 1


points = st.lists(st.floats(-0.6, 0.6), min_size=3, max_size=3)
curvatures = st.sampled_from(KAPPAS) | st.floats(-2, 2)


@settings(max_examples=60, deadline=None)
@given(points, points, points, curvatures)
def test_metric_properties(a: list, b: list, c: list, kappa: float) -> None:
    k = torch.tensor(kappa, dtype=torch.float64)
    x, y, z = (gm.project(torch.tensor(p, dtype=torch.float64), k=k) for p in (a, b, c))
    d_xy, d_yx, d_xz, d_zy = S.dist(x, y, k), S.dist(y, x, k), S.dist(x, z, k), S.dist(z, y, k)
    assert d_xy.item() == pytest.approx(d_yx.item(), abs=1e-12)
    assert S.dist(x, x, k).item() < 1e-12
    if kappa <= 0:
        assert d_xy <= d_xz + d_zy + 1e-9
    # exact arithmetic, not geoopt: points projected onto the ball's edge are where geoopt loses digits
    assert d_xy.item() == pytest.approx(float(reference_dist(x, y, kappa)), rel=1e-9, abs=1e-10)


@pytest.mark.parametrize("kappa", [-2.0, -0.3, -1e-3, -1e-7, 0.0, 1e-7, 1e-3, 0.3, 2.0])
def test_hand_written_distance_backward_passes_gradcheck(kappa: float) -> None:
    """ℓ² spans the series/closed-form handover (|κℓ²| = 1e-3 in float64) and the sphere's far side (κ = 2)."""
    half_chord_sq = torch.tensor([1e-4, 0.01, 0.02, 0.024, 0.026, 0.1, 0.3, 0.45], dtype=torch.float64)
    half_chord_sq = half_chord_sq.view(1, 2, 4).expand(3, 2, 4).contiguous().requires_grad_()
    k = torch.full((1, 2, 1), kappa, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(S.distance_from_half_chord, (half_chord_sq, k), eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_hand_written_distance_matches_the_branch_free_definition(kappa: float) -> None:
    """Values and both gradients equal autograd through 2ℓ·arsin_ratio(κℓ²), the blend of `analytic`."""
    from geolm.geometry.analytic import arsin_ratio

    half_chord_sq = torch.linspace(1e-6, 0.45, 50, dtype=torch.float64).requires_grad_()
    k = torch.tensor(kappa, dtype=torch.float64, requires_grad=True)
    ours = S.distance_from_half_chord(half_chord_sq, k)
    reference = 2 * half_chord_sq.sqrt() * arsin_ratio(k * half_chord_sq)
    torch.testing.assert_close(ours, reference, atol=1e-14, rtol=1e-13)
    weights = torch.linspace(-1, 1, 50, dtype=torch.float64)
    for got, expected in zip(
        torch.autograd.grad((ours * weights).sum(), (half_chord_sq, k)),
        torch.autograd.grad((reference * weights).sum(), (half_chord_sq, k)),
        strict=True,
    ):
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-9)
