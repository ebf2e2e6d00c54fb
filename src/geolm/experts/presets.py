"""Mixture-of-geometric-experts presets: the baseline Llama shapes with the FFN replaced by the mixture and a
working memory of slots in every layer.

`geolm presets` counts their parameters on the meta device; every preset trains with the five-stage recipe.
"""

from __future__ import annotations

from geolm.presets import PRESETS, register_preset

MIXTURE = {"ffn": "geometric_moe", "recipe": "mgm"}

register_preset(
    "mgm-tiny",
    "mixture of geometric experts for tests: llama-tiny, one expert of each of the 7 geometries, top-2, 4 memory slots",
    **{**PRESETS["llama-tiny"], **MIXTURE},
    memory="slots",
    part_options={
        "ffn": {"experts_per_geometry": 1, "top_k": 2, "expert_size": 64},
        "memory": {"slots": 4, "slot_size": 32, "heads": 2, "segment_length": 8},
    },
)
register_preset(
    "mgm-small",
    "mixture of geometric experts for benchmarks: llama-10m at 4 layers, 2 experts per geometry, top-2, 16 slots",
    **{**PRESETS["llama-10m"], "num_hidden_layers": 4, **MIXTURE},
    memory="slots",
    part_options={
        "ffn": {"experts_per_geometry": 2, "top_k": 2, "expert_size": 384},
        "memory": {"slots": 16, "slot_size": 128, "heads": 4, "segment_length": 64},
    },
)
