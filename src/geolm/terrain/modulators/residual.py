"""The geometric residual modulator: a per-token point on a sphere, projected and LERPed into the stream.

Geometric embedding, concretely: every token id owns a learnable vector in R^g that is used only after
normalisation, so the token's geometry is a point on the unit sphere S^(g-1) (direction, not length, is what
the modulator can learn). A shared linear map (no bias) projects the point to the hidden size, and after
block l the residual becomes (1 - alpha_l) * h + alpha_l * proj(point): a LERP towards the token's target
with a per-layer alpha, learned in (0, 1) or fixed (the seed's 0.29154).

The points start either as random directions or, with `init_from_embedding`, as a seeded random projection
of the model's own input embedding (centred, then normalised), so tokens that training never reaches still
carry the model's lexical geometry rather than noise.
"""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from geolm.errors import InputError
from geolm.terrain.modulators.alpha import LayerAlpha

SEED_ALPHA = 0.29154  # the original experiments' "phase boundary" constant, used as a fixed alpha


class GeometricResidualModulator(nn.Module):
    """LERP of the residual stream towards projected per-token sphere points, one alpha per layer."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        n_layers: int,
        geo_dim: int = 64,
        alpha: float = 0.01,
        learn_alpha: bool = True,
        proj_std: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.n_layers, self.geo_dim = n_layers, geo_dim
        gen = torch.Generator().manual_seed(seed)
        self.points = nn.Parameter(torch.randn(vocab_size, geo_dim, generator=gen))
        self.proj = nn.Linear(geo_dim, hidden_size, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(hidden_size, geo_dim, generator=gen) * proj_std)
        self.alpha = LayerAlpha((n_layers,), alpha, learn=learn_alpha)

    @torch.no_grad()
    def init_from_embedding(self, weight: torch.Tensor, seed: int = 0) -> None:
        """Points from a seeded Gaussian projection of the centred embedding rows (cosines roughly kept)."""
        if weight.shape[0] != self.points.shape[0]:
            raise InputError(f"embedding has {weight.shape[0]} rows but the modulator {self.points.shape[0]} tokens")
        gen = torch.Generator().manual_seed(seed)
        w = weight.detach().float().cpu()
        rotation = torch.randn(w.shape[1], self.geo_dim, generator=gen)
        self.points.copy_(((w - w.mean(0)) @ rotation).to(self.points.device))

    def geometry(self, token_ids: torch.Tensor) -> torch.Tensor:
        """The tokens' points on the unit sphere, shape (..., geo_dim)."""
        return F.normalize(self.points[token_ids], dim=-1)

    def target(self, token_ids: torch.Tensor) -> torch.Tensor:
        """What the residual is pulled towards: the projected sphere point of each token."""
        return self.proj(self.geometry(token_ids))

    def forward(self, hidden: torch.Tensor, layer: int, token_ids: torch.Tensor | None) -> torch.Tensor:
        if token_ids is None:
            raise InputError("the residual modulator needs input_ids (the model was called without them)")
        a = self.alpha()[layer]
        return (1 - a) * hidden.float() + a * self.target(token_ids)

    def alpha_rows(self) -> list[dict[str, float | int]]:
        """Current alpha per layer, as rows for the tracking frame."""
        return [{"layer": i, "alpha": float(v)} for i, v in enumerate(self.alpha().detach().cpu().tolist())]

    def health(self) -> pd.DataFrame:
        """One row per layer: alpha, and the norm of the projected targets (the size of what is mixed in)."""
        with torch.no_grad():
            target_norm = self.proj(F.normalize(self.points, dim=-1)).norm(dim=-1)
        return pd.DataFrame(
            [
                {
                    **row,
                    "target_norm_mean": float(target_norm.mean()),
                    "target_norm_std": float(target_norm.std()),
                }
                for row in self.alpha_rows()
            ]
        )
