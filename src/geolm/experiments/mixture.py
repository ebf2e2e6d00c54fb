"""Does a mixture of geometries beat a Euclidean-only mixture and a dense model? The seed-002 claim, measured.

Three arms on equal terms: the same shape, tokenizer, data, tokens, optimizer and schedule, several seeds.
- `mixed`: one expert of each geometry, top-2;
- `euclidean`: as many experts, all Euclidean, top-2 (the same expert widths, so nearly the same counts);
- `dense`: the baseline SwiGLU whose parameters equal the mixture's active expert parameters per token.
The data is the seed's three subsets from the embedded corpus (chain-of-thought, reasoning and dialogue), the
score the held-out loss on the same three subsets' held-out items (facts training never saw). For the mixed
arm the routing of held-out tokens is tabulated by geometry and token kind (`geolm.experts.analysis`), which
says whether routing specialised or collapsed. Memory slots are off in every arm: the claim is about geometry.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from geolm.experiments.measure import spread
from geolm.experiments.reasoning_data import QUICK_DATA, RunOptions, heldout_loss, reasoning_data, shape_of
from geolm.files import write_text_atomic

ARMS = ("mixed", "euclidean", "dense")


@dataclass
class MixtureOptions(RunOptions):
    """Everything a run depends on (saved with the results)."""

    steps: int = 400
    expert_size: int = 128
    top_k: int = 2

    @classmethod
    def quick(cls, **overrides: Any) -> MixtureOptions:
        """A smoke-test size: one seed, a few steps, a small model."""
        small = {"seeds": [0], "steps": 8, "hidden_size": 32, "layers": 1, "heads": 2, "expert_size": 16}
        return cls(**{**small, **QUICK_DATA, **overrides})


def arm_config(arm: str, options: MixtureOptions, tokenizer) -> Any:
    """The model config of one arm."""
    from geolm import GeoConfig
    from geolm.experts.options import GEOMETRIES

    shape = shape_of(tokenizer, options.hidden_size, options.layers, options.heads, options.block_size)
    if arm == "dense":  # SwiGLU has three matrices, an expert two: equal active expert weights per token
        width = round(2 * options.top_k * options.expert_size / 3)
        return GeoConfig(**shape, intermediate_size=width)
    geometries = list(GEOMETRIES) if arm == "mixed" else ["euclidean"]
    per_geometry = 1 if arm == "mixed" else len(GEOMETRIES)
    ffn = {"geometries": geometries, "experts_per_geometry": per_geometry, "top_k": options.top_k}
    return GeoConfig(**shape, ffn="geometric_moe", part_options={"ffn": {**ffn, "expert_size": options.expert_size}})


def run_mixture(options: MixtureOptions, out: Path, progress=print) -> dict:
    """Train every arm with every seed; write OUT/results.json and OUT/report.md; return the results."""
    from geolm import GeoForCausalLM
    from geolm.data.lexicon import load_lexicon
    from geolm.experts.analysis import routing_by_kind, specialisation, word_kinds
    from geolm.params import parameter_table
    from geolm.training import TrainArgs, train

    start = time.time()
    data = reasoning_data(options)
    tokenizer, train_blocks, heldout = data.tokenizer, data.train, data.heldout
    words = word_kinds(load_lexicon())
    runs: list[dict] = []
    for arm, seed in itertools.product(ARMS, options.seeds):
        progress(f"{arm}, seed {seed}")
        torch.manual_seed(seed)
        model = GeoForCausalLM(arm_config(arm, options, tokenizer))
        counts = parameter_table(model)
        args = TrainArgs.short_run(options.steps, options.batch_size, options.lr, seed)
        began = time.time()
        result = train(model, train_blocks, None, args, out / "runs" / f"{arm}-{seed}", tokenizer=tokenizer)
        record = {
            "arm": arm,
            "seed": seed,
            "heldout_loss": heldout_loss(model, heldout, options.batch_size),
            "final_train_loss": result.losses[max(result.losses)],
            "train_s": round(time.time() - began, 1),
            "parameters": int(counts["parameters"].sum()),
            "active": int(counts["active"].sum()),
        }
        if arm != "dense":  # by expert, so that the two mixtures compare; by geometry for the mixed one
            batches = heldout.input_ids.split(options.batch_size)
            record["routing"] = specialisation(routing_by_kind(model, tokenizer, batches, words, per_expert=True))
            if arm == "mixed":
                record["geometry_routing"] = specialisation(routing_by_kind(model, tokenizer, batches, words))
        runs.append(record)
    results = {"options": asdict(options), "runs": runs, "summary": summarise(runs)}
    results["wall_s"] = round(time.time() - start)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "report.md", report(results) + "\n")
    return results


def summarise(runs: list[dict]) -> dict:
    """Per arm: held-out loss mean and standard deviation over seeds, and the parameter counts."""
    summary = {}
    for arm in ARMS:
        losses = [r["heldout_loss"] for r in runs if r["arm"] == arm]
        if not losses:
            continue
        first = next(r for r in runs if r["arm"] == arm)
        mean, sd = spread(losses)
        summary[arm] = {
            "heldout_loss_mean": mean,
            "heldout_loss_std": sd,
            "seeds": len(losses),
            "parameters": first["parameters"],
            "active": first["active"],
            "train_s_mean": statistics.fmean(r["train_s"] for r in runs if r["arm"] == arm),
        }
    return summary


def report(results: dict) -> str:
    """A markdown table of the arms and one of the mixed arm's routing."""
    lines = [
        "| arm | parameters | active per token | held-out loss (mean ± sd over seeds) | seeds | training s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for arm, s in results["summary"].items():
        lines.append(
            f"| {arm} | {s['parameters']:,} | {s['active']:,} | {s['heldout_loss_mean']:.4f} ± "
            f"{s['heldout_loss_std']:.4f} | {s['seeds']} | {s['train_s_mean']:.0f} |"
        )
    lines += [
        "",
        "Routing of held-out tokens by expert (and by geometry for the mixed arm): the entropy of the load, in",
        "bits of its maximum, and how much of it the token's WordNet category explains (mutual information).",
        "",
        "| arm | seed | routed by | load entropy (bits, of max) | category explains | busiest |",
        "|---|---:|---|---:|---:|---|",
    ]
    for run in results["runs"]:
        for key, by in (("routing", "expert"), ("geometry_routing", "geometry")):
            if key in run:
                lines.append(routing_row(run, run[key], by))
    return "\n".join(lines)


def routing_row(run: dict, routing: dict, by: str) -> str:
    shares = {k[len("share_") :]: v for k, v in routing.items() if k.startswith("share_")}
    top = max(shares, key=shares.get)
    return (
        f"| {run['arm']} | {run['seed']} | {by} | {routing['geometry_entropy_bits']:.3f} of "
        f"{routing['max_entropy_bits']:.3f} | {routing['kind_explains']:.1%} | {top} {shares[top]:.1%} |"
    )
