import math

import pytest
import torch

from geolm.geometry import analytic

# (function, closed form for z > 0 with t = √z, closed form for z < 0 with t = √-z, f'(0))
CASES = [
    (analytic.tan_ratio, lambda t: math.tan(t) / t, lambda t: math.tanh(t) / t, 1 / 3),
    (analytic.artan_ratio, lambda t: math.atan(t) / t, lambda t: math.atanh(t) / t, -1 / 3),
    (analytic.arsin_ratio, lambda t: math.asin(t) / t, lambda t: math.asinh(t) / t, 1 / 6),
    (analytic.sin_ratio, lambda t: math.sin(t) / t, lambda t: math.sinh(t) / t, -1 / 6),
    (analytic.cos_root, math.cos, math.cosh, -1 / 2),
]
POINTS = [-0.9, -0.3, -2e-3, -1e-3, -5e-4, -1e-9, 1e-9, 5e-4, 1e-3, 2e-3, 0.3, 0.9]


@pytest.mark.parametrize(("fn", "above", "below", "slope"), CASES)
def test_matches_closed_forms_on_both_sides_and_the_series_near_zero(fn, above, below, slope) -> None:
    z = torch.tensor(POINTS, dtype=torch.float64)
    expected = [above(math.sqrt(v)) if v > 0 else below(math.sqrt(-v)) for v in POINTS]
    torch.testing.assert_close(fn(z), torch.tensor(expected, dtype=torch.float64), rtol=1e-14, atol=0)
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    value = fn(zero)
    value.backward()
    assert value.item() == pytest.approx(1.0, abs=1e-15)
    assert zero.grad.item() == pytest.approx(slope, rel=1e-12)  # the derivative at 0 is the series', not 0


@pytest.mark.parametrize(("fn", "above", "below", "slope"), CASES)
def test_derivative_is_continuous_across_the_series_radius(fn, above, below, slope) -> None:
    radius = analytic.RADIUS
    z = torch.tensor([-radius * 1.0001, -radius * 0.9999, radius * 0.9999, radius * 1.0001], dtype=torch.float64)
    z.requires_grad_(True)
    fn(z).sum().backward()
    grads = z.grad
    assert abs(grads[0] - grads[1]) < 1e-6 and abs(grads[2] - grads[3]) < 1e-6
    assert abs(grads[1] - slope) < 2e-3 and abs(grads[2] - slope) < 2e-3


def test_float32_stays_finite_and_accurate_far_from_zero() -> None:
    z = torch.tensor([-400.0, -30.0, 2.4, 50.0])
    for fn in (analytic.sin_ratio, analytic.cos_root, analytic.tan_ratio):
        z64 = z.double().requires_grad_(True)
        z32 = z.clone().requires_grad_(True)
        fn(z32).sum().backward()
        fn(z64).sum().backward()
        torch.testing.assert_close(fn(z32.detach()).double(), fn(z64.detach()), rtol=2e-5, atol=0)
        assert torch.isfinite(z32.grad).all()
