"""Intrinsic dimension of a point cloud: TwoNN (Facco et al., 2017) from the ratio of second to first
neighbour distances, and the Levina–Bickel maximum-likelihood estimate over k neighbours.

Both depend on the sample size (fewer points look higher-dimensional at the scale of their neighbours), so
`dimension_curve` reports them at several sizes with their spread over seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


def pairwise_sq_distances(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between rows in float64, clipped at zero."""
    x = np.asarray(x, dtype=np.float64)
    sq = np.einsum("nd,nd->n", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return np.clip(d2, 0.0, None)


def twonn_dimension(x: np.ndarray, discard_fraction: float = 0.1) -> float:
    """Intrinsic dimension d from mu = r2/r1, whose CDF is 1 − mu^(−d) on a locally uniform manifold.

    As in the paper, d is the slope through the origin of −log(1 − F(mu)) against log(mu), with F(mu_i) = i/N
    for the i-th smallest ratio, fitted on the smallest (1 − discard_fraction) of the ratios because the
    largest ones come from sparse regions: the computation of scikit-dimension's `TwoNN()`. Points with a
    duplicate (r1 = 0) carry no information and are left out.
    """
    d2 = pairwise_sq_distances(x)
    np.fill_diagonal(d2, np.inf)
    nearest = np.sqrt(np.partition(d2, 1, axis=1)[:, :2])
    r1, r2 = nearest[:, 0], nearest[:, 1]
    keep = r1 > 0
    mu = np.sort(r2[keep] / r1[keep])
    n = mu.size
    kept = int(n * (1.0 - discard_fraction))
    if kept < 2:
        return float("nan")
    xs = np.log(mu[:kept])
    ys = -np.log(1.0 - np.arange(1, kept + 1) / n)
    denom = float(np.sum(xs * xs))
    return float(np.sum(xs * ys) / denom) if denom > 0 else float("nan")


MLE_NEIGHBOURS = 20


def mle_dimension(x: np.ndarray, k: int = MLE_NEIGHBOURS) -> float:
    """Levina–Bickel MLE: per point (k − 1) / Σ_j ln(R_k / R_j) over its k nearest neighbours, pooled by the
    harmonic mean (MacKay and Ghahramani's correction), as scikit-dimension's `MLE()` computes by default.

    Points with a duplicate (R_1 = 0) are left out, as in `twonn_dimension`.
    """
    d2 = pairwise_sq_distances(x)
    np.fill_diagonal(d2, np.inf)
    k = min(k, d2.shape[0] - 1)
    if k < 2:
        return float("nan")
    radii = np.sqrt(np.sort(np.partition(d2, k - 1, axis=1)[:, :k], axis=1))
    radii = radii[radii[:, 0] > 0]
    if radii.shape[0] == 0:
        return float("nan")
    pointwise = (k - 1) / np.log(radii[:, -1:] / radii).sum(axis=1)
    return float(1.0 / np.mean(1.0 / pointwise))


ESTIMATORS: dict[str, Callable[[np.ndarray], float]] = {"twonn": twonn_dimension, "mle": mle_dimension}


def dimension_curve(
    rows: np.ndarray, sizes: Sequence[int], seeds: int, rng_for: Callable[[int, int], np.random.Generator]
) -> pd.DataFrame:
    """Each estimator on `seeds` random samples (without replacement) of every size, with mean and spread.

    `rng_for(size, seed)` gives the sample's generator, so both estimators see the same points.
    """
    records = []
    for size in sorted({min(int(s), rows.shape[0]) for s in sizes}):
        samples = [rows[rng_for(size, seed).choice(rows.shape[0], size=size, replace=False)] for seed in range(seeds)]
        for name, estimate in ESTIMATORS.items():
            values = np.array([estimate(sample) for sample in samples])
            records.append(
                {
                    "estimator": name,
                    "sample": size,
                    "seeds": seeds,
                    "mean": float(np.mean(values)),
                    "std": float(np.std(values, ddof=1)) if seeds > 1 else float("nan"),
                    "min": float(np.min(values)),
                    "max": float(np.max(values)),
                }
            )
    return pd.DataFrame(records)
