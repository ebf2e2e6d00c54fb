"""Weight conversion between a baseline geolm model and HF `LlamaForCausalLM`, both ways.

With baseline parts the module names are identical, so conversion is a config translation plus a strict
state-dict copy: any missing or unexpected key is an error rather than a silently random weight.
"""

from __future__ import annotations

from transformers import LlamaConfig, LlamaForCausalLM

from geolm.config import GeoConfig
from geolm.errors import ConfigError
from geolm.modeling import GeoForCausalLM

_SHARED_KEYS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "max_position_embeddings",
    "rms_norm_eps",
    "initializer_range",
    "tie_word_embeddings",
    "attention_dropout",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
)


def to_llama_config(config: GeoConfig) -> LlamaConfig:
    """The `LlamaConfig` computing the same function; only baseline parts have a Llama equivalent."""
    geometric = {k: getattr(config, k) for k, base in _BASELINE_PARTS.items() if getattr(config, k) != base}
    if geometric:
        raise ConfigError(f"only baseline parts convert to Llama; this config has {geometric}")
    return LlamaConfig(
        **{k: getattr(config, k) for k in _SHARED_KEYS},
        rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
    )


def from_llama_config(config: LlamaConfig) -> GeoConfig:
    """The baseline `GeoConfig` of a plain (default-RoPE, bias-free, SiLU) Llama config."""
    rope = dict(config.rope_parameters or {})
    if rope.get("rope_type", "default") != "default":
        raise ConfigError(f"only default RoPE converts; got rope_type {rope.get('rope_type')!r}")
    if config.attention_bias or config.mlp_bias or config.hidden_act != "silu":
        raise ConfigError("only bias-free SiLU Llama configs convert to geolm")
    return GeoConfig(**{k: getattr(config, k) for k in _SHARED_KEYS}, rope_theta=rope.get("rope_theta", 10000.0))


_BASELINE_PARTS = {"attention": "gqa", "ffn": "swiglu", "modulation": "none", "memory": "none"}


def llama_to_geo(model: LlamaForCausalLM) -> GeoForCausalLM:
    """A `GeoForCausalLM` holding a copy of `model`'s weights."""
    geo = GeoForCausalLM(from_llama_config(model.config))
    geo.load_state_dict(model.state_dict(), strict=True)
    return geo.to(model.dtype)


def geo_to_llama(model: GeoForCausalLM) -> LlamaForCausalLM:
    """A `LlamaForCausalLM` holding a copy of `model`'s weights (baseline parts only)."""
    llama = LlamaForCausalLM(to_llama_config(model.config))
    llama.load_state_dict(model.state_dict(), strict=True)
    return llama.to(model.dtype)
