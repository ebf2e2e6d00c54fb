"""mgm-small against dense Llamas of the same shape with equal active and with equal total parameters."""

from __future__ import annotations

import torch

from benchmarks.common import throughput
from geolm import GeoConfig, GeoForCausalLM
from geolm.params import parameter_table

MIXTURE = "mgm-small"


def dense_twin(config: GeoConfig, ffn_parameters: float) -> GeoForCausalLM:
    """The baseline of `config`'s shape whose SwiGLU (3 matrices) holds `ffn_parameters` per layer."""
    width = 64 * max(1, round(ffn_parameters / (3 * config.hidden_size) / 64))
    return GeoForCausalLM(
        GeoConfig.from_preset("llama-10m", num_hidden_layers=config.num_hidden_layers, intermediate_size=width)
    )


def run() -> dict:
    """Training and cached-generation tokens/s of the mixture and its two dense twins, and the time ratios."""
    torch.manual_seed(0)
    mixture = GeoForCausalLM(GeoConfig.from_preset(MIXTURE))
    table = parameter_table(mixture).set_index("component")
    layers = mixture.config.num_hidden_layers
    per_layer = {
        key: (table.loc["experts", key] + table.loc["router", key]) / layers for key in ("active", "parameters")
    }
    models = {
        MIXTURE: mixture,
        "dense, equal active": dense_twin(mixture.config, per_layer["active"]),
        "dense, equal total": dense_twin(mixture.config, per_layer["parameters"]),
    }
    result = throughput(models, repeats=5)
    result["parameters"] = {}
    for name, model in models.items():
        counts = parameter_table(model)
        result["parameters"][name] = {"total": int(counts["parameters"].sum()), "active": int(counts["active"].sum())}
    train, gen = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    result["train_ratio"] = {name: train[name] / train[MIXTURE] for name in models}
    result["generate_ratio"] = {name: gen[name] / gen[MIXTURE] for name in models}
    return result


def markdown(result: dict) -> str:
    """Time ratio = the dense model's tokens/s over the mixture's (how much longer the mixture takes)."""
    lines = [
        f"Training: {result['train_shape']}; generation: {result['generate_shape']}. The time ratio is how "
        f"many times longer {MIXTURE} takes than the model in that row (target against equal active: <= 1.3x).",
        "",
        "| model | total parameters | active per token | training tokens/s | time ratio "
        "| generation tokens/s | time ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, counts in result["parameters"].items():
        lines.append(
            f"| {name} | {counts['total']:,} | {counts['active']:,} | {result['train_tokens_per_s'][name]:.0f} | "
            f"{result['train_ratio'][name]:.2f}x | {result['generate_tokens_per_s'][name]:.1f} | "
            f"{result['generate_ratio'][name]:.2f}x |"
        )
    return "\n".join(lines)
