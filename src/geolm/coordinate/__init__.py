"""Seed 000, model side: coordinate-modulated projections, the causal coordinate predictor and context scan,
adaptive decoding, coordinate analysis and weight-only int8 inference.

Importing this module registers the "coordinate" modulation part, the `geometric-llama-*` presets and the
parameter-count components "coordinate modulation" and "coordinate predictor".
"""

from geolm.coordinate import presets
from geolm.coordinate.modulation import (
    CoordinateLinear,
    CoordinateModulation,
    FactorBank,
    coordinate_override,
    find_modulation,
)
from geolm.coordinate.options import CoordinateOptions
from geolm.coordinate.scan import causal_ema
from geolm.params import COMPONENT_RULES

# Ahead of the generic ".modulation." rule, which would otherwise claim them (first match wins).
COMPONENT_RULES[:0] = [
    (r"\.modulation\.predictor\.", "coordinate predictor"),
    (r"\.modulation\.(banks|directions)\b", "coordinate modulation"),
]

__all__ = [
    "CoordinateLinear",
    "CoordinateModulation",
    "CoordinateOptions",
    "FactorBank",
    "causal_ema",
    "coordinate_override",
    "find_modulation",
    "presets",
]
