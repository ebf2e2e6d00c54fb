"""Settings of curvature attention, read from `config.part_options["attention"]` and checked."""

from __future__ import annotations

from dataclasses import dataclass

from geolm.nn.baseline import ProjectionOptions
from geolm.nn.options import boolean, one_of, option, positive

INITS = ("zero", "random", "linspace")
KERNELS = ("auto", "flex", "blockwise", "reference")
SCORES = ("distance", "squared")


@dataclass(frozen=True)
class CurvatureOptions(ProjectionOptions):
    """How the per-head curvature κ = 2·tanh(raw) and temperature τ start, and whether τ learns.

    `init`: "zero" starts every head Euclidean (κ = 0), so any geometry a head ends with was learnt;
    "random" draws κ uniformly in [-1, 1]; "linspace" spreads κ over [-1, 1] across heads, the published
    design's start (half the heads hyperbolic and half spherical before any training), kept for comparison.
    `tau` is the starting temperature of scores -d/τ; `learn_tau` makes it a trained per-head parameter.
    `kernel` picks how scores are computed (docs/curvature.md): "flex" (FlexAttention, fused; its backward
    needs CUDA), "blockwise" (blocks of queries, memory linear in the length, any device), "reference" (every
    distance at once, the test oracle) or "auto": flex to train on CUDA, blockwise elsewhere (inference
    too: FlexAttention compiles anew for every new length), reference for a single query (a decoding step)
    and under attention dropout, which only the reference applies. `score` "distance" scores a key by −d/τ;
    "squared" by −√D·(d² − d₀²)/(8τ), with d₀ the key's distance from the origin, which at κ = 0 and τ = 1
    is exactly scaled dot-product attention (docs/curvature.md derives it): the form a pretrained model's
    attention becomes at identity; it runs on the reference kernel. The projections' layout (biases, q/k
    norms) is grouped-query attention's (`ProjectionOptions`).
    """

    kind = "attention"

    init: str = option("zero", one_of(*INITS), f"one of {', '.join(INITS)}")
    tau: float = option(1.0, positive, "a positive number")
    learn_tau: bool = option(True, boolean, "true or false")
    kernel: str = option("auto", one_of(*KERNELS), f"one of {', '.join(KERNELS)}", phase=True)
    score: str = option("distance", one_of(*SCORES), f"one of {', '.join(SCORES)}")
