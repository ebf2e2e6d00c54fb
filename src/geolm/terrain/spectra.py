"""Spectral summaries in float64: covariance spectra of point clouds and singular spectra of matrices.

"Effective dimension" is measured on covariance eigenvalues (variances along principal axes), never on raw
singular values of an uncentred matrix, which mix the mean direction into the spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    """Tail fit p(x) ∝ x^(-alpha) for x ≥ x_min, with its Kolmogorov–Smirnov distance, tail size, and how many
    values the fit considered (after dropping those its mode ignores)."""

    alpha: float
    x_min: float
    ks_distance: float
    n_tail: int
    n_values: int = 0


NO_FIT = PowerLawFit(float("nan"), float("nan"), float("nan"), 0)
FIT_MODES = ("weightwatcher", "csn")
WW_EVALS_THRESHOLD = 1e-5  # eigenvalues at or below this are dropped before the fit, as WeightWatcher does
WW_SMALL_N = 20  # below this many eigenvalues, WeightWatcher switches to its small-sample fit
WW_SMALL_MIN_TAIL = 8
WW_MIN_EVALS = 8  # WeightWatcher skips a matrix with fewer eigenvalues (its default `min_evals`)


def fit_power_law(values: np.ndarray, fit: str = "weightwatcher", min_tail: int = 10) -> PowerLawFit:
    """Continuous power-law tail p(x) ∝ x^(-alpha), x ≥ x_min, by maximum likelihood with x_min chosen by KS.

    For every candidate x_min, alpha = 1 + n / Σ ln(x / x_min) over the n values ≥ x_min. The two modes
    differ in how a candidate is scored and which are allowed:

    - "weightwatcher" (default) follows WeightWatcher 0.7.7's own fit (its `pl_package="ww"`): values
      ≤ 1e-5 are dropped; every sorted value but the largest is a candidate, duplicates included; the KS
      distance is max |F_fit(x_i) − i/n| (one side of each step of the empirical CDF); a candidate with
      alpha ≤ 1 scores 1. Fewer than 8 values are not fitted (WeightWatcher skips such a matrix); with fewer
      than 20 it uses WeightWatcher's small-sample variant: alpha
      bias-corrected to 1 + (n − 1) / Σ ln(x / x_min), tails of at least 8, and x_min minimising
      KS − 0.868 / √n.
    - "csn" is the Clauset–Shalizi–Newman reading: the KS distance takes both sides of each step,
      repeated values are one candidate, and a tail must hold at least `min_tail` values.
    """
    if fit not in FIT_MODES:
        raise ValueError(f"unknown power-law fit {fit!r}; allowed: {', '.join(FIT_MODES)}")
    x = np.sort(np.asarray(values, dtype=np.float64))
    x = x[np.isfinite(x) & (x > (0.0 if fit == "csn" else WW_EVALS_THRESHOLD))]
    if fit == "csn":
        result = _fit_csn(x, min_tail)
    elif x.size < WW_MIN_EVALS:
        result = NO_FIT
    else:
        result = _fit_ww_small(x) if x.size < WW_SMALL_N else _fit_ww(x)
    return replace(result, n_values=int(x.size))


WW_TRAINED_BAND = (2.0, 6.0)  # WeightWatcher reads α inside as well trained, below as over-, above as under-trained
SHORT_TAIL = 10
HIGH_KS = 0.1


def fit_quality(fit: PowerLawFit, mode: str = "weightwatcher") -> str:
    """A short verdict on one fit: "ok", or what to be wary of (a short tail, a poor KS distance, α outside
    WeightWatcher's well-trained band), or why there is no fit."""
    if not np.isfinite(fit.alpha):
        needs, floor = (WW_MIN_EVALS, WW_EVALS_THRESHOLD) if mode == "weightwatcher" else (SHORT_TAIL, 0.0)
        return f"not fitted: {fit.n_values} eigenvalue(s) above {floor:g}, the fit needs {needs}"
    warnings = []
    if fit.n_tail < SHORT_TAIL:
        warnings.append(f"short tail ({fit.n_tail} eigenvalues)")
    if fit.ks_distance > HIGH_KS:
        warnings.append(f"KS {fit.ks_distance:.3f} > {HIGH_KS}")
    low, high = WW_TRAINED_BAND
    if fit.alpha < low:
        warnings.append(f"alpha < {low:g} (over-trained band)")
    elif fit.alpha > high:
        warnings.append(f"alpha > {high:g} (under-trained band)")
    return "; ".join(warnings) or "ok"


def _tail_alphas(x: np.ndarray, bias_corrected: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tail sizes n, log sums Σ ln(x_j / x_i) and MLE alphas for x_min = x[i], i = 0 .. len(x) − 2."""
    logs = np.log(x)
    n = x.size - np.arange(x.size - 1, dtype=np.float64)
    sums = np.array([logs[i:].sum() - n[i] * logs[i] for i in range(n.size)])  # Σ ln(x_j / x_i), j ≥ i
    with np.errstate(divide="ignore", invalid="ignore"):
        alphas = 1.0 + ((n - 1.0) if bias_corrected else n) / sums
    return n, sums, alphas


def _one_sided_ks(x: np.ndarray, i: int, alpha: float) -> float:
    tail = x[i:]
    model_cdf = 1.0 - (tail / x[i]) ** (1.0 - alpha)
    return float(np.max(np.abs(model_cdf - np.arange(tail.size) / tail.size)))


def _fit_ww(x: np.ndarray) -> PowerLawFit:
    n, _, alphas = _tail_alphas(x, bias_corrected=False)
    ks = np.array([_one_sided_ks(x, i, a) if a > 1 else 1.0 for i, a in enumerate(alphas)])
    best = int(np.argmin(ks))
    return PowerLawFit(float(alphas[best]), float(x[best]), float(ks[best]), int(n[best]))


def _fit_ww_small(x: np.ndarray) -> PowerLawFit:
    n, sums, alphas = _tail_alphas(x, bias_corrected=True)
    scores = np.full(n.size, np.inf)
    ks = np.ones(n.size)
    for i in range(n.size):
        if n[i] >= WW_SMALL_MIN_TAIL and sums[i] > 1e-12 and alphas[i] > 1.0:
            ks[i] = _one_sided_ks(x, i, alphas[i])
            scores[i] = ks[i] - 0.868 / np.sqrt(n[i])
    if not np.isfinite(scores).any():  # no admissible tail: the whole sample, as WeightWatcher falls back to
        if sums[0] <= 1e-12:
            return PowerLawFit(1.0, float(x[0]), 1.0, int(n[0]))
        return PowerLawFit(float(alphas[0]), float(x[0]), _one_sided_ks(x, 0, alphas[0]), int(n[0]))
    best = int(np.argmin(scores))
    return PowerLawFit(float(alphas[best]), float(x[best]), float(ks[best]), int(n[best]))


def _fit_csn(x: np.ndarray, min_tail: int) -> PowerLawFit:
    """The Clauset–Shalizi–Newman fit of sorted positive `x` (see `fit_power_law`)."""
    if x.size < min_tail:
        return NO_FIT
    best = NO_FIT
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
