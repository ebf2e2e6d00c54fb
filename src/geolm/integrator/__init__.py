"""Seed 003, model side: integrator neuron layers that iterate each token's state toward a learnt equilibrium
and stop per token.

Importing this module registers the "integrator" FFN part and the `inl-*` presets; the rest of the family
is declared in `geolm.systems`.
"""

from geolm.integrator import presets
from geolm.integrator.layer import IntegratorFFN
from geolm.integrator.options import IntegratorOptions
from geolm.integrator.stats import IterationStats, iteration_stats

__all__ = ["IntegratorFFN", "IntegratorOptions", "IterationStats", "iteration_stats", "presets"]
