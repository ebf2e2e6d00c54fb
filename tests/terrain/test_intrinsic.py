import numpy as np
import pytest

from geolm.terrain.intrinsic import dimension_curve, mle_dimension, twonn_dimension


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


def sphere_in(dim: int, n: int, seed: int) -> np.ndarray:
    """`n` points on the unit 2-sphere (a curved 2-D manifold), rotated into R^dim."""
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    rotation = np.linalg.qr(rng.standard_normal((dim, 3)))[0].T
    return points @ rotation


def test_twonn_finds_two_dimensions_on_a_curved_surface():
    assert twonn_dimension(sphere_in(20, 2000, 4)) == pytest.approx(2.0, abs=0.2)


def test_twonn_ignores_duplicates():
    x = sphere_in(10, 800, 2)
    alone = twonn_dimension(x)
    assert alone == pytest.approx(2.0, abs=0.3)
    assert twonn_dimension(np.concatenate([x, x[:50]])) == pytest.approx(alone, rel=0.1)


@pytest.mark.parametrize(("n", "d", "width"), [(500, 5, 20), (1000, 10, 30), (300, 3, 3)])
def test_estimators_equal_scikit_dimensions(n: int, d: int, width: int) -> None:
    import skdim

    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, width))
    assert twonn_dimension(x) == pytest.approx(skdim.id.TwoNN().fit(x).dimension_, rel=1e-9)
    assert mle_dimension(x) == pytest.approx(skdim.id.MLE().fit(x).dimension_, rel=1e-9)


def test_estimators_equal_scikit_dimensions_on_real_embeddings(minilm) -> None:
    import skdim

    rows = minilm.model.get_input_embeddings().weight.detach().double().numpy()
    sample = rows[np.random.default_rng(0).choice(rows.shape[0], 1000, replace=False)]
    assert twonn_dimension(sample) == pytest.approx(skdim.id.TwoNN().fit(sample).dimension_, rel=1e-9)
    assert mle_dimension(sample) == pytest.approx(skdim.id.MLE().fit(sample).dimension_, rel=1e-9)


def test_dimension_curve_has_every_size_estimator_and_spread() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((900, 4)) @ rng.standard_normal((4, 12))
    curve = dimension_curve(x, (100, 400, 2000), 3, lambda n, s: np.random.default_rng([n, s]))
    assert sorted(set(curve["sample"])) == [100, 400, 900]  # capped at the rows there are
    assert set(curve["estimator"]) == {"twonn", "mle"} and (curve["seeds"] == 3).all()
    partial, whole = curve[curve["sample"] < 900], curve[curve["sample"] == 900]
    assert (partial["std"] > 1e-3).all()
    assert (whole["std"] < 1e-9).all()  # every sample of all rows is the same set (in another summation order)
    assert (curve["min"] <= curve["mean"]).all() and (curve["mean"] <= curve["max"]).all()
    assert curve[curve["sample"] == 900]["mean"].between(3.0, 5.0).all()
