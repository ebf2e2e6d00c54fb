"""Settings of the coordinate modulation, read from `config.part_options["modulation"]` and checked.

The defaults are the flagship `geometric-llama-10m` values (docs/coordinate.md has the arithmetic): the
seed's K=64 wavelets of rank 12 on every projection would multiply the model's size and cost several times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from geolm.errors import ConfigError

# Projection roles of the baseline attention and FFN that a modulation may target.
ROLES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class CoordinateOptions:
    """What the coordinate space looks like and which projections it modulates.

    `wavelet_pairs` (K) cos/sin pairs of rank `rank` (r) modulate every role in `targets`; with
    `share_across_layers` one factor bank per role serves all layers. Coordinates follow
    theta_ctx[t] = context_decay * theta_ctx[t-1] + (1 - context_decay) * theta[t]. The output factors start
    with standard deviation `init_scale`, so a fresh model computes almost exactly its base Llama.
    `uncertainty_threshold` is where adaptive decoding switches from greedy to nucleus sampling.
    """

    coord_dim: int = 1024
    wavelet_pairs: int = 18
    rank: int = 3
    targets: tuple[str, ...] = ("q_proj", "v_proj", "gate_proj")
    share_across_layers: bool = False
    context_decay: float = 0.95
    predictor_hidden: int = 200
    init_scale: float = 1e-3
    uncertainty_threshold: float = 2e-3

    @classmethod
    def from_config(cls, config: Any) -> CoordinateOptions:
        """The options of `config` (missing keys take defaults); a bad key or value raises `ConfigError`."""
        raw = dict((config.part_options or {}).get("modulation", {}))
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise ConfigError(f"part_options['modulation'] has unknown key(s) {unknown}; allowed: {', '.join(allowed)}")
        if isinstance(raw.get("targets"), list | tuple):
            raw["targets"] = tuple(raw["targets"])
        options = cls(**raw)
        options.check()
        return options

    @property
    def width(self) -> int:
        """Columns of the stacked factors: K cos and K sin wavelets of rank r each (2Kr)."""
        return 2 * self.wavelet_pairs * self.rank

    def check(self) -> None:
        """Raise `ConfigError` naming the first key whose value is out of range."""
        where = "part_options['modulation']"
        for key in ("coord_dim", "wavelet_pairs", "rank", "predictor_hidden"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{where}[{key!r}] must be a positive integer, got {value!r}")
        targets = self.targets
        if not isinstance(targets, tuple) or not targets or any(t not in ROLES for t in targets):
            raise ConfigError(f"{where}['targets'] must be a non-empty list of {list(ROLES)}, got {targets}")
        if len(set(targets)) != len(targets):
            raise ConfigError(f"{where}['targets'] lists a role twice: {list(targets)}")
        if not isinstance(self.share_across_layers, bool):
            value = self.share_across_layers
            raise ConfigError(f"{where}['share_across_layers'] must be true or false, got {value!r}")
        checks = (
            ("context_decay", lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
            ("init_scale", lambda v: v >= 0.0, "a non-negative number"),
            ("uncertainty_threshold", lambda v: v >= 0.0, "a non-negative number"),
        )
        for key, ok, allowed in checks:
            value = getattr(self, key)
            real = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if not real or not ok(value):
                raise ConfigError(f"{where}[{key!r}] must be {allowed}, got {value!r}")
