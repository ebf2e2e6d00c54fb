"""Curvature attention on a GPU: the flex back-end against SDPA, bf16 training steps of a ~90M-parameter model
from 1024 to 8192 tokens (`make gpu-check`; not part of `make bench`, which runs where there is no GPU).

The model is curvature-large with 12 layers (768 wide, 12 heads, 91M parameters) and its SDPA twin; a step
holds 16,384 tokens at every length, under bf16 autocast (the curvature geometry stays in float32, as it
does everywhere). Each length compiles FlexAttention anew in the untimed warm-up steps.
"""

from __future__ import annotations

import statistics

import torch

from benchmarks.common import timed
from geolm import GeoConfig, GeoForCausalLM

LENGTHS = (1024, 2048, 4096, 8192)
STEP_TOKENS = 16384
WARMUP, REPEATS = 3, 5
MODELS = {"sdpa": "curvature-large-baseline", "flex": "curvature-large"}


def config(preset: str, length: int) -> GeoConfig:
    options = {"attention": {"kernel": "flex"}} if preset == "curvature-large" else {}
    return GeoConfig.from_preset(preset, num_hidden_layers=12, max_position_embeddings=length, part_options=options)


def measure(preset: str, length: int) -> dict[str, float]:
    """Median seconds of a training step and its peak allocated memory (GiB)."""
    torch.manual_seed(0)
    model = GeoForCausalLM(config(preset, length)).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    tokens = torch.randint(3, model.config.vocab_size, (STEP_TOKENS // length, length), device="cuda")

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(tokens, labels=tokens).loss
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP):
        step()
    torch.cuda.reset_peak_memory_stats()
    seconds = statistics.median(timed(step) for _ in range(REPEATS))
    return {
        "seconds": seconds,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def run() -> dict:
    if not torch.cuda.is_available():
        raise SystemExit("the GPU benchmark needs a CUDA device")
    result = {"device": torch.cuda.get_device_name(), "step_tokens": STEP_TOKENS, "lengths": {}}
    for length in LENGTHS:
        print(f"  length {length}", flush=True)
        result["lengths"][length] = {name: measure(preset, length) for name, preset in MODELS.items()}
        torch.cuda.empty_cache()
    return result


def markdown(result: dict) -> str:
    lines = [
        f"Device: {result['device']}. Training steps of {result['step_tokens']:,} tokens (forward, backward, fused "
        "AdamW) under bf16 autocast, median of 5 after 3 warm-up steps; curvature-large at 12 layers (flex "
        "back-end) against its SDPA twin. Goal: at most 1.5x SDPA's time, memory flat in the length.",
        "",
        "| length | SDPA: ms, GiB | flex: ms, GiB | time ratio | memory ratio |",
        "|---:|---:|---:|---:|---:|",
    ]
    for length, row in result["lengths"].items():
        sdpa, flex = row["sdpa"], row["flex"]
        lines.append(
            f"| {length} | {1e3 * sdpa['seconds']:.0f}, {sdpa['peak_gib']:.2f} | {1e3 * flex['seconds']:.0f}, "
            f"{flex['peak_gib']:.2f} | {flex['seconds'] / sdpa['seconds']:.2f}x | "
            f"{flex['peak_gib'] / sdpa['peak_gib']:.2f}x |"
        )
    return "\n".join(lines)
