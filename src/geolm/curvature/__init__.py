"""Seed 001, model side: attention whose every head learns its curvature, and the head-geometry census.

Importing this module registers the "curvature" attention part, the `curvature-*` presets (with their
standard-attention `curvature-*-baseline` twins) and the parameter-count component "curvature".
"""

from geolm.curvature import presets
from geolm.curvature.attention import KAPPA_MAX, CurvatureAttention
from geolm.curvature.census import (
    census_counts,
    census_from_state,
    classify,
    curvature_metrics,
    head_census,
    plot_census,
)
from geolm.curvature.options import CurvatureOptions
from geolm.metrics import MODEL_METRICS
from geolm.params import COMPONENT_RULES

# Ahead of the generic ".self_attn." rule, which would otherwise claim them (first match wins).
COMPONENT_RULES[:0] = [(r"\.self_attn\.(raw_kappa|log_tau)$", "curvature")]
# Every training log record carries κ per head, so `geolm plot` can draw the curvature trajectories.
MODEL_METRICS.append(curvature_metrics)

__all__ = [
    "KAPPA_MAX",
    "CurvatureAttention",
    "CurvatureOptions",
    "census_counts",
    "census_from_state",
    "classify",
    "curvature_metrics",
    "head_census",
    "plot_census",
    "presets",
]
