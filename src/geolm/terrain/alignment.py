"""Cross-representation alignment: orthogonal Procrustes scored on held-out rows, null maps, linear CKA.

A Procrustes fit always finds *some* rotation, so a score means something only next to nulls fitted and scored
the same way: a random orthogonal map and a map fitted on shuffled pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import orthogonal_procrustes

WIDTH_HANDLING = ("pca", "pad")


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA ‖YᵀX‖_F² / (‖XᵀX‖_F ‖YᵀY‖_F) on column-centred rows; widths may differ."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    denom = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / denom) if denom > 0 else float("nan")


def random_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian with the sign of R's diagonal fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def score_map(a: np.ndarray, b: np.ndarray, rotation: np.ndarray) -> dict[str, float]:
    """How well `a @ rotation` matches `b` row by row.

    mean_cosine: mean cosine of each mapped row with its partner; top1: share of mapped rows whose nearest
    row of `b` (by cosine) is their partner; residual: ‖s·aR − b‖_F / ‖b‖_F with the best scale s.
    """
    mapped = a @ rotation
    mn = mapped / np.clip(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-300, None)
    bn = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-300, None)
    sims = mn @ bn.T
    scale = float(np.sum(mapped * b) / max(np.sum(mapped * mapped), 1e-300))
    residual = float(np.linalg.norm(scale * mapped - b) / max(np.linalg.norm(b), 1e-300))
    return {
        "mean_cosine": float(np.mean(np.diag(sims))),
        "top1": float(np.mean(np.argmax(sims, axis=1) == np.arange(a.shape[0]))),
        "residual": residual,
    }


@dataclass(frozen=True)
class Split:
    """Centred, width-matched train and test rows of both sides."""

    a_train: np.ndarray
    b_train: np.ndarray
    a_test: np.ndarray
    b_test: np.ndarray


def _pca_basis(train: np.ndarray, k: int) -> np.ndarray:
    """Top-k principal directions (columns) of already centred rows."""
    _, _, vt = np.linalg.svd(train, full_matrices=False)
    return vt[:k].T


def prepare_split(
    a: np.ndarray, b: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray, width: str = "pca"
) -> Split:
    """Centre both sides on their train means and bring them to one width.

    "pca" projects the wider side onto its top principal directions of the train rows (needs at least as
    many train rows as the narrower width); "pad" appends zero columns to the narrower side.
    """
    if width not in WIDTH_HANDLING:
        raise ValueError(f"width must be one of {WIDTH_HANDLING}, got {width!r}")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a_mean, b_mean = a[train_idx].mean(axis=0), b[train_idx].mean(axis=0)
    a, b = a - a_mean, b - b_mean
    da, db = a.shape[1], b.shape[1]
    if da != db:
        if width == "pad":
            dim = max(da, db)
            a = np.pad(a, ((0, 0), (0, dim - da)))
            b = np.pad(b, ((0, 0), (0, dim - db)))
        else:
            dim = min(da, db)
            if len(train_idx) < dim:
                raise ValueError(f"PCA to width {dim} needs at least {dim} train rows, got {len(train_idx)}")
            if da > db:
                a = a @ _pca_basis(a[train_idx], dim)
            else:
                b = b @ _pca_basis(b[train_idx], dim)
    return Split(a[train_idx], b[train_idx], a[test_idx], b[test_idx])


def procrustes_alignment(
    a: np.ndarray, b: np.ndarray, *, seed: int = 0, train_fraction: float = 0.8, width: str = "pca"
) -> pd.DataFrame:
    """Fit R on a seeded train split of paired rows and score it, and two nulls, on the held-out rows.

    Rows: `procrustes` (train and test), `null_random_orthogonal` (a seeded Haar rotation) and
    `null_shuffled_pairs` (Procrustes fitted on train rows whose partners were permuted).
    """
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must pair row by row, got {a.shape[0]} and {b.shape[0]} rows")
    rng = np.random.default_rng(seed)
    order = rng.permutation(a.shape[0])
    n_train = round(train_fraction * a.shape[0])
    train_idx, test_idx = np.sort(order[:n_train]), np.sort(order[n_train:])
    split = prepare_split(a, b, train_idx, test_idx, width)
    fitted, _ = orthogonal_procrustes(split.a_train, split.b_train)
    shuffled, _ = orthogonal_procrustes(split.a_train, split.b_train[rng.permutation(n_train)])
    random_map = random_orthogonal(split.a_train.shape[1], rng)
    rows = [
        {"map": "procrustes", "split": "train", **score_map(split.a_train, split.b_train, fitted)},
        {"map": "procrustes", "split": "test", **score_map(split.a_test, split.b_test, fitted)},
        {
            "map": "null_random_orthogonal",
            "split": "test",
            **score_map(split.a_test, split.b_test, random_map),
        },
        {"map": "null_shuffled_pairs", "split": "test", **score_map(split.a_test, split.b_test, shuffled)},
    ]
    frame = pd.DataFrame(rows)
    frame["n_train"] = n_train
    frame["n_test"] = len(test_idx)
    frame["width"] = split.a_train.shape[1]
    frame["width_handling"] = width if a.shape[1] != b.shape[1] else "equal"
    frame["status"] = "ok"
    return frame
