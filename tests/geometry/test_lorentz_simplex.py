"""Lorentz-model and Fisher–Rao simplex maps: inverse pairs, points on the manifold, finite gradients."""

import pytest
import torch

from geolm.geometry.lorentz import expmap0_space, logmap0_space, minkowski_norm_sq, time_part
from geolm.geometry.simplex import clr, fisher_rao_distance, log_barycentre


@pytest.mark.parametrize("c", [1e-9, 0.3, 1.0, 4.0])
def test_lorentz_exp_and_log_invert_and_points_lie_on_the_hyperboloid(c: float) -> None:
    u = torch.randn(16, 5, dtype=torch.float64) * 0.5  # moderate radii: −x₀² + ‖xₛ‖² cancels large terms
    space = expmap0_space(u, c)
    torch.testing.assert_close(
        minkowski_norm_sq(time_part(space, c), space), torch.full((16, 1), -1 / c, dtype=torch.float64)
    )
    torch.testing.assert_close(logmap0_space(space, c), u, atol=1e-9, rtol=1e-9)


def test_lorentz_gradients_are_finite_at_the_origin_and_reach_the_curvature() -> None:
    u = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    grad_u, grad_c = torch.autograd.grad(expmap0_space(u, c).sum(), (u, c))
    assert torch.isfinite(grad_u).all() and torch.isfinite(grad_c)
    v = torch.randn(3, 4, dtype=torch.float64)
    (grad_c,) = torch.autograd.grad(expmap0_space(v, c).pow(2).sum(), c)
    assert float(grad_c.abs()) > 0


def test_fisher_rao_log_map_and_distance_agree() -> None:
    p = torch.softmax(torch.randn(8, 6, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(8, 6, dtype=torch.float64), -1)
    r = torch.softmax(torch.randn(8, 6, dtype=torch.float64), -1)
    centre = torch.full_like(p, 1 / 6)
    torch.testing.assert_close(log_barycentre(p).norm(dim=-1), fisher_rao_distance(p, centre))
    assert torch.allclose(fisher_rao_distance(p, q), fisher_rao_distance(q, p))
    assert (fisher_rao_distance(p, r) <= fisher_rao_distance(p, q) + fisher_rao_distance(q, r) + 1e-12).all()
    assert float(fisher_rao_distance(p, p).abs().max()) < 1e-6
    assert float(log_barycentre(p).sum(-1).abs().max()) < 10  # tangent vectors are finite
    torch.testing.assert_close(clr(p).sum(-1), torch.zeros(8, dtype=torch.float64))


def test_fisher_rao_log_has_a_finite_gradient_at_the_barycentre() -> None:
    logits = torch.zeros(2, 5, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(log_barycentre(torch.softmax(logits, -1)).pow(2).sum(), logits)
    assert torch.isfinite(grad).all()
