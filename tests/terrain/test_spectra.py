import numpy as np
import pytest

from geolm.terrain.spectra import (
    covariance_eigenvalues,
    effective_rank,
    fit_power_law,
    participation_ratio,
    stable_rank,
    variance_dims,
)


def test_participation_ratio_of_known_spectra():
    assert participation_ratio(np.ones(10)) == pytest.approx(10.0)
    assert participation_ratio(np.array([1.0, 0, 0, 0])) == pytest.approx(1.0)
    # (4 + 2 + 1 + 1)^2 / (16 + 4 + 1 + 1) = 64 / 22
    assert participation_ratio(np.array([4.0, 2.0, 1.0, 1.0])) == pytest.approx(64 / 22)


def test_covariance_eigenvalues_are_variances_not_singular_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20000, 3)) * np.array([3.0, 2.0, 1.0]) + 100.0  # large mean must not matter
    eig = covariance_eigenvalues(x)
    np.testing.assert_allclose(eig, [9.0, 4.0, 1.0], rtol=0.05)
    assert participation_ratio(eig) == pytest.approx(14**2 / 98, rel=0.05)


def test_variance_dims():
    dims = variance_dims(np.array([5.0, 3.0, 1.0, 1.0]), (0.5, 0.8, 0.9, 1.0))
    assert dims == {0.5: 1, 0.8: 2, 0.9: 3, 1.0: 4}


def test_effective_and_stable_rank():
    assert effective_rank(np.ones(8)) == pytest.approx(8.0)
    assert effective_rank(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert stable_rank(np.array([2.0, 1.0, 1.0])) == pytest.approx(6 / 4)


def test_power_law_alpha_recovered_with_a_bulk_below_the_tail():
    rng = np.random.default_rng(1)
    alpha, x_min = 2.5, 1.0
    tail = x_min * (1 - rng.random(1500)) ** (-1 / (alpha - 1))
    bulk = rng.uniform(0.05, 0.9, 1500)  # no power law here: the KS choice of x_min must skip it
    fit = fit_power_law(np.concatenate([bulk, tail]))
    assert fit.alpha == pytest.approx(alpha, abs=0.15)
    assert 0.85 <= fit.x_min <= 1.6
    assert fit.ks_distance < 0.05
    assert fit.n_tail > 500


def test_power_law_on_too_few_values_is_nan():
    assert np.isnan(fit_power_law(np.array([1.0, 2.0, 3.0])).alpha)


def test_fit_quality_names_what_to_be_wary_of() -> None:
    from geolm.terrain.spectra import PowerLawFit, fit_quality

    assert fit_quality(PowerLawFit(3.0, 1.0, 0.05, 50, n_values=100)) == "ok"
    wary = fit_quality(PowerLawFit(8.4, 1.0, 0.114, 9, n_values=384))
    assert wary == "short tail (9 eigenvalues); KS 0.114 > 0.1; alpha > 6 (under-trained band)"
    assert fit_quality(PowerLawFit(1.5, 1.0, 0.05, 50, n_values=100)) == "alpha < 2 (over-trained band)"
    none = fit_quality(fit_power_law(np.array([4.0, 9.0])))
    assert none == "not fitted: 2 eigenvalue(s) above 1e-05, the fit needs 8"
