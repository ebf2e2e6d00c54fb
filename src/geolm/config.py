"""`GeoConfig`: the Llama-style shape of a geolm model plus the choice of each pluggable part.

It is a transformers `PretrainedConfig`, so it round-trips through `config.json` and the Auto classes.
Unlike a plain `PretrainedConfig` it refuses keys it does not know and values out of range, naming what
is allowed, because a misspelt key silently ignored is a wasted training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import GenerationConfig, PretrainedConfig

from geolm.errors import ConfigError, unknown_names

# Keys that transformers itself passes to or stores in a config (loading, saving, generate()); accepted.
_HF_KEYS = (
    frozenset(PretrainedConfig().to_dict())
    | frozenset(GenerationConfig._get_default_generation_params())
    | {
        "name_or_path",
        "output_attentions",
        "attn_implementation",
        "experts_implementation",
        "per_layer_config",
        "torch_dtype",
        "num_labels",
        "sep_token_id",
        "decoder_start_token_id",
        "tokenizer_class",
        "task_specific_params",
        "finetuning_task",
        "auto_map",
        "_commit_hash",
        "_attn_implementation_autoset",
    }
)

# Part names that need nothing beyond what is built in; each system adds its own when it is imported.
PART_KINDS = ("attention", "ffn", "modulation", "memory")
# RoPE scalings whose frequencies do not depend on the length (transformers' functions compute them).
SCALED_ROPE = ("linear", "llama3", "yarn")


class GeoConfig(PretrainedConfig):
    """Shape and parts of a geolm model.

    `attention`, `ffn`, `modulation` and `memory` name entries of the part registries in `geolm.nn.registry`;
    `part_options` holds each part's own settings as `{kind: {key: value}}`, validated by the part itself.
    `embedding_size` below `hidden_size` factorises the embeddings (ALBERT's name): tokens are embedded in
    that width and projected up, and the output head projects down before its (tied) vocabulary matrix.
    `scaled_rope` (None: plain RoPE of `rope_theta`) is a converted checkpoint's RoPE scaling, its
    `rope_parameters` without the theta: `{"rope_type": "llama3", "factor": 8.0, ...}`.
    """

    model_type = "geolm"
    keys_to_ignore_at_inference = ["cache", "past_key_values"]  # noqa: RUF012 (transformers attribute; new and old name)

    vocab_size: int = 8192
    hidden_size: int = 256
    embedding_size: int | None = None
    intermediate_size: int = 768
    num_hidden_layers: int = 8
    num_attention_heads: int = 8
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    max_position_embeddings: int = 512
    rope_theta: float = 10000.0
    scaled_rope: dict | None = None
    rms_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    tie_word_embeddings: bool = True
    attention_dropout: float = 0.0
    attention: str = "gqa"
    ffn: str = "swiglu"
    modulation: str = "none"
    memory: str = "none"
    part_options: dict | None = None
    classifier_pooling: str = "mean"
    use_cache: bool = True
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - _HF_KEYS)
        if unknown:
            raise ConfigError(unknown_names("config key", unknown, self.field_names()))
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None and isinstance(self.hidden_size, int) and isinstance(self.num_attention_heads, int):
            self.head_dim = self.hidden_size // max(self.num_attention_heads, 1)
        self.part_options = {k: dict(v) for k, v in (self.part_options or {}).items()}
        self.rope_theta = float(self.rope_theta)
        self.rms_norm_eps = float(self.rms_norm_eps)
        super().__post_init__(**kwargs)
        self.validate_fields()

    @classmethod
    def field_names(cls) -> list[str]:
        """The geolm-specific keys, in declaration order (what an error message lists as allowed)."""
        return [name for name in cls.__annotations__ if not name.startswith("_")]

    def validate_fields(self) -> None:
        """Check ranges and part names; raise one `ConfigError` naming the key and what is allowed."""
        positive = (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "max_position_embeddings",
        )
        for key in positive:
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"config key {key!r} must be a positive integer, got {value!r}")
        if self.embedding_size is not None and not (
            isinstance(self.embedding_size, int)
            and not isinstance(self.embedding_size, bool)
            and self.embedding_size > 0
        ):
            raise ConfigError(
                f"config key 'embedding_size' must be a positive integer or null, got {self.embedding_size!r}"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.head_dim % 2:
            raise ConfigError(f"head_dim must be even for rotary embeddings, got {self.head_dim}")
        if self.rope_theta <= 0 or self.rms_norm_eps <= 0:
            raise ConfigError("rope_theta and rms_norm_eps must be positive")
        rope_type = (self.scaled_rope or {}).get("rope_type") if isinstance(self.scaled_rope, dict) else "?"
        if self.scaled_rope is not None and rope_type not in SCALED_ROPE:
            raise ConfigError(f"scaled_rope['rope_type'] must be one of {', '.join(SCALED_ROPE)}, got {rope_type!r}")
        if not 0.0 <= self.attention_dropout < 1.0:
            raise ConfigError(f"attention_dropout must be in [0, 1), got {self.attention_dropout}")
        if self.classifier_pooling not in ("mean", "last"):
            raise ConfigError(f"classifier_pooling must be one of 'mean', 'last', got {self.classifier_pooling!r}")
        bad = sorted(set(self.part_options) - set(PART_KINDS))
        if bad:
            raise ConfigError(f"part_options: {unknown_names('part kind', bad, PART_KINDS)}")
        self.resolved_options()

    @property
    def factorised_embeddings(self) -> bool:
        """True when tokens are embedded in a narrower width than the hidden size (`embedding_size`)."""
        return self.embedding_size is not None and self.embedding_size != self.hidden_size

    def resolved_options(self) -> dict[str, Any]:
        """Each selected part's checked options (kinds whose part takes none are left out).

        Options given for a part that takes none, or for a kind whose selected part is another, are an error:
        `part_options={"attention": {"tau": 2}}` with `attention="gqa"` would otherwise do nothing.
        """
        from geolm.nn.options import options_class
        from geolm.nn.registry import REGISTRIES

        resolved = {}
        for kind in PART_KINDS:
            name = getattr(self, kind)
            declared = options_class(REGISTRIES[kind].get(name))  # get() raises ConfigError naming the known parts
            if declared is not None:
                resolved[kind] = declared.from_config(self)
            elif self.part_options.get(kind):
                raise ConfigError(
                    f"part_options[{kind!r}] is given but the {kind} part {name!r} takes no options; "
                    f"drop it or choose a {kind} part that does"
                )
        for options in resolved.values():
            options.check_in(self)
        return resolved

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> GeoConfig:
        """A named preset (see `geolm presets`), with keyword overrides applied and validated."""
        from geolm.presets import preset_config

        return preset_config(name, **overrides)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> GeoConfig:
        """Read a JSON config file (a `config.json` or a user file with a `preset` key plus overrides)."""
        from geolm.files import read_json_object

        data = read_json_object(path, "config")
        data.update(overrides)
        data.pop("model_type", None)
        preset = data.pop("preset", None)
        try:
            return cls.from_preset(preset, **data) if preset else cls(**data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None


def merge_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`overrides` with its part options merged per kind into `base`'s (a preset's or a config file's fields):
    `GeoConfig.from_preset(name, part_options=...)` replaces the whole dict, so callers that add options to
    a preset's merge them here first."""
    merged = {key: value for key, value in overrides.items() if key != "part_options"}
    if overrides.get("part_options"):
        options = {kind: dict(settings) for kind, settings in (base.get("part_options") or {}).items()}
        for kind, settings in overrides["part_options"].items():
            options[kind] = {**options.get(kind, {}), **settings}
        merged["part_options"] = options
    return merged
