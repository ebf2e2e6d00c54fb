"""Integrator presets: the baseline Llama shapes with the FFN replaced by the integrator layer, trained with
the equilibrium/exploration cycles (recipe "inl").

`geolm presets` counts their parameters on the meta device.
"""

from __future__ import annotations

from typing import Any

from geolm.config import GeoConfig
from geolm.errors import ConfigError
from geolm.presets import PRESETS, register_preset

INTEGRATOR = {"ffn": "integrator", "recipe": "inl"}


def at_identity(config: GeoConfig) -> GeoConfig:
    """`config` with an integrator in every layer's feed-forward, beside the dense one it keeps (`dense_ffn`):
    the integrator's output joins through a gain that starts at zero, so the model computes what it did.
    Exact identity needs the dense path: an integrator alone computes out_proj of a state that bounded
    steps move from in_proj(h), which no setting of its gains makes SwiGLU."""
    if config.ffn != "swiglu":
        raise ConfigError(f"integrator layers join a dense SwiGLU feed-forward; this model's is {config.ffn!r}")
    part_options = {**config.part_options, "ffn": {"dense_ffn": True}}
    return GeoConfig.from_dict({**config.to_dict(), "ffn": "integrator", "part_options": part_options})


def upcycle(model: Any, replaced: dict[str, Any]) -> None:
    """Hand every new integrator layer's dense path the feed-forward weights it keeps, from `replaced`."""
    from geolm.integrator.layer import IntegratorFFN
    from geolm.nn.baseline import SwiGLU

    for name, module in model.named_modules():
        if isinstance(module, IntegratorFFN) and module.options.dense_ffn and module.dense.up_proj.weight.is_meta:
            taken = SwiGLU.take_weights(replaced, name, "a new integrator layer")
            module.dense.load_state_dict({f"{role}.weight": weight for role, weight in taken.items()}, assign=True)


register_preset(
    "inl-tiny",
    "integrator layers for tests: llama-tiny, state 64, controller 32, at most 4 iterations",
    **{**PRESETS["llama-tiny"], **INTEGRATOR},
    part_options={"ffn": {"controller_size": 32, "max_iterations": 4}},
)
register_preset(
    "inl-small",
    "integrator layers for benchmarks: llama-10m with the FFN an integrator of state 352, at most 10 iterations",
    **{**PRESETS["llama-10m"], **INTEGRATOR},
    part_options={"ffn": {"state_size": 352, "controller_size": 176, "max_iterations": 10}},
)

# The seed's size names. It gives only their "standard" parameter counts (vocabulary 50,000), not their
# shapes; these shapes are geolm's: heads 64 wide up to medium and 128 wide from large on, the state as wide as
# the model, the controller half as wide, tied embeddings, and depths chosen so that the count comes near the
# seed's figure. `geolm.integrator.sizes` counts them, with and without the optimisations.
SEED_SIZES = {
    "small": (512, 7, 8),
    "medium": (768, 13, 12),
    "large": (1024, 25, 8),
    "xlarge": (1536, 32, 12),
    "3b": (2560, 46, 20),
    "7b": (4096, 43, 32),
    "13b": (5120, 51, 40),
    "30b": (6656, 71, 52),
    "70b": (8192, 109, 64),
    "100b": (10240, 100, 80),
}
SEED_CLAIMED = {  # the seed's table: standard parameters, "optimized" parameters, GPU memory
    "small": (43e6, 30e6, "2-3 GB"),
    "medium": (112e6, 80e6, "5-6 GB"),
    "large": (303e6, 220e6, "12-15 GB"),
    "xlarge": (808e6, 590e6, "25-30 GB"),
    "3b": (3e9, 2.2e9, "12-15 GB"),
    "7b": (7e9, 5.2e9, "25-30 GB"),
    "13b": (13e9, 9.8e9, "45-50 GB"),
    "30b": (30e9, 22e9, "90-100 GB"),
    "70b": (70e9, 52e9, "200-220 GB"),
    "100b": (100e9, 75e9, "300-320 GB"),
}
for size, (hidden, layers, heads) in SEED_SIZES.items():
    register_preset(
        f"inl-seed-{size}",
        f"the seed's {size} integrator model in geolm's shape: hidden {hidden}, {layers} layers, {heads} heads",
        vocab_size=50000,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=2048,
        **INTEGRATOR,
        part_options={"ffn": {"max_iterations": 10}},
    )
