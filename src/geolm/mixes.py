"""Mixed presets: the systems' parts in one model, which the one-model design allows and none of the seeds' own
projects can build.

- `geo-mix-moe-*`: curvature attention + coordinate modulation of the attention projections + the mixture of
  geometric experts + working-memory slots;
- `geo-mix-integrator-*`: curvature attention + coordinate modulation of the attention projections +
  integrator layers.

They train with the baseline recipe (one phase of language modelling, plus whatever losses the parts hand
back: the router's balance and z losses, the integrator's ponder cost). The families' own curricula do not
compose: the five-stage schedule freezes groups of the mixture, the integrator's cycles change its halting,
and the coordinate curriculum trains on its own data. `geolm train --recipe mgm` (or any other) still applies.
"""

from __future__ import annotations

from typing import Any

from geolm.presets import PRESETS, register_preset

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]


def modulation(coord_dim: int, wavelet_pairs: int, rank: int, targets: list[str], predictor: int) -> dict[str, Any]:
    return {
        "coord_dim": coord_dim,
        "wavelet_pairs": wavelet_pairs,
        "rank": rank,
        "targets": targets,
        "predictor_hidden": predictor,
    }


SIZES = {  # size: (shape, modulation options, its experts' and memory's, its integrator's)
    "tiny": (
        PRESETS["llama-tiny"],
        modulation(32, 4, 2, ATTENTION, 32),
        (
            {"experts_per_geometry": 1, "top_k": 2, "expert_size": 64},
            {"slots": 4, "slot_size": 32, "heads": 2, "segment_length": 8},
        ),
        {"controller_size": 32, "max_iterations": 4},
    ),
    "small": (
        {**PRESETS["llama-10m"], "num_hidden_layers": 4},
        modulation(256, 8, 2, ["q_proj", "v_proj"], 64),
        (
            {"experts_per_geometry": 2, "top_k": 2, "expert_size": 384},
            {"slots": 16, "slot_size": 128, "heads": 4, "segment_length": 64},
        ),
        {"state_size": 352, "controller_size": 176, "max_iterations": 10},
    ),
}

for size, (shape, coordinate, (experts, memory), integrator) in SIZES.items():
    geometric = {**shape, "attention": "curvature", "modulation": "coordinate"}
    register_preset(
        f"geo-mix-moe-{size}",
        f"curvature attention, coordinate modulation, geometric experts and memory slots at {size} size",
        **geometric,
        ffn="geometric_moe",
        memory="slots",
        part_options={"modulation": coordinate, "ffn": experts, "memory": memory},
    )
    register_preset(
        f"geo-mix-integrator-{size}",
        f"curvature attention, coordinate modulation and integrator layers at {size} size",
        **geometric,
        ffn="integrator",
        part_options={"modulation": coordinate, "ffn": integrator},
    )
