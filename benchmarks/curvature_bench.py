"""Curvature attention against SDPA attention at the same shapes (curvature-small and its baseline twin)."""

from __future__ import annotations

import torch

from benchmarks.common import throughput
from geolm import GeoConfig, GeoForCausalLM

PAIR = ("curvature-small", "curvature-small-baseline")


def run() -> dict:
    """Eager training and cached-generation tokens/s of both presets, and the curvature overhead."""
    torch.manual_seed(0)
    models = {name: GeoForCausalLM(GeoConfig.from_preset(name)) for name in PAIR}
    result = throughput(models)
    train, gen = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    return {
        **result,
        "train_overhead": train[PAIR[1]] / train[PAIR[0]],
        "generate_overhead": gen[PAIR[1]] / gen[PAIR[0]],
    }


def markdown(result: dict) -> str:
    """The section of docs/benchmarks.md (overhead = time ratio; target at most 1.3x eager)."""
    t, g = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    return "\n".join(
        [
            f"| measure (eager) | {PAIR[0]} | {PAIR[1]} (SDPA) | overhead (time ratio) | target |",
            "|---|---:|---:|---:|---:|",
            f"| training tokens/s ({result['train_shape']}) | {t[PAIR[0]]:.0f} | {t[PAIR[1]]:.0f} | "
            f"{result['train_overhead']:.3f}x | <= 1.3x |",
            f"| generation tokens/s ({result['generate_shape']}) | {g[PAIR[0]]:.1f} | {g[PAIR[1]]:.1f} | "
            f"{result['generate_overhead']:.3f}x | <= 1.3x |",
        ]
    )
