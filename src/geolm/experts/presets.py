"""Mixture-of-geometric-experts presets: the baseline Llama shapes with the FFN replaced by the mixture.

`geolm presets` counts their parameters on the meta device; every preset trains with the five-stage recipe.
"""

from __future__ import annotations

from geolm.presets import PRESETS, register_preset

MIXTURE = {"ffn": "geometric_moe", "recipe": "mgm"}

register_preset(
    "mgm-tiny",
    "mixture of geometric experts for tests: llama-tiny with one expert of each of the 7 geometries, top-2",
    **{**PRESETS["llama-tiny"], **MIXTURE},
    part_options={"ffn": {"experts_per_geometry": 1, "top_k": 2, "expert_size": 64}},
)
register_preset(
    "mgm-small",
    "mixture of geometric experts for benchmarks: llama-10m at 4 layers, 2 experts per geometry, top-2",
    **{**PRESETS["llama-10m"], "num_hidden_layers": 4, **MIXTURE},
    part_options={"ffn": {"experts_per_geometry": 2, "top_k": 2, "expert_size": 384}},
)
