"""Model FLOP utilisation of every family beside llama's: the honest measure for families that do more work
per parameter by design (an expert's geometry, an integrator's iterations).

FLOPs are counted, not estimated: one training forward of each model runs under torch's `FlopCounterMode`,
which adds up every matrix product it executes, and a step is three forwards' worth (the backward does twice
the forward's products, as in the 6N rule). So the count holds every integrator iteration that ran (all of
them in training), the experts each token was routed to (the grouped matmul's rows, or, where experts run
padded, the padding too) and the attention scores; the elementwise work of the geometry is not counted, as
no MFU counts it. Kernels and operators that the counter does not know are given their products here:
SDPA's CPU kernel, the experts' grouped matmul and curvature attention's blockwise operator (the product of
augmented rows q′k′ and the probabilities' product with the values). MFU is those FLOPs per second of
training over a measured float32 matmul peak.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula, sdpa_flop_count

from benchmarks.common import interleaved, matmul_peak_flops
from benchmarks.scaling_bench import BASE_LENGTH, BASE_WIDTH, REFERENCE, REPEATS, built, point
from geolm.curvature.blockwise import geodesic_blocks  # noqa: F401 (registers the operator counted below)
from geolm.experiments.measure import TrainingStep
from geolm.experts.experts import grouped_linear  # noqa: F401 (likewise)

GOAL = 0.7  # every family's MFU at least this share of llama's


@register_flop_formula(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu)
def _sdpa_cpu_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


@register_flop_formula(torch.ops.geolm.grouped_linear)
def _grouped_linear_flops(u_shape, weight_shape, *args, out_shape=None, **kwargs) -> int:
    """Every row (n, in) through its own expert's weight (E, out, in), once."""
    rows, width = u_shape
    return 2 * rows * width * weight_shape[1]


@register_flop_formula(torch.ops.geolm.geodesic_blocks)
def _geodesic_flops(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    """q′k′ᵀ and P·v for every query head: (B, H_kv, G, T, E) rows against (B, H_kv, G, S, E) and (…, S, D)."""
    bsz, kv_heads, groups, queries, width = q_shape
    keys, value_width = k_shape[-2], v_shape[-1]
    return 2 * bsz * kv_heads * groups * queries * keys * (width + value_width)


def step_flops(model, tokens: torch.Tensor) -> int:
    """Matrix-product FLOPs of one training step: three times one training forward's, counted."""
    model.train()
    counter = FlopCounterMode(display=False)
    with counter:
        model(tokens, labels=tokens)
    return 3 * counter.get_total_flops()


def run() -> dict:
    configs, tokens = point(BASE_WIDTH, BASE_LENGTH)
    models = {name: built(config) for name, config in configs.items() if name != REFERENCE}
    seconds = interleaved({name: TrainingStep(model, tokens) for name, model in models.items()}, repeats=REPEATS)
    peak = matmul_peak_flops()
    families, step_tokens = {}, tokens.numel()
    for name, model in models.items():
        flops = step_flops(model, tokens)
        families[name] = {
            "flops_per_token": flops / step_tokens,
            "tokens_per_s": step_tokens / seconds[name],
            "mfu": flops / seconds[name] / peak,
        }
    llama = families["llama"]["mfu"]
    for row in families.values():
        row["mfu_of_llama"] = row["mfu"] / llama
    shape = {"width": BASE_WIDTH, "length": BASE_LENGTH, "step_tokens": step_tokens, "repeats": REPEATS}
    return {"families": families, "matmul_peak_gflops": peak / 1e9, **shape}


def markdown(result: dict) -> str:
    """The section of docs/benchmarks.md for these numbers."""
    rows = [
        f"| {name} | {row['flops_per_token'] / 1e6:.2f} | {row['tokens_per_s']:,.0f} | {row['mfu']:.1%} | "
        f"{row['mfu_of_llama']:.2f} | {'met' if row['mfu_of_llama'] >= GOAL else 'not met'} |"
        for name, row in result["families"].items()
    ]
    missed = [name for name, row in result["families"].items() if row["mfu_of_llama"] < GOAL]
    return "\n".join(
        [
            f"The leaderboard's families at width {result['width']}, {result['length']} tokens per row, steps of "
            f"{result['step_tokens']} tokens (median of {result['repeats']} alternating repeats), against a "
            f"measured {result['matmul_peak_gflops']:.1f} GFLOP/s float32 matmul peak. FLOPs per token are "
            "counted by torch's FlopCounterMode over one training forward, times 3 (benchmarks/mfu_bench.py says "
            f"what is counted). Goal: every family at least {GOAL:.0%} of llama's MFU.",
            "",
            "| family | training MFLOPs per token | training tokens/s | MFU | of llama's | goal |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            f"Below the goal: {', '.join(missed)}." if missed else "Every family meets the goal.",
        ]
    )
