"""Mixture-of-geometric-experts presets: the baseline Llama shapes with the FFN replaced by the mixture and a
working memory of slots in every layer.

`geolm presets` counts their parameters on the meta device; every preset trains with the five-stage recipe.
"""

from __future__ import annotations

from typing import Any

from geolm.config import GeoConfig
from geolm.errors import ConfigError
from geolm.experts.options import GATED_GEOMETRIES
from geolm.presets import PRESETS, register_preset

MIXTURE = {"ffn": "geometric_moe", "recipe": "mgm"}
# Where the curved experts of an upcycled model start: the sigmoid that keeps |κ| below 2 has no gradient at
# exactly 0, and at 1e-6 an optimiser still moves it while the experts compute SwiGLU to about 1e-6.
UPCYCLED_KAPPA = 1e-6


def at_identity(config: GeoConfig) -> GeoConfig:
    """`config` with each dense feed-forward upcycled into gated experts, one per stereographic geometry, two
    of them per token, and a working memory in every layer whose output starts at zero (`upcycle` fills the
    experts)."""
    if config.ffn != "swiglu":
        raise ConfigError(f"experts are upcycled from a dense SwiGLU feed-forward; this model's is {config.ffn!r}")
    ffn = {
        "geometries": list(GATED_GEOMETRIES),
        "experts_per_geometry": 1,
        "top_k": 2,
        "expert_size": config.intermediate_size,
        "kappa_init": UPCYCLED_KAPPA,
        "expert_form": "gated",
    }
    parts = {"ffn": "geometric_moe", "memory": "slots", "part_options": {**config.part_options, "ffn": ffn}}
    return GeoConfig.from_dict({**config.to_dict(), **parts})


def upcycle(model: Any, replaced: dict[str, Any]) -> None:
    """Start every new mixture of `model` from the dense feed-forward it replaced (`GeometricMoE.upcycle`),
    taking that feed-forward's weights out of `replaced`."""
    from geolm.experts.moe import GeometricMoE
    from geolm.nn.baseline import SwiGLU

    for name, module in model.named_modules():
        if isinstance(module, GeometricMoE) and any(p.is_meta for p in module.parameters()):  # a new mixture
            module.upcycle(**SwiGLU.take_weights(replaced, name, "a new mixture of experts"))


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

# The seed's own shapes. Its integration test runs hidden 128 with 12 heads: 128 is not a multiple of 12, so,
# as HF Llama does, each head is floor(128 / 12) = 10 wide and attention works in 120 dimensions. Its 16
# experts do not split evenly over the 7 geometries: 3 euclidean, 3 hyperbolic and 2 of each other kind.
# The seed sizes its memory (256 slots x 2048) for the final model only; the integration shape keeps the 256
# slots at the hidden width, and its depth (4 layers) is mgm-small's.
SIXTEEN = [3, 3, 2, 2, 2, 2, 2]
TWELVE_HEADS = {"num_attention_heads": 12, "num_key_value_heads": 12}
register_preset(
    "mgm-seed-integration",
    "the seed's integration-test shape: hidden 128, 12 heads (10 wide), 16 experts, top-4, 256 memory slots",
    **{**PRESETS["llama-10m"], "hidden_size": 128, "num_hidden_layers": 4, **MIXTURE, **TWELVE_HEADS},
    memory="slots",
    part_options={
        "ffn": {"experts_per_geometry": SIXTEEN, "top_k": 4, "expert_size": 512},
        "memory": {"slots": 256, "slot_size": 128, "heads": 4, "segment_length": 64},
    },
)
# Its final model: hidden 1600, 16 experts, top-8, 12 heads. 1600 / 12 is not whole and 133 is odd (rotary
# embeddings need an even width), so the heads are given an explicit width of 128; depth and vocabulary are
# not stated by the seed: 12 layers and 32,000 tokens here, experts 4 x 1600 wide ("feed-forward factor 4").
register_preset(
    "mgm-seed",
    "the seed's final shape: hidden 1600, 12 heads of 128, 12 layers, 16 experts of width 6400, top-8",
    vocab_size=32000,
    hidden_size=1600,
    intermediate_size=6400,
    num_hidden_layers=12,
    num_attention_heads=12,
    num_key_value_heads=12,
    head_dim=128,
    max_position_embeddings=2048,
    tie_word_embeddings=False,
    **MIXTURE,
    memory="slots",
    part_options={
        "ffn": {"experts_per_geometry": SIXTEEN, "top_k": 8, "expert_size": 6400},
        "memory": {"slots": 256, "slot_size": 2048, "heads": 16, "segment_length": 64},
    },
)
