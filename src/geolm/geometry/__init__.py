"""Manifold math as pure tensor functions (float32 or wider, no Python branches on tensor values)."""

from geolm.geometry import analytic, stereographic

__all__ = ["analytic", "stereographic"]
