"""The coordinate-modulated presets; docs/coordinate.md derives the 10M shape and its parameter split."""

from __future__ import annotations

from geolm.config import GeoConfig
from geolm.coordinate.options import CoordinateOptions
from geolm.nn.registry import modulated_roles
from geolm.presets import register_preset


def at_identity(config: GeoConfig) -> GeoConfig:
    """`config` with coordinate modulation added so the model computes what it did: every factor bank's output
    matrix starts at zero (as LoRA's B does), so each modulation term is zero until training moves it. It
    modulates the default projections that the model's parts have."""
    offered = {role for roles in modulated_roles(config).values() for role in roles}
    targets = [role for role in CoordinateOptions().targets if role in offered]
    part_options = {**config.part_options, "modulation": {"init_scale": 0.0, "targets": targets}}
    return GeoConfig.from_dict({**config.to_dict(), "modulation": "coordinate", "part_options": part_options})


register_preset(
    "geometric-llama-tiny",
    "coordinate-modulated Llama for tests (every projection modulated)",
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    modulation="coordinate",
    recipe="coordinate",
    part_options={
        "modulation": {
            "coord_dim": 32,
            "wavelet_pairs": 4,
            "rank": 2,
            "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            "predictor_hidden": 32,
        }
    },
)
register_preset(
    "geometric-llama-10m",
    "coordinate-modulated Llama, 10M counted (seed 000), tied embeddings",
    vocab_size=8192,
    hidden_size=256,
    intermediate_size=512,
    num_hidden_layers=10,
    num_attention_heads=8,
    num_key_value_heads=4,
    max_position_embeddings=512,
    modulation="coordinate",
    recipe="coordinate",
    part_options={
        "modulation": {
            "coord_dim": 1024,
            "wavelet_pairs": 18,
            "rank": 3,
            "targets": ["q_proj", "v_proj", "gate_proj"],
            "share_across_layers": False,
            "context_decay": 0.95,
            "predictor_hidden": 200,
        }
    },
)
register_preset(
    "geometric-llama-demo",
    "coordinate-modulated llama-demo sized for `make demo` on 2 CPU cores",
    vocab_size=4096,
    hidden_size=192,
    intermediate_size=512,
    num_hidden_layers=6,
    num_attention_heads=6,
    num_key_value_heads=2,
    max_position_embeddings=256,
    modulation="coordinate",
    recipe="coordinate",
    part_options={
        "modulation": {
            "coord_dim": 256,
            "wavelet_pairs": 8,
            "rank": 2,
            "targets": ["q_proj", "v_proj", "gate_proj"],
            "predictor_hidden": 64,
        }
    },
)
