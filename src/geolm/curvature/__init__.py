"""Seed 001, model side: attention whose every head learns its curvature, and the head-geometry census.

Importing this module registers the "curvature" attention part and the `curvature-*` presets (with their
standard-attention `curvature-*-baseline` twins); the rest of the family is declared in `geolm.systems`. The
census (pandas, matplotlib) loads on first use, so registering costs no heavy import.
"""

from importlib import import_module
from typing import Any

from geolm.curvature import presets
from geolm.curvature.attention import KAPPA_MAX, CurvatureAttention
from geolm.curvature.options import CurvatureOptions

CENSUS = ("census_counts", "census_from_state", "classify", "curvature_metrics", "head_census", "plot_census")


def __getattr__(name: str) -> Any:
    if name in CENSUS:
        return getattr(import_module("geolm.curvature.census"), name)
    raise AttributeError(f"module 'geolm.curvature' has no attribute {name!r}")


__all__ = ["CENSUS", "KAPPA_MAX", "CurvatureAttention", "CurvatureOptions", "presets", *CENSUS]
