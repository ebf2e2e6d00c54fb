import numpy as np
import pytest

from geolm.terrain.intrinsic import twonn_dimension


def test_twonn_finds_a_3d_subspace_in_50d():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((50, 3)))[0].T
    x = rng.standard_normal((2000, 3)) @ basis + 7.0
    assert twonn_dimension(x) == pytest.approx(3.0, abs=0.35)


def test_twonn_full_dimensional_cloud_is_larger():
    rng = np.random.default_rng(1)
    low = twonn_dimension(rng.standard_normal((1500, 2)) @ rng.standard_normal((2, 30)))
    high = twonn_dimension(rng.standard_normal((1500, 10)))
    assert low == pytest.approx(2.0, abs=0.3)
    assert high > 7.0


def test_twonn_ignores_duplicates():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((800, 2))
    assert np.isfinite(twonn_dimension(np.concatenate([x, x[:50]])))
