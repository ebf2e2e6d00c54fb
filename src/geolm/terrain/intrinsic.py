"""TwoNN intrinsic dimension (Facco et al., 2017) from the ratio of second to first neighbour distances."""

from __future__ import annotations

import numpy as np


def pairwise_sq_distances(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between rows in float64, clipped at zero."""
    x = np.asarray(x, dtype=np.float64)
    sq = np.einsum("nd,nd->n", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return np.clip(d2, 0.0, None)


def twonn_dimension(x: np.ndarray, discard_fraction: float = 0.1) -> float:
    """Intrinsic dimension d from mu = r2/r1, whose CDF is 1 − mu^(−d) on a locally uniform manifold.

    As in the paper, d is the slope through the origin of −log(1 − F(mu)) against log(mu), fitted on the
    smallest (1 − discard_fraction) of the ratios because the largest ones come from sparse regions.
    Points with a duplicate (r1 = 0) carry no information and are left out.
    """
    d2 = pairwise_sq_distances(x)
    np.fill_diagonal(d2, np.inf)
    nearest = np.sqrt(np.partition(d2, 1, axis=1)[:, :2])
    r1, r2 = nearest[:, 0], nearest[:, 1]
    keep = r1 > 0
    mu = np.sort(r2[keep] / r1[keep])
    n = mu.size
    if n < 3:
        return float("nan")
    cdf = np.arange(n) / n
    used = slice(0, max(int(n * (1.0 - discard_fraction)), 2))
    xs = np.log(mu[used])
    ys = -np.log(1.0 - cdf[used])
    denom = float(np.sum(xs * xs))
    return float(np.sum(xs * ys) / denom) if denom > 0 else float("nan")
