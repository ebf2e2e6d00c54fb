"""What the integrator layers cost and give, measured: the seed-003 claims on equal terms.

Arms, all of one shape on the same data, tokens, optimizer and schedule, several seeds:
- `llama`: the baseline with its SwiGLU sized to the integrator's parameters (equal total parameters);
- `integrator`: residual halting (the default `tolerance`, at most `max_iterations`);
- `learned halting`: ACT's halting unit with its ponder cost;
- `fixed`: every token runs `max_iterations` in training and inference (the public original's training).
The integrator arms train with the seed's balanced equilibrium/exploration cycles (recipe "inl").
Each run records the held-out loss, the mean iterations per token on the held-out data, training tokens/s
and cached generation tokens/s. The residual-halting runs are then scored at other tolerances (a phase
setting, no retraining): what halting saves in iterations and what it costs in loss. Generation is timed
with halting as trained and with every token running `max_iterations`, which is the seed's "+50% inference
speed" comparison.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from geolm.experiments.measure import generation_speed, plus_minus, spread
from geolm.experiments.reasoning_data import QUICK_DATA, RunOptions, heldout_loss, reasoning_data, shape_of
from geolm.files import write_atomic, write_text_atomic

ARMS = ("llama", "integrator", "learned halting", "fixed")
HALTING = {"integrator": "residual", "learned halting": "learned", "fixed": "fixed"}
ITERATIONS = "integrator_iterations"


@dataclass
class IntegratorExperiment(RunOptions):
    """Everything a run depends on (saved with the results)."""

    arms: list[str] = field(default_factory=lambda: list(ARMS))
    state_size: int = 128
    controller_size: int = 64
    max_iterations: int = 10
    tolerance: float = 0.05
    sweep: list[float] = field(default_factory=lambda: [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
    generate_tokens: int = 64

    @classmethod
    def quick(cls, **overrides: Any) -> IntegratorExperiment:
        """A smoke-test size: one seed, a few steps, a small model."""
        small = {"seeds": [0], "steps": 6, "hidden_size": 32, "layers": 1, "heads": 2, "state_size": 32}
        tiny = {"controller_size": 16, "max_iterations": 4, "sweep": [0.0, 0.1], "generate_tokens": 8}
        return cls(**{**small, **tiny, **QUICK_DATA, **overrides})


def integrator_ffn(options: IntegratorExperiment, halting: str) -> dict[str, Any]:
    return {
        "state_size": options.state_size,
        "controller_size": options.controller_size,
        "max_iterations": options.max_iterations,
        "tolerance": options.tolerance,
        "halting": halting,
    }


def arm_config(arm: str, options: IntegratorExperiment, tokenizer) -> Any:
    """The model config of one arm; the llama arm's SwiGLU holds as many parameters as the integrator layer."""
    from geolm import GeoConfig

    shape = shape_of(tokenizer, options.hidden_size, options.layers, options.heads, options.block_size)
    if arm != "llama":
        return GeoConfig(**shape, ffn="integrator", part_options={"ffn": integrator_ffn(options, HALTING[arm])})
    with torch.device("meta"):
        from geolm import GeoForCausalLM

        layer = GeoForCausalLM(arm_config("integrator", options, tokenizer)).model.layers[0].mlp
    per_layer = sum(p.numel() for p in layer.parameters())
    return GeoConfig(**shape, intermediate_size=max(1, round(per_layer / (3 * options.hidden_size))))


@torch.no_grad()
def mean_iterations(model, blocks, batch_size: int) -> float:
    """Mean iterations per real token and layer over the held-out blocks."""
    total, tokens = 0.0, 0
    for ids, labels in zip(blocks.input_ids.split(batch_size), blocks.labels.split(batch_size), strict=True):
        real = (labels != -100).float().to(model.device)
        total += float((model(ids.to(model.device)).part_stats[ITERATIONS] * real).sum())
        tokens += int(real.sum())
    return total / max(tokens, 1)


def run_integrator(options: IntegratorExperiment, out: Path, progress=print) -> dict:
    """Train every arm with every seed; write OUT/results.json and OUT/report.md; return the results."""
    from geolm import GeoForCausalLM
    from geolm.integrator.curriculum import cycle_curriculum
    from geolm.params import parameter_table
    from geolm.training import TrainArgs, train

    start = time.time()
    data = reasoning_data(options)
    prompt = data.heldout.input_ids[:1, :32]
    runs: list[dict] = []
    for arm in options.arms:
        for seed in options.seeds:
            progress(f"{arm}, seed {seed}")
            torch.manual_seed(seed)
            model = GeoForCausalLM(arm_config(arm, options, data.tokenizer))
            args = TrainArgs.short_run(options.steps, options.batch_size, options.lr, seed)
            began = time.time()
            curriculum = cycle_curriculum("balanced") if arm != "llama" else None
            run_dir = out / "runs" / f"{arm}-{seed}".replace(" ", "-")
            train(model, data.train, None, args, run_dir, curriculum=curriculum)
            elapsed = time.time() - began
            record = {
                "arm": arm,
                "seed": seed,
                "parameters": int(parameter_table(model)["parameters"].sum()),
                "heldout_loss": heldout_loss(model, data.heldout, options.batch_size),
                "train_tokens_per_s": options.steps * options.batch_size * options.block_size / elapsed,
            }
            timing = {"as trained": None}
            if arm == "integrator":  # the same models with every token running max_iterations
                timing["without halting"] = {"ffn": {"tolerance": 0.0}}
            speeds = generation_speed(model, prompt, options.generate_tokens, timing)
            record["generate_tokens_per_s"] = speeds["as trained"]
            if arm != "llama":
                record["iterations"] = mean_iterations(model, data.heldout, options.batch_size)
            if arm == "integrator":
                record["generate_tokens_per_s_without_halting"] = speeds["without halting"]
                record["sweep"] = tolerance_sweep(model, data.heldout, options)
            runs.append(record)
    results = {"options": asdict(options), "runs": runs, "summary": summarise(runs)}
    results["wall_s"] = round(time.time() - start)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "report.md", report(results) + "\n")
    if "sweep" in results["summary"].get("integrator", {}):
        plot_sweep(results["summary"]["integrator"]["sweep"], out / "tolerance.png")
    return results


def tolerance_sweep(model, heldout, options: IntegratorExperiment) -> list[dict[str, float]]:
    """Held-out loss and mean iterations at each tolerance of `options.sweep`, set as a phase setting."""
    rows = []
    try:
        for tolerance in options.sweep:
            model.set_part_settings({"ffn": {"tolerance": tolerance}})
            rows.append(
                {
                    "tolerance": tolerance,
                    "iterations": mean_iterations(model, heldout, options.batch_size),
                    "heldout_loss": heldout_loss(model, heldout, options.batch_size),
                }
            )
    finally:
        model.set_part_settings(None)
    return rows


def summarise(runs: list[dict]) -> dict:
    """Per arm: means and standard deviations over seeds of every number a run records."""
    summary: dict[str, Any] = {}
    for arm in ARMS:
        mine = [r for r in runs if r["arm"] == arm]
        if not mine:
            continue
        entry: dict[str, Any] = {"seeds": len(mine), "parameters": mine[0]["parameters"]}
        for key in (
            "heldout_loss",
            "iterations",
            "train_tokens_per_s",
            "generate_tokens_per_s",
            "generate_tokens_per_s_without_halting",
        ):
            if key in mine[0]:
                entry[key] = spread([r[key] for r in mine])
        if "sweep" in mine[0]:
            entry["sweep"] = [
                {
                    "tolerance": row["tolerance"],
                    "iterations": spread([r["sweep"][i]["iterations"] for r in mine]),
                    "heldout_loss": spread([r["sweep"][i]["heldout_loss"] for r in mine]),
                }
                for i, row in enumerate(mine[0]["sweep"])
            ]
        summary[arm] = entry
    return summary


def report(results: dict) -> str:
    """Markdown: one row per arm, then the tolerance sweep of the residual-halting arm."""

    summary = results["summary"]
    peer = summary.get("llama", {}).get("generate_tokens_per_s", (math.nan,))[0]
    lines = [
        "| arm | parameters | held-out loss | iterations per token | training tokens/s | generation tokens/s "
        "| generation time vs llama |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, s in summary.items():
        iterations = plus_minus(s["iterations"], 2) if "iterations" in s else "-"
        ratio = peer / s["generate_tokens_per_s"][0]
        lines.append(
            f"| {arm} | {s['parameters']:,} | {plus_minus(s['heldout_loss'], 4)} | {iterations} | "
            f"{plus_minus(s['train_tokens_per_s'], 0)} | {plus_minus(s['generate_tokens_per_s'], 1)} | {ratio:.2f}x |"
        )
    halting = summary.get("integrator", {})
    if "generate_tokens_per_s_without_halting" in halting:
        with_, without = halting["generate_tokens_per_s"][0], halting["generate_tokens_per_s_without_halting"][0]
        lines += [
            "",
            f"Generation of the residual-halting models with halting: {with_:.1f} tokens/s; with every token "
            f"running all {results['options']['max_iterations']} iterations: {without:.1f} tokens/s "
            f"({with_ / without - 1:+.0%}).",
        ]
    if "sweep" in halting:
        lines += [
            "",
            "Tolerance at evaluation (same trained models) against mean iterations and held-out loss:",
            "",
            "| tolerance | iterations per token | held-out loss |",
            "|---:|---:|---:|",
        ]
        lines += [
            f"| {r['tolerance']:g} | {plus_minus(r['iterations'], 2)} | {plus_minus(r['heldout_loss'], 4)} |"
            for r in halting["sweep"]
        ]
    return "\n".join(lines)


def plot_sweep(sweep: list[dict], path: Path) -> Path:
    """Mean iterations and held-out loss against the tolerance (seed spread as error bars), one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tolerances = [max(row["tolerance"], 1e-3) for row in sweep]  # 0 drawn at 1e-3 on the log axis
    fig, left = plt.subplots(figsize=(6, 3.6))
    right = left.twinx()
    for axis, key, colour, label in (
        (left, "iterations", "tab:blue", "mean iterations per token"),
        (right, "heldout_loss", "tab:red", "held-out loss"),
    ):
        means = [row[key][0] for row in sweep]
        spread = [0.0 if math.isnan(row[key][1]) else row[key][1] for row in sweep]
        axis.errorbar(tolerances, means, yerr=spread, color=colour, marker="o", capsize=3, label=label)
        axis.set_ylabel(label, color=colour)
    left.set_xscale("log")
    left.set_xlabel("halting tolerance at evaluation (0 shown at 1e-3)")
    left.set_title("What halting saves and what it costs")
    fig.tight_layout()
    write_atomic(path, lambda temp: fig.savefig(temp, dpi=120, format="png"))
    plt.close(fig)
    return path
