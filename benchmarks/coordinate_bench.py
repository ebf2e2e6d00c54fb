"""The coordinate-modulated flagship against the plain Llama of the same width, same process."""

from __future__ import annotations

import torch

from benchmarks.common import throughput
from geolm import GeoConfig, GeoForCausalLM


def run() -> dict:
    """Training and cached-generation tokens/s of geometric-llama-10m and llama-10m, and the overheads."""
    torch.manual_seed(0)
    models = {name: GeoForCausalLM(GeoConfig.from_preset(name)) for name in ("geometric-llama-10m", "llama-10m")}
    result = throughput(models)
    train, gen = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    return {
        **result,
        "parameters": {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()},
        "train_overhead": train["llama-10m"] / train["geometric-llama-10m"],
        "generate_overhead": gen["llama-10m"] / gen["geometric-llama-10m"],
    }


def markdown(result: dict) -> str:
    """The section of docs/benchmarks.md for these numbers (overhead = time ratio, targets 1.3x and 1.2x)."""
    t, g, p = result["train_tokens_per_s"], result["generate_tokens_per_s"], result["parameters"]
    return "\n".join(
        [
            "| measure | geometric-llama-10m | llama-10m | overhead (time ratio) | target |",
            "|---|---:|---:|---:|---:|",
            f"| parameters | {p['geometric-llama-10m']:,} | {p['llama-10m']:,} | | |",
            f"| training tokens/s ({result['train_shape']}) | {t['geometric-llama-10m']:.0f} | "
            f"{t['llama-10m']:.0f} | {result['train_overhead']:.3f}x | <= 1.3x |",
            f"| generation tokens/s ({result['generate_shape']}) | {g['geometric-llama-10m']:.1f} | "
            f"{g['llama-10m']:.1f} | {result['generate_overhead']:.3f}x | <= 1.2x |",
        ]
    )
