"""Weight conversion between a baseline geolm model and HF Llama-family models.

With baseline parts the module names are identical, so conversion is a config translation plus a strict
state-dict copy: any missing or unexpected key is an error rather than a silently random weight. A config
field geolm cannot honour is refused by name, never dropped: `geolm convert` reads a local checkpoint of
`LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM` or `Qwen3ForCausalLM` and writes a geolm
checkpoint computing the same function (attention biases and Qwen3's q/k norms become options of the
attention part).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import LlamaConfig, LlamaForCausalLM, PretrainedConfig, PreTrainedModel

from geolm.config import SCALED_ROPE, GeoConfig
from geolm.errors import CheckpointError, ConfigError
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
    """The `LlamaConfig` computing the same function; only baseline parts (and Llama's own projection layout:
    biases on all four attention projections or none, no q/k norms) have a Llama equivalent."""
    geometric = {k: getattr(config, k) for k, base in _BASELINE_PARTS.items() if getattr(config, k) != base}
    if geometric:
        raise ConfigError(f"only baseline parts convert to Llama; this config has {geometric}")
    layout = config.resolved_options()["attention"]
    if layout.qk_norm or layout.qkv_bias != layout.output_bias:
        raise ConfigError(f"Llama has no q/k norms and biases on all attention projections or none; got {layout}")
    return LlamaConfig(
        **{k: getattr(config, k) for k in _SHARED_KEYS},
        rope_parameters={"rope_type": "default", **(config.scaled_rope or {}), "rope_theta": config.rope_theta},
        hidden_act="silu",
        attention_bias=layout.qkv_bias,
        mlp_bias=False,
    )


def from_llama_config(config: PretrainedConfig) -> GeoConfig:
    """The baseline `GeoConfig` of a Llama-family config whose every field geolm can honour; any other field,
    or a value geolm does not compute (another activation, RoPE whose frequencies change with the length, a
    sliding window shorter than the context, feed-forward biases), is a `ConfigError` naming it."""
    architecture = (config.architectures or [f"{type(config).__name__.removesuffix('Config')}ForCausalLM"])[0]
    if architecture not in ARCHITECTURES:
        known = ", ".join(ARCHITECTURES)
        raise ConfigError(f"{architecture}: an architecture geolm has no conversion for; it converts {known}")
    values = config.to_dict()
    generic = set(PretrainedConfig().to_dict())
    for key in sorted(set(values) - generic - set(_SHARED_KEYS)):
        honoured = REQUIREMENTS.get(key)
        if honoured is None:
            raise ConfigError(f"{architecture}: config field {key!r} has no geolm equivalent")
        problem = honoured(values[key], config)
        if problem:
            raise ConfigError(f"{architecture}: config field {key!r} is {values[key]!r}; {problem}")
    rope = dict(config.rope_parameters or {})
    rope_theta = rope.pop("rope_theta", 10000.0)
    layout = ARCHITECTURES[architecture](config)
    return GeoConfig(
        **{k: getattr(config, k, None) for k in _SHARED_KEYS},
        rope_theta=rope_theta,
        scaled_rope=rope if rope.get("rope_type", "default") != "default" else None,
        part_options={"attention": layout} if any(layout.values()) else None,
    )


def _must_be(expected: Any, why: str) -> Callable[[Any, PretrainedConfig], str | None]:
    return lambda value, _: None if value == expected else why


def _rope(value: Mapping[str, Any] | None, _: PretrainedConfig) -> str | None:
    rope_type = (value or {}).get("rope_type", "default")
    if rope_type in SCALED_ROPE or (rope_type == "default" and set(value or {}) <= {"rope_type", "rope_theta"}):
        return None
    scalings = ", ".join(SCALED_ROPE)
    return f"geolm computes plain RoPE and the {scalings} scalings, not RoPE whose frequencies change with the length"


def _window(value: int | None, config: PretrainedConfig) -> str | None:
    if not getattr(config, "use_sliding_window", True) or value is None or value >= config.max_position_embeddings:
        return None  # off (Qwen's switch), or no shorter than the context
    return f"geolm attends over the whole context ({config.max_position_embeddings} positions), not a sliding window"


def _full_attention(value: list[str] | None, _: PretrainedConfig) -> str | None:
    return None if set(value or ()) <= {"full_attention"} else "geolm's layers all attend over the whole context"


def _ignored(value: Any, _: PretrainedConfig) -> None:
    return None


# Fields beyond the shared ones, each with the check that geolm computes what the value asks for.
REQUIREMENTS: dict[str, Callable[[Any, PretrainedConfig], str | None]] = {
    "rope_parameters": _rope,
    "hidden_act": _must_be("silu", "geolm's feed-forward is SwiGLU (silu)"),
    "attention_bias": _ignored,  # mapped to the attention part's layout (ARCHITECTURES)
    "mlp_bias": _must_be(False, "geolm's feed-forward projections have no biases"),
    "pretraining_tp": _must_be(1, "tensor-parallel slicing of the projections is not computed"),
    "sliding_window": _window,
    "use_sliding_window": _must_be(False, "geolm attends over the whole context, not a sliding window"),
    "max_window_layers": _ignored,  # which layers slide when use_sliding_window is on, which is refused
    "layer_types": _full_attention,
    "use_cache": _ignored,  # a generation default, not part of the function
}


def _bias_everywhere(config: PretrainedConfig) -> dict[str, bool]:
    bias = bool(getattr(config, "attention_bias", False))
    return {"qkv_bias": bias, "output_bias": bias}


# Each architecture's attention projection layout (`geolm.nn.baseline.ProjectionOptions`).
ARCHITECTURES: dict[str, Callable[[PretrainedConfig], dict[str, bool]]] = {
    "LlamaForCausalLM": _bias_everywhere,
    "MistralForCausalLM": lambda config: {},
    "Qwen2ForCausalLM": lambda config: {"qkv_bias": True},  # always, whatever the config says
    "Qwen3ForCausalLM": lambda config: {**_bias_everywhere(config), "qk_norm": True},
}

_BASELINE_PARTS = {"attention": "gqa", "ffn": "swiglu", "modulation": "none", "memory": "none"}


def llama_to_geo(model: PreTrainedModel) -> GeoForCausalLM:
    """A `GeoForCausalLM` holding `model`'s weights (a Llama-family model `from_llama_config` takes): built on
    the meta device and given the very tensors, so converting needs no second copy of the weights in memory
    (the baseline parts hold no buffers). Train or change the result only once `model` is no longer used."""
    import torch

    with torch.device("meta"):
        geo = GeoForCausalLM(from_llama_config(model.config))
    geo.load_state_dict(model.state_dict(), strict=True, assign=True)
    geo.tie_weights()  # one parameter again where the head is tied to the embeddings
    return geo.to(model.dtype)


def geo_to_llama(model: GeoForCausalLM) -> LlamaForCausalLM:
    """A `LlamaForCausalLM` holding a copy of `model`'s weights (baseline parts only)."""
    llama = LlamaForCausalLM(to_llama_config(model.config))
    llama.load_state_dict(model.state_dict(), strict=True)
    return llama.to(model.dtype)


def with_parts(model: GeoForCausalLM, parts: Sequence[str]) -> GeoForCausalLM:
    """`model` with each family in `parts` added at identity (`Family.at_identity`): its weights handed over
    (no second copy), the new parts initialised as their classes do (`reset_parameters`), so the logits are
    unchanged until training moves the new parts."""
    import torch

    from geolm.systems import identity_adders, upcyclers

    adders = identity_adders()
    unknown = [name for name in parts if name not in adders]
    if unknown:
        raise ConfigError(f"--parts {', '.join(unknown)}: families that start at identity are {', '.join(adders)}")
    config = model.config
    for name in adders:
        if name in parts:
            config = adders[name](config)
    with torch.device("meta"):  # the model's weights are handed over, not copied; only the new parts are made
        grown = GeoForCausalLM(config)
    state = model.state_dict()
    unexpected = grown.load_state_dict(state, strict=False, assign=True).unexpected_keys
    replaced = {key: state[key] for key in unexpected}
    for name, upcycle in upcyclers().items():
        if name in parts:
            upcycle(grown, replaced)  # new parts that start from the weights they replace
    if replaced:
        raise ConfigError(f"--parts {', '.join(parts)} replaced weights of the model: {list(replaced)[:3]}")
    for module in grown.modules():  # the other new parts: made on the CPU and initialised as their classes do
        if any(t.is_meta for t in [*module.parameters(recurse=False), *module.buffers(recurse=False)]):
            module.to_empty(device="cpu", recurse=False)
            module.reset_parameters()
            grown._init_weights(module)  # transformers' initialisation of standard layers, as post_init gives
    grown.tie_weights()
    left = [name for name, t in [*grown.named_parameters(), *grown.named_buffers()] if t.is_meta]
    if left:
        raise ConfigError(f"--parts {', '.join(parts)} left weights unset: {left[:3]}")
    return grown.to(model.dtype)


def convert_checkpoint(source: str | Path, out: str | Path, parts: Sequence[str] = ()) -> Path:
    """Convert the HF checkpoint directory `source` (config.json, safetensors weights, sharded or not, and its
    tokenizer if it has one) into a geolm checkpoint at `out`, which must not exist or be empty, with the
    families `parts` added at identity (`with_parts`). The weights keep their dtype; `out` appears whole or
    not at all. Returns `out`."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source, out = Path(source), Path(out)
    if not (source / "config.json").is_file():
        raise CheckpointError(f"{source}: no config.json; give a Hugging Face checkpoint directory")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} already exists and is not an empty directory; nothing was written")
    from_llama_config(AutoConfig.from_pretrained(source))  # refused before any weight is read
    if not any(source.glob("*.safetensors")):
        raise CheckpointError(f"{source}: no *.safetensors weights (geolm reads no pickled weights)")
    hf = AutoModelForCausalLM.from_pretrained(source, dtype="auto", use_safetensors=True)
    geo = with_parts(llama_to_geo(hf), parts) if parts else llama_to_geo(hf)
    del hf
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        geo.save_pretrained(staging)
        if (source / "tokenizer.json").is_file() or (source / "tokenizer_config.json").is_file():
            AutoTokenizer.from_pretrained(source).save_pretrained(staging)
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
