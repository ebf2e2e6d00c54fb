"""The geometric field modulator: KSimplexChannel experts gate the residual stream multiplicatively.

Each expert (k = 1, 2, 4: edge, triangle, pentachoron) turns a position's active coordinates into a small
deformation of a regular k-simplex, reads the deformed simplex's squared edge lengths and squared volume
(the Cayley–Menger quantities, here from the Gram determinant of the edge vectors as in
`geolm.terrain.simplex`), and maps them to a sigmoid gate per active coordinate. With the expert's alpha a,
its gate enters as (1 - a) + a * gate in [1 - a, 1]; the product over experts scales the active coordinates.

Null space: a preserved subspace U (the last `null_fraction` of the coordinates, or any orthonormal basis
given) is never touched: the change is built in the orthogonal complement Q, so Uᵀ(h' - h) = 0. Alphas are
bounded to [alpha_min, alpha_max] (see `LayerAlpha`). Degenerate simplices (det ≤ 1e-12 of the Hadamard bound,
the analysis library's rule) are counted per layer and expert; `cv_check` measures the pentachoron volume
CV of a set of representations with `geolm.terrain.simplex`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from geolm.errors import ConfigError, InputError
from geolm.terrain.modulators.alpha import LayerAlpha
from geolm.terrain.simplex import DEGENERACY_TOLERANCE, simplex_volumes, volume_sample


@dataclass(frozen=True)
class FieldConfig:
    """Shape and safeguards of a field modulator; the defaults are the original experiment's."""

    hidden_size: int
    n_layers: int
    ks: tuple[int, ...] = (1, 2, 4)
    edim: int = 8
    alpha: float = 0.01
    alpha_min: float = 0.001
    alpha_max: float = 0.35
    learn_alpha: bool = True
    null_fraction: float = 0.25
    deform_scale: float = 0.05
    cv_band: tuple[float, float] = (0.16, 0.26)

    def __post_init__(self) -> None:
        if not self.ks or min(self.ks) < 1:
            raise ConfigError(f"ks must be positive simplex dimensions, got {self.ks}")
        if self.edim < max(self.ks):
            raise ConfigError(f"edim={self.edim} must be at least the largest k ({max(self.ks)})")
        if not 0.0 <= self.null_fraction < 1.0:
            raise ConfigError(f"null_fraction must be in [0, 1), got {self.null_fraction}")


def regular_simplex(k: int, edim: int) -> torch.Tensor:
    """(k+1, edim) vertices of a regular k-simplex with unit edges, centred at the origin."""
    corners = torch.eye(k + 1, dtype=torch.float64)
    centred = corners - corners.mean(0)
    basis = torch.linalg.svd(centred, full_matrices=False).Vh[:k]  # orthonormal span of the centred corners
    verts = centred @ basis.T / math.sqrt(2.0)  # corner edges have length sqrt(2)
    return F.pad(verts, (0, edim - k)).float()


def simplex_features(verts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Squared pair distances, squared volume and validity of (..., k+1, e) vertex sets (float32 or wider)."""
    k = verts.shape[-2] - 1
    gram_v = verts @ verts.transpose(-1, -2)
    sq = torch.diagonal(gram_v, dim1=-2, dim2=-1)
    d2 = (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * gram_v).clamp(min=0)
    i, j = torch.triu_indices(k + 1, k + 1, offset=1)
    edges = verts[..., 1:, :] - verts[..., :1, :]
    gram = edges @ edges.transpose(-1, -2)
    det = torch.linalg.det(gram)
    hadamard = torch.diagonal(gram, dim1=-2, dim2=-1).prod(-1)
    valid = torch.isfinite(det) & (det > DEGENERACY_TOLERANCE * hadamard) & (hadamard > 0)
    return d2[..., i, j], det / math.factorial(k) ** 2, valid


class KSimplexChannel(nn.Module):
    """One expert: features -> deformed regular k-simplex -> [d², vol²] (layer-normed) -> gate logits."""

    def __init__(self, k: int, in_dim: int, out_dim: int, edim: int, deform_scale: float) -> None:
        super().__init__()
        self.k, self.deform_scale = k, deform_scale
        self.register_buffer("template", regular_simplex(k, edim))
        self.to_deform = nn.Linear(in_dim, (k + 1) * edim)
        n_features = k * (k + 1) // 2 + 1
        self.norm = nn.LayerNorm(n_features)
        self.to_gate = nn.Linear(n_features, out_dim)

    def vertices(self, x: torch.Tensor) -> torch.Tensor:
        deform = self.to_deform(x).unflatten(-1, self.template.shape)
        return self.template + self.deform_scale * deform

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gate in (0, 1) of shape (..., out_dim), validity of each position's simplex)."""
        d2, vol2, valid = simplex_features(self.vertices(x))
        features = self.norm(torch.cat([d2, vol2.unsqueeze(-1)], dim=-1))
        return torch.sigmoid(self.to_gate(features)), valid


def complement_basis(preserved: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis (d, d - m) of the complement of the orthonormal columns `preserved` (d, m)."""
    u = preserved.double()
    if not torch.allclose(u.T @ u, torch.eye(u.shape[1], dtype=u.dtype), atol=1e-6):
        raise InputError(f"preserved basis of shape {tuple(u.shape)} must have orthonormal columns")
    eigval, eigvec = torch.linalg.eigh(torch.eye(u.shape[0], dtype=u.dtype) - u @ u.T)
    return eigvec[:, eigval > 0.5].float()


class GeometricFieldModulator(nn.Module):
    """Multiplicative, null-space-preserving gating of the residual stream by KSimplexChannel experts."""

    def __init__(self, config: FieldConfig, preserved: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config, self.n_layers = config, config.n_layers
        d = config.hidden_size
        if preserved is None:
            n_active = d - int(d * config.null_fraction)
            active = torch.eye(d)[:, :n_active]  # the tail coordinates are the preserved ones
        else:
            if preserved.shape[0] != d:
                raise InputError(f"preserved basis has {preserved.shape[0]} rows, hidden size is {d}")
            active = complement_basis(preserved)
        self.register_buffer("active", active)
        n_active = active.shape[1]
        self.experts = nn.ModuleList(
            KSimplexChannel(k, n_active, n_active, config.edim, config.deform_scale) for k in config.ks
        )
        self.alpha = LayerAlpha(
            (config.n_layers, len(config.ks)),
            config.alpha,
            low=config.alpha_min,
            high=config.alpha_max,
            learn=config.learn_alpha,
        )
        self.register_buffer("simplices", torch.zeros(config.n_layers, len(config.ks), dtype=torch.long))
        self.register_buffer("invalid", torch.zeros(config.n_layers, len(config.ks), dtype=torch.long))

    def gate(self, coords: torch.Tensor, layer: int) -> torch.Tensor:
        """Combined gate over the active coordinates, in [prod(1 - alpha), 1]; updates the validity counts."""
        alphas = self.alpha()[layer]
        combined = torch.ones_like(coords)
        for e, expert in enumerate(self.experts):
            gate, valid = expert(coords)
            combined = combined * ((1 - alphas[e]) + alphas[e] * gate)
            with torch.no_grad():
                self.simplices[layer, e] += valid.numel()
                self.invalid[layer, e] += (~valid).sum()
        return combined

    def forward(self, hidden: torch.Tensor, layer: int, token_ids: torch.Tensor | None = None) -> torch.Tensor:
        """h + Q((g - 1) * Qᵀh): only the active coordinates change, by the factor g."""
        h = hidden.float()
        coords = h @ self.active
        return h + ((self.gate(coords, layer) - 1) * coords) @ self.active.T

    def reset_monitor(self) -> None:
        self.simplices.zero_()
        self.invalid.zero_()

    def alpha_rows(self) -> list[dict[str, float | int]]:
        alphas = self.alpha().detach().cpu()
        return [
            {"layer": layer, "expert": f"k{k}", "alpha": float(alphas[layer, e])}
            for layer in range(self.n_layers)
            for e, k in enumerate(self.config.ks)
        ]

    def validity(self) -> pd.DataFrame:
        """Simplices seen and degenerate per layer and expert since the last reset."""
        frame = pd.DataFrame(self.alpha_rows())
        frame["simplices"] = self.simplices.flatten().cpu().numpy()
        frame["invalid"] = self.invalid.flatten().cpu().numpy()
        frame["invalid_share"] = frame["invalid"] / frame["simplices"].where(frame["simplices"] > 0)
        return frame

    def health(self) -> pd.DataFrame:
        """Per expert: template volume (float64, analysis library) and deformation weight norm."""
        rows = []
        for k, expert in zip(self.config.ks, self.experts, strict=True):
            volume, valid = simplex_volumes(expert.template.double().cpu().numpy()[None])
            rows.append(
                {
                    "expert": f"k{k}",
                    "template_volume": float(volume[0]),
                    "template_valid": bool(valid[0]),
                    "deform_weight_norm": float(expert.to_deform.weight.detach().norm()),
                }
            )
        return pd.DataFrame(rows)

    def cv_check(self, vectors: torch.Tensor | np.ndarray, n_sets: int = 500, seed: int = 0) -> dict[str, object]:
        """Pentachoron volume CV of the rows' active coordinates, and whether it lies in `cv_band`."""
        x = torch.as_tensor(vectors, dtype=torch.float64) @ self.active.double().cpu()
        sample = volume_sample(x.numpy(), n_sets, np.random.default_rng(seed))
        low, high = self.config.cv_band
        return {
            "cv": sample.cv,
            "samples": sample.n_samples,
            "invalid": sample.n_invalid,
            "in_band": bool(low <= sample.cv <= high),
            "band": f"{low}-{high}",
        }
