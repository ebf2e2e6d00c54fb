"""Simplex volumes in float64 from edge-vector Gram determinants, and matched random baselines.

The volume of a k-simplex with vertices p0..pk is sqrt(det(G)) / k!, where G = E Eᵀ and the rows of E are
the edge vectors p_i − p0. This is the Cayley–Menger volume written without the bordered distance matrix, so
it stays exact when the points sit far from the origin. A sample whose determinant is not positive beyond
rounding (det(G) ≤ 1e-12 of the Hadamard bound Π‖e_i‖²) is degenerate: it is counted as invalid, not dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEGENERACY_TOLERANCE = 1e-12


@dataclass(frozen=True)
class VolumeSample:
    """Volumes of the valid simplices plus how many samples were degenerate or non-finite."""

    volumes: np.ndarray
    n_samples: int
    n_invalid: int

    @property
    def cv(self) -> float:
        """Coefficient of variation std/mean (ddof=1) of the valid volumes."""
        if self.volumes.size < 2:
            return float("nan")
        mean = float(self.volumes.mean())
        return float(self.volumes.std(ddof=1) / mean) if mean > 0 else float("nan")


def simplex_volumes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volumes of simplices given as (B, k+1, D) vertices; returns (volumes, valid) with NaN where invalid."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 3 or p.shape[1] < 2:
        raise ValueError(f"points must have shape (B, k+1, D) with k >= 1, got {p.shape}")
    edges = p[:, 1:] - p[:, :1]
    k = edges.shape[1]
    gram = edges @ edges.transpose(0, 2, 1)
    det = np.linalg.det(gram)
    hadamard = np.prod(np.einsum("bkd,bkd->bk", edges, edges), axis=1)
    valid = np.isfinite(det) & (det > DEGENERACY_TOLERANCE * hadamard) & (hadamard > 0)
    volumes = np.full(p.shape[0], np.nan)
    volumes[valid] = np.sqrt(det[valid]) / math.factorial(k)
    return volumes, valid


def sample_vertex_sets(n_points: int, n_sets: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n_sets, size) indices into n_points, distinct within each row, drawn uniformly."""
    if n_points < size:
        raise ValueError(f"need at least {size} points to form a simplex, got {n_points}")
    idx = rng.integers(0, n_points, size=(n_sets, size))
    while True:
        sorted_idx = np.sort(idx, axis=1)
        clash = (np.diff(sorted_idx, axis=1) == 0).any(axis=1)
        if not clash.any():
            return idx
        idx[clash] = rng.integers(0, n_points, size=(int(clash.sum()), size))


def volume_sample(points: np.ndarray, n_sets: int, rng: np.random.Generator, vertices: int = 5) -> VolumeSample:
    """Volumes of `n_sets` random simplices with `vertices` vertices drawn from the rows of `points`."""
    idx = sample_vertex_sets(points.shape[0], n_sets, vertices, rng)
    volumes, valid = simplex_volumes(points[idx])
    return VolumeSample(volumes=volumes[valid], n_samples=n_sets, n_invalid=int((~valid).sum()))


def gaussian_like(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points from the Gaussian with the sample mean and covariance of the rows of `x` (float64)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    cov = centred.T @ centred / max(x.shape[0] - 1, 1)
    eig, vec = np.linalg.eigh(cov)
    root = vec * np.sqrt(np.clip(eig, 0.0, None))
    return mean + rng.standard_normal((n, x.shape[1])) @ root.T


def shuffled_coordinates(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each coordinate permuted independently across rows: same marginals, no cross-coordinate structure."""
    return rng.permuted(np.asarray(x, dtype=np.float64), axis=0)
