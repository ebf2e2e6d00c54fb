"""Spectral summaries in float64: covariance spectra of point clouds and singular spectra of matrices.

"Effective dimension" is measured on covariance eigenvalues (variances along principal axes), never on raw
singular values of an uncentred matrix, which mix the mean direction into the spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANCE_FRACTIONS = (0.80, 0.90, 0.95, 0.99)


def covariance_eigenvalues(x: np.ndarray) -> np.ndarray:
    """Eigenvalues of the sample covariance of the rows of `x`, descending, in float64."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / max(x.shape[0] - 1, 1)
    eig = np.linalg.eigvalsh(cov)[::-1]
    return np.clip(eig, 0.0, None)


def participation_ratio(eigenvalues: np.ndarray) -> float:
    """(Σλ)² / Σλ²: the number of equally loaded axes that would carry the same spread."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    denom = float(np.sum(lam**2))
    return float(np.sum(lam) ** 2 / denom) if denom > 0 else float("nan")


def variance_dims(eigenvalues: np.ndarray, fractions: tuple[float, ...] = VARIANCE_FRACTIONS) -> dict[float, int]:
    """Smallest number of leading axes holding each fraction of the total variance."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    cumulative = np.cumsum(lam) / lam.sum()
    return {f: int(np.searchsorted(cumulative, f - 1e-12, side="left") + 1) for f in fractions}


def effective_rank(singular_values: np.ndarray) -> float:
    """Roy–Vetterli effective rank: exp of the Shannon entropy of the normalised singular values."""
    s = np.asarray(singular_values, dtype=np.float64)
    total = s.sum()
    if total <= 0:
        return float("nan")
    p = s[s > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def stable_rank(singular_values: np.ndarray) -> float:
    """‖W‖_F² / ‖W‖_2²: a rank that small singular values cannot inflate."""
    s = np.asarray(singular_values, dtype=np.float64)
    top = float(np.max(s)) if s.size else 0.0
    return float(np.sum(s**2) / top**2) if top > 0 else float("nan")


@dataclass(frozen=True)
class PowerLawFit:
    """Tail fit p(x) ∝ x^(-alpha) for x ≥ x_min, with its Kolmogorov–Smirnov distance and tail size."""

    alpha: float
    x_min: float
    ks_distance: float
    n_tail: int


def fit_power_law(values: np.ndarray, min_tail: int = 10) -> PowerLawFit:
    """Continuous power-law tail by maximum likelihood, x_min chosen to minimise the KS distance.

    This is the Clauset–Shalizi–Newman procedure that WeightWatcher applies to the eigenvalues of WᵀW:
    for every candidate x_min, alpha = 1 + n / Σ ln(x / x_min) over the n values ≥ x_min, and the fit kept
    is the one whose tail CDF is closest to the empirical one.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    x = x[np.isfinite(x) & (x > 0)]
    nan = PowerLawFit(float("nan"), float("nan"), float("nan"), 0)
    if x.size < min_tail:
        return nan
    best = nan
    last_start = x.size - min_tail
    for start in range(last_start + 1):
        if start > 0 and x[start] == x[start - 1]:
            continue
        tail = x[start:]
        x_min = tail[0]
        logs = np.log(tail / x_min)
        total = logs.sum()
        if total <= 0:
            continue
        n = tail.size
        alpha = 1.0 + n / total
        model_cdf = 1.0 - (tail / x_min) ** (1.0 - alpha)
        ranks = np.arange(n, dtype=np.float64)
        ks = float(np.max(np.maximum(np.abs(ranks / n - model_cdf), np.abs((ranks + 1) / n - model_cdf))))
        if not np.isfinite(best.ks_distance) or ks < best.ks_distance:
            best = PowerLawFit(float(alpha), float(x_min), ks, int(n))
    return best
