"""Settings of curvature attention, read from `config.part_options["attention"]` and checked."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from geolm.errors import ConfigError

INITS = ("zero", "random", "linspace")


@dataclass(frozen=True)
class CurvatureOptions:
    """How the per-head curvature κ = 2·tanh(raw) and temperature τ start, and whether τ learns.

    `init`: "zero" starts every head Euclidean (κ = 0), so any geometry a head ends with was learnt;
    "random" draws κ uniformly in [-1, 1]; "linspace" spreads κ over [-1, 1] across heads, the published
    design's start (half the heads hyperbolic and half spherical before any training), kept for comparison.
    `tau` is the starting temperature of scores -d/τ; `learn_tau` makes it a trained per-head parameter.
    """

    init: str = "zero"
    tau: float = 1.0
    learn_tau: bool = True

    @classmethod
    def from_config(cls, config: Any) -> CurvatureOptions:
        """The options of `config` (missing keys take defaults); a bad key or value raises `ConfigError`."""
        raw = dict((config.part_options or {}).get("attention", {}))
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise ConfigError(f"part_options['attention'] has unknown key(s) {unknown}; allowed: {', '.join(allowed)}")
        options = cls(**raw)
        options.check()
        return options

    def check(self) -> None:
        """Raise `ConfigError` naming the first key whose value is out of range."""
        where = "part_options['attention']"
        if self.init not in INITS:
            raise ConfigError(f"{where}['init'] must be one of {', '.join(INITS)}, got {self.init!r}")
        tau = self.tau
        if not isinstance(tau, int | float) or isinstance(tau, bool) or not math.isfinite(tau) or tau <= 0:
            raise ConfigError(f"{where}['tau'] must be a positive number, got {tau!r}")
        if not isinstance(self.learn_tau, bool):
            raise ConfigError(f"{where}['learn_tau'] must be true or false, got {self.learn_tau!r}")
