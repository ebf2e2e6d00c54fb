"""Seed 003, model side: integrator neuron layers that iterate each token's state toward a learnt equilibrium
and stop per token.

Importing this module registers the "integrator" FFN part, the `inl-*` presets and the parameter-count
component "controller".
"""

from geolm.integrator import presets
from geolm.integrator.layer import IntegratorFFN
from geolm.integrator.options import IntegratorOptions
from geolm.integrator.stats import IterationStats, iteration_stats
from geolm.params import COMPONENT_RULES

# Ahead of the generic ".mlp." rule, which would otherwise claim them (first match wins).
COMPONENT_RULES[:0] = [(r"\.mlp\.controller\.|\.shared\.integrator_controller\.", "controller")]

__all__ = ["IntegratorFFN", "IntegratorOptions", "IterationStats", "iteration_stats", "presets"]
