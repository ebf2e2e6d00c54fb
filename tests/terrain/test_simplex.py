import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from geolm.terrain.simplex import gaussian_like, sample_vertex_sets, simplex_volumes, volume_sample

REGULAR_4_SIMPLEX_VOLUME = math.sqrt(5) / 96  # edge 1: sqrt(n+1) / (n! * sqrt(2^n)) with n = 4


def regular_simplex() -> np.ndarray:
    """Five points of a regular 4-simplex with unit edges, in 5-D (scaled standard basis)."""
    return np.eye(5) / math.sqrt(2)


def test_regular_simplex_volume():
    vol, valid = simplex_volumes(regular_simplex()[None])
    assert valid.all()
    assert vol[0] == pytest.approx(REGULAR_4_SIMPLEX_VOLUME, rel=1e-12)


def test_right_angle_corner_volume_far_from_origin_in_high_dimension():
    lengths = np.array([1.0, 2.0, 3.0, 0.5])
    corner = np.zeros((5, 4))
    corner[1:] = np.diag(lengths)
    rotation = ortho_group.rvs(50, random_state=0)[:4]
    points = corner @ rotation + 1e6  # offset far from the origin
    vol, valid = simplex_volumes(points[None].astype(np.float64))
    assert valid.all()
    assert vol[0] == pytest.approx(np.prod(lengths) / 24, rel=1e-6)


def test_float32_input_is_computed_in_float64():
    pts = (regular_simplex() * 1e-3).astype(np.float32)
    vol, valid = simplex_volumes(pts[None])
    assert valid.all()
    assert vol.dtype == np.float64
    assert vol[0] == pytest.approx(REGULAR_4_SIMPLEX_VOLUME * 1e-12, rel=1e-6)


def test_degenerate_samples_are_counted_not_dropped():
    rng = np.random.default_rng(0)
    flat = np.zeros((5, 10))
    flat[:, :3] = rng.standard_normal((5, 3))  # 5 points in a 3-D subspace have no 4-volume
    good = rng.standard_normal((5, 10))
    vol, valid = simplex_volumes(np.stack([flat, good, flat]))
    assert valid.tolist() == [False, True, False]
    assert np.isnan(vol[0]) and vol[1] > 0
    sample = volume_sample(np.concatenate([flat, flat]), 50, rng)
    assert sample.n_samples == 50 and sample.n_invalid == 50 and sample.volumes.size == 0


def test_vertex_sets_are_distinct_and_seeded():
    a = sample_vertex_sets(6, 500, 5, np.random.default_rng(3))
    b = sample_vertex_sets(6, 500, 5, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert all(len(set(row)) == 5 for row in a)


def test_gaussian_baseline_matches_mean_and_covariance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 3)) @ np.array([[2.0, 0, 0], [1.0, 1.0, 0], [0, 0, 0.5]]) + 5.0
    g = gaussian_like(x, 40000, rng)
    np.testing.assert_allclose(g.mean(0), x.mean(0), atol=0.05)
    np.testing.assert_allclose(np.cov(g.T), np.cov(x.T), atol=0.08)
