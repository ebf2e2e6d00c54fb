"""Named model presets, litgpt style: `GeoConfig.from_preset("llama-10m")`.

Each preset is a dict of `GeoConfig` keys; systems add theirs with `register_preset`. Parameter counts are
never written here: `geolm presets` and `geolm verify` count them from a built model.
"""

from __future__ import annotations

from typing import Any

from geolm.errors import ConfigError, unknown_names

PRESETS: dict[str, dict[str, Any]] = {}
DESCRIPTIONS: dict[str, str] = {}
RECIPE_OF: dict[str, str] = {}
DEFAULT_RECIPE = "baseline"


def register_preset(name: str, description: str, *, recipe: str = DEFAULT_RECIPE, **fields: Any) -> None:
    """Add a preset; a system module calls this at import time. `recipe` names how `geolm train` trains it by
    default (see `geolm.training.recipes`)."""
    if name in PRESETS:
        raise ValueError(f"preset {name!r} is already registered")
    PRESETS[name] = fields
    DESCRIPTIONS[name] = description
    RECIPE_OF[name] = recipe


def preset_recipe(name: str | None) -> str:
    """The recipe a preset names ("baseline" for no preset)."""
    return RECIPE_OF.get(name, DEFAULT_RECIPE) if name else DEFAULT_RECIPE


def preset_config(name: str, **overrides: Any):
    """Build the `GeoConfig` of preset `name`, with overrides applied on top and validated."""
    from geolm.config import GeoConfig

    if name not in PRESETS:
        raise ConfigError(unknown_names("preset", [name], sorted(PRESETS)))
    return GeoConfig(**{**PRESETS[name], **overrides})


register_preset(
    "llama-tiny",
    "baseline Llama for tests",
    vocab_size=512,
    hidden_size=64,
    intermediate_size=192,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
)
register_preset(
    "llama-10m",
    "baseline Llama, tied embeddings",
    vocab_size=8192,
    hidden_size=256,
    intermediate_size=768,
    num_hidden_layers=10,
    num_attention_heads=8,
    num_key_value_heads=4,
    max_position_embeddings=512,
)
register_preset(
    "llama-demo",
    "baseline Llama sized for `make demo` on 2 CPU cores",
    vocab_size=4096,
    hidden_size=192,
    intermediate_size=512,
    num_hidden_layers=6,
    num_attention_heads=6,
    num_key_value_heads=2,
    max_position_embeddings=256,
)
