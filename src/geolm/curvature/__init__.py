"""Seed 001, model side: attention whose every head learns its curvature, and the head-geometry census.

Importing this module registers the "curvature" attention part, the `curvature-*` presets (with their
standard-attention `curvature-*-baseline` twins) and the parameter-count component "curvature". The census
(pandas, matplotlib) loads on first use, so registering costs no heavy import.
"""

from importlib import import_module
from typing import Any

from geolm.curvature import presets
from geolm.curvature.attention import KAPPA_MAX, CurvatureAttention
from geolm.curvature.options import CurvatureOptions
from geolm.metrics import MODEL_METRICS
from geolm.params import COMPONENT_RULES

CENSUS = ("census_counts", "census_from_state", "classify", "curvature_metrics", "head_census", "plot_census")


def _curvature_metrics(model) -> dict[str, float]:
    return import_module("geolm.curvature.census").curvature_metrics(model)


def __getattr__(name: str) -> Any:
    if name in CENSUS:
        return getattr(import_module("geolm.curvature.census"), name)
    raise AttributeError(f"module 'geolm.curvature' has no attribute {name!r}")


# Ahead of the generic ".self_attn." rule, which would otherwise claim them (first match wins).
COMPONENT_RULES[:0] = [(r"\.self_attn\.(raw_kappa|log_tau)$", "curvature")]
# Every training log record carries κ per head, so `geolm plot` can draw the curvature trajectories.
MODEL_METRICS.append(_curvature_metrics)

__all__ = ["CENSUS", "KAPPA_MAX", "CurvatureAttention", "CurvatureOptions", "presets", *CENSUS]
