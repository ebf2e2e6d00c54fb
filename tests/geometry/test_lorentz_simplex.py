"""Lorentz-model and Fisher–Rao simplex maps: inverse pairs, points on the manifold, gradients at the origin."""

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


def test_lorentz_gradients_at_the_origin_and_in_the_curvature() -> None:
    u = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    grad_u, grad_c = torch.autograd.grad(expmap0_space(u, c).sum(), (u, c))
    # expmap0 is the identity to first order at the origin, and the origin does not move with c
    torch.testing.assert_close(grad_u, torch.ones_like(u), atol=1e-15, rtol=0)
    assert float(grad_c) == 0.0
    v = torch.randn(3, 4, dtype=torch.float64)
    (grad_c,) = torch.autograd.grad(expmap0_space(v, c).pow(2).sum(), c)
    # ‖x_s‖² = sinh²(√c r)/c per row (r = ‖v‖), whose c-derivative is (r·sinh(2√c r)/(2√c) − sinh²(√c r)/c)/c
    r, root = v.norm(dim=-1), c.detach().sqrt()
    expected = ((r * torch.sinh(2 * root * r) / (2 * root) - torch.sinh(root * r) ** 2 / c.detach()) / c.detach()).sum()
    torch.testing.assert_close(grad_c, expected)
    assert torch.autograd.gradcheck(lambda x, k: expmap0_space(x, k), (v.requires_grad_(), c))


def test_fisher_rao_log_map_and_distance_agree() -> None:
    p = torch.softmax(torch.randn(8, 6, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(8, 6, dtype=torch.float64), -1)
    r = torch.softmax(torch.randn(8, 6, dtype=torch.float64), -1)
    centre = torch.full_like(p, 1 / 6)
    torch.testing.assert_close(log_barycentre(p).norm(dim=-1), fisher_rao_distance(p, centre))
    assert torch.allclose(fisher_rao_distance(p, q), fisher_rao_distance(q, p))
    assert (fisher_rao_distance(p, r) <= fisher_rao_distance(p, q) + fisher_rao_distance(q, r) + 1e-12).all()
    assert float(fisher_rao_distance(p, p).abs().max()) < 1e-6
    # tangent at the barycentre b ∝ (1, ..., 1): orthogonal to it, so the coordinates sum to zero
    torch.testing.assert_close(log_barycentre(p).sum(-1), torch.zeros(8, dtype=torch.float64))
    torch.testing.assert_close(clr(p).sum(-1), torch.zeros(8, dtype=torch.float64))


def test_fisher_rao_log_at_the_barycentre_is_zero_with_a_zero_gradient() -> None:
    logits = torch.zeros(2, 5, dtype=torch.float64, requires_grad=True)
    log = log_barycentre(torch.softmax(logits, -1))
    (grad,) = torch.autograd.grad(log.pow(2).sum(), logits)
    # the squared distance from the barycentre is smallest there: zero, with a zero (not NaN) gradient
    torch.testing.assert_close(log, torch.zeros_like(log), atol=1e-12, rtol=0)
    torch.testing.assert_close(grad, torch.zeros_like(grad), atol=1e-12, rtol=0)
    probe = torch.tensor([[0.3, -0.1, 0.2, 0.0, -0.4]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: log_barycentre(torch.softmax(z, -1)), (probe,))
