"""Curvature-attention presets at the seed's four shapes, each with a standard-attention twin as its baseline.

Vocabulary 8192, one key/value head per query head (as the seed's models), SwiGLU width 8/3 of the hidden
size rounded up to a multiple of 64: three matrices of that width hold the parameters of the 4x two-matrix
FFN the seed's transformers use, so the two families differ only in attention.
"""

from __future__ import annotations

import math

from geolm.config import GeoConfig
from geolm.presets import register_preset


def at_identity(config: GeoConfig) -> GeoConfig:
    """`config` with curvature attention in place of grouped-query attention, computing what it did: the
    squared score with every κ = 0 and τ = 1 is scaled dot-product attention, the projections unchanged."""
    attention = {**config.part_options.get("attention", {}), "score": "squared", "init": "zero", "tau": 1.0}
    part_options = {**config.part_options, "attention": attention}
    return GeoConfig.from_dict({**config.to_dict(), "attention": "curvature", "part_options": part_options})


SHAPES = {  # name: (hidden, layers, heads)
    "tiny": (128, 1, 2),
    "small": (256, 2, 4),
    "medium": (512, 4, 8),
    "large": (768, 6, 12),
}


def swiglu_width(hidden: int) -> int:
    """8/3 · hidden rounded up to a multiple of 64."""
    return 64 * math.ceil(8 * hidden / 3 / 64)


for size, (hidden, layers, heads) in SHAPES.items():
    shape = {
        "vocab_size": 8192,
        "hidden_size": hidden,
        "intermediate_size": swiglu_width(hidden),
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "max_position_embeddings": 512,
    }
    where = f"{hidden}d {layers}L {heads}H"
    register_preset(
        f"curvature-{size}",
        f"learnable-curvature attention (seed 001), {where}",
        attention="curvature",
        **shape,
    )
    register_preset(
        f"curvature-{size}-baseline", f"standard attention twin of curvature-{size}", attention="gqa", **shape
    )
