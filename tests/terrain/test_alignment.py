import numpy as np
import pytest
from scipy.stats import ortho_group

from geolm.terrain.alignment import linear_cka, prepare_split, procrustes_alignment, random_orthogonal


def rotated_pair(n=600, d=20, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d)) @ np.diag(np.linspace(3, 0.5, d))
    rotation = ortho_group.rvs(d, random_state=seed)
    return a, a @ rotation + noise * rng.standard_normal((n, d)) + 4.0, rotation


def test_procrustes_recovers_a_known_rotation_and_beats_its_nulls():
    a, b, _ = rotated_pair()
    frame = procrustes_alignment(a, b, seed=0).set_index(["map", "split"])
    fitted = frame.loc[("procrustes", "test")]
    assert fitted["mean_cosine"] > 0.99
    assert fitted["top1"] == 1.0
    assert fitted["residual"] < 0.05
    for null in ("null_random_orthogonal", "null_shuffled_pairs"):
        assert frame.loc[(null, "test"), "mean_cosine"] < 0.3
        assert frame.loc[(null, "test"), "top1"] < 0.1
    assert (frame["status"] == "ok").all()
    assert int(frame["n_train"].iloc[0]) == 480 and int(frame["n_test"].iloc[0]) == 120


def test_procrustes_is_seeded():
    a, b, _ = rotated_pair(noise=1.0)
    first = procrustes_alignment(a, b, seed=5)
    np.testing.assert_array_equal(first["mean_cosine"], procrustes_alignment(a, b, seed=5)["mean_cosine"])
    assert not np.allclose(first["mean_cosine"], procrustes_alignment(a, b, seed=6)["mean_cosine"])


def test_unequal_widths_pca_and_pad():
    a, b, _ = rotated_pair(d=20)
    wide = np.concatenate([b, np.zeros((b.shape[0], 12))], axis=1)  # same content in 32-D
    pca = procrustes_alignment(a, wide, width="pca").set_index(["map", "split"])
    pad = procrustes_alignment(a, wide, width="pad").set_index(["map", "split"])
    assert pca["width"].iloc[0] == 20 and pad["width"].iloc[0] == 32
    assert pca.loc[("procrustes", "test"), "mean_cosine"] > 0.99
    assert pad.loc[("procrustes", "test"), "mean_cosine"] > 0.99
    assert pca["width_handling"].iloc[0] == "pca"


def test_prepare_split_centres_on_train_mean():
    a, b, _ = rotated_pair()
    idx = np.arange(500)
    split = prepare_split(a, b, idx, np.arange(500, 600))
    np.testing.assert_allclose(split.b_train.mean(0), 0, atol=1e-12)
    with pytest.raises(ValueError, match="width"):
        prepare_split(a, b, idx, idx, width="stretch")


def test_linear_cka_invariances():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 15)) @ rng.standard_normal((15, 15))
    y = np.tanh(x @ rng.standard_normal((15, 10)))
    base = linear_cka(x, y)
    rotation = random_orthogonal(15, rng)
    assert linear_cka(x @ rotation, y) == pytest.approx(base, rel=1e-10)  # orthogonal transform
    assert linear_cka(3.7 * x, y) == pytest.approx(base, rel=1e-10)  # isotropic scale
    assert linear_cka(x + 11.0, y) == pytest.approx(base, rel=1e-10)  # translation
    assert linear_cka(x, x) == pytest.approx(1.0)
    stretched = x * np.linspace(0.1, 10, 15)  # an anisotropic scaling is not an invariance
    assert abs(linear_cka(stretched, y) - base) > 1e-3
    assert linear_cka(x, rng.standard_normal((300, 10))) < 0.2
