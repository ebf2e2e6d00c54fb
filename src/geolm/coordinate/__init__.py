"""Seed 000, model side: coordinate-modulated projections, the causal coordinate predictor and context scan,
adaptive decoding, coordinate analysis and weight-only int8 inference.

Importing this module registers the "coordinate" modulation part and the `geometric-llama-*` presets; the
rest of the family is declared in `geolm.systems`.
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
