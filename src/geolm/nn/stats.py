"""Statistics of a model's parts while it generates: `with geolm.inference_stats(model) as stats:`.

Every forward inside the block hands the recorder the per-token statistics its parts added (see
`ForwardContext.add_stat`). Under `generate()` the first forward reads the prompt and each later one the newest
token, so the statistics at the last position of forward k are those behind the (k+1)-th generated token:
`stats.per_token(name)` stacks them, `stats.summary()` averages them, `stats.prompt(name)` keeps the prompt's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from geolm.errors import ConfigError


@dataclass
class InferenceStats:
    """What the forwards inside one `inference_stats` block reported, kept on the CPU."""

    detail: bool = False
    calls: list[dict[str, torch.Tensor]] = field(default_factory=list)

    def observe(self, part_stats: dict[str, torch.Tensor]) -> None:
        """Called by the model at the end of each forward."""
        self.calls.append({name: value.cpu() for name, value in part_stats.items()})

    @property
    def names(self) -> list[str]:
        return sorted({name for call in self.calls for name in call})

    def latest(self, name: str) -> torch.Tensor:
        """The newest token's value of `name` in each row, (B,) or (B, k): what the next token is chosen after."""
        return self._values(name, self.calls[-1:])[0][:, -1]

    def prompt(self, name: str) -> torch.Tensor:
        """Per-token values of `name` over the first forward's tokens (the prompt), (B, T) or (B, T, k)."""
        return self._values(name, self.calls[:1])[0]

    def per_token(self, name: str) -> torch.Tensor:
        """(B, N) or (B, N, k): the value behind each of the N generated tokens (last position of each forward)."""
        return torch.stack([value[:, -1] for value in self._values(name, self.calls)], dim=1)

    def summary(self) -> dict[str, float | list[float]]:
        """Mean of each statistic over the generated tokens and rows: a number, or a list for (k,)-shaped ones."""
        means = {}
        for name in self.names:
            mean = self.per_token(name).mean(dim=(0, 1))
            means[name] = mean.tolist() if mean.dim() else float(mean)
        return means

    def _values(self, name: str, calls: list[dict[str, torch.Tensor]]) -> list[torch.Tensor]:
        if not self.calls:
            raise ConfigError("no forward pass ran inside inference_stats(); nothing was recorded")
        found = [call[name] for call in calls if name in call]
        if len(found) != len(calls):
            known = ", ".join(self.names) or "none"
            raise ConfigError(f"no statistic {name!r} was recorded; the model's parts report: {known}")
        return found


def stat_owner(model: nn.Module) -> nn.Module:
    """The geolm base model inside `model`, which hands statistics to recorders."""
    base = getattr(model, "base_model", model)
    if not hasattr(base, "stat_recorders"):
        raise ConfigError(f"{type(model).__name__} is not a geolm model; it reports no part statistics")
    return base


@contextmanager
def inference_stats(model: nn.Module, *, detail: bool = False) -> Iterator[InferenceStats]:
    """Record the part statistics of every forward of `model` inside the block.

    `detail=True` asks parts for their large per-token values too (the coordinate modulation then reports
    theta and theta_ctx), which they leave out in training.
    """
    owner = stat_owner(model)
    recorder = InferenceStats(detail=detail)
    owner.stat_recorders.append(recorder)
    try:
        yield recorder
    finally:
        owner.stat_recorders.remove(recorder)
