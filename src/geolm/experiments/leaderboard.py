"""One table for every family: equal parameters, the same data, tokens, optimizer and schedule, several seeds.

Each family takes the parts and part options of its `-tiny` preset on one shared shape (width, depth, heads,
vocabulary, context); one width per family (the SwiGLU's, the experts' or the integrator's state) is then
chosen so that its parameter count comes nearest the llama's, counting the active parameters per token for
the mixtures of experts (their totals are stated beside). Every run trains with the baseline curriculum on
the seed-002 mixture of the embedded corpus (`reasoning_data`), and records:

- the held-out loss on the same three subsets' held-out items, and the training loss of every step;
- the lm-eval WordNet tasks (`geolm eval`'s, held-out items only);
- training tokens/s (the trainer's own, median over the logged steps) and cached generation tokens/s;
- the peak memory of one training step (once per family: it does not depend on the seed);
- the family's own statistics: κ census of the attention heads, expert load, iterations per token.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from geolm.devices import default_device, memory_device
from geolm.experiments.measure import generation_speed, peak_training_memory, plus_minus, spread
from geolm.experiments.reasoning_data import QUICK_DATA, RunOptions, heldout_loss, reasoning_data, shape_of
from geolm.files import write_atomic, write_text_atomic


@dataclass(frozen=True)
class Family:
    """A leaderboard row: the preset whose parts it takes, and the width set to match the parameter count
    (`knob`: a config key, or an FFN part option), counted as "parameters" or as "active" per token."""

    preset: str
    knob: str
    counted: str = "parameters"


FAMILIES = {
    "llama": Family("llama-tiny", "intermediate_size"),
    "geometric-llama": Family("geometric-llama-tiny", "intermediate_size"),
    "curvature": Family("curvature-tiny", "intermediate_size"),
    "mgm": Family("mgm-tiny", "expert_size", "active"),
    "inl": Family("inl-tiny", "state_size"),
    "geo-mix-moe": Family("geo-mix-moe-tiny", "expert_size", "active"),
    "geo-mix-integrator": Family("geo-mix-integrator-tiny", "state_size"),
}
CONTEXT = 256  # at least: lm-eval's arithmetic task generates up to 64 tokens after its question
WIDTH_STEP = 8  # matched widths are multiples of this
STATS = ("heads_hyperbolic", "heads_euclidean", "heads_spherical", "load_entropy", "busiest_expert", "iterations")


@dataclass
class LeaderboardOptions(RunOptions):
    """Everything a run depends on (saved with the results)."""

    families: list[str] = field(default_factory=lambda: list(FAMILIES))
    steps: int = 240  # with batch_size and block_size: 245,760 tokens, about 35 minutes for all on 2 CPU cores
    batch_size: int = 8
    intermediate_size: int = 384  # the llama's SwiGLU width: its count is every family's target
    eval_limit: int | None = 100  # items per WordNet task
    generate_tokens: int = 64
    memory_batch: int = 8  # the training step whose peak memory is measured: memory_batch x block_size

    @classmethod
    def quick(cls, **overrides: Any) -> LeaderboardOptions:
        """A smoke-test size: one seed, a few steps, a small model, a few items per task."""
        small = {"seeds": [0], "steps": 4, "hidden_size": 32, "layers": 1, "heads": 2, "intermediate_size": 96}
        data = {**QUICK_DATA, "block_size": 64, "batch_size": 4}
        measured = {"eval_limit": 4, "generate_tokens": 4, "memory_batch": 2}
        return cls(**{**small, **data, **measured, **overrides})

    def check(self) -> None:
        from geolm.errors import ConfigError, unknown_names

        unknown = [name for name in self.families if name not in FAMILIES]
        if unknown:
            raise ConfigError(unknown_names("family", unknown, list(FAMILIES)))
        if not self.families or not self.seeds:
            raise ConfigError("the leaderboard needs at least one family and one seed")


def family_config(name: str, options: LeaderboardOptions, tokenizer, width: int):
    """The config of family `name` on the leaderboard's shape, with its knob at `width`."""
    from geolm.config import GeoConfig
    from geolm.presets import PRESETS

    family = FAMILIES[name]
    fields = {**PRESETS[family.preset]}
    context = max(options.block_size, CONTEXT)
    fields.update(shape_of(tokenizer, options.hidden_size, options.layers, options.heads, context))
    if family.knob == "intermediate_size":
        fields["intermediate_size"] = width
    else:
        options_of = {kind: dict(o) for kind, o in (fields.get("part_options") or {}).items()}
        options_of.setdefault("ffn", {})[family.knob] = width
        fields["part_options"] = options_of
    return GeoConfig(**fields)


def counts(config) -> dict[str, int]:
    """Total and active-per-token parameters, counted on the meta device."""
    from geolm.modeling import GeoForCausalLM
    from geolm.params import parameter_table

    with torch.device("meta"):
        table = parameter_table(GeoForCausalLM(config))
    return {"parameters": int(table["parameters"].sum()), "active": int(table["active"].sum())}


def match_width(count: Callable[[int], int], target: int, largest: int) -> int:
    """The multiple of `WIDTH_STEP` up to `largest` whose `count` (increasing in the width) is nearest `target`."""
    low, high = 1, max(1, largest // WIDTH_STEP)
    while low < high:  # the first step whose count reaches the target
        middle = (low + high) // 2
        if count(middle * WIDTH_STEP) < target:
            low = middle + 1
        else:
            high = middle
    candidates = {low, max(1, low - 1)}
    return WIDTH_STEP * min(candidates, key=lambda step: abs(count(step * WIDTH_STEP) - target))


def matched_configs(options: LeaderboardOptions, tokenizer) -> dict[str, tuple[Any, int]]:
    """Each family's config with its knob matched to the llama's parameter count, and the width chosen."""
    target = counts(family_config("llama", options, tokenizer, options.intermediate_size))["parameters"]
    largest = 16 * max(options.hidden_size, options.intermediate_size)
    chosen = {}
    for name in options.families:
        if name == "llama":
            width = options.intermediate_size
            chosen[name] = (family_config(name, options, tokenizer, width), width)
            continue
        counted = FAMILIES[name].counted

        def count(width: int, name: str = name, counted: str = counted) -> int:
            return counts(family_config(name, options, tokenizer, width))[counted]

        width = match_width(count, target, largest)
        chosen[name] = (family_config(name, options, tokenizer, width), width)
    return chosen


@torch.no_grad()
def family_stats(model, blocks, batch_size: int) -> dict[str, float]:
    """The statistics a family's parts report: curvature heads per class, the experts' load over the held-out
    tokens (its entropy as a share of the maximum, and the busiest expert's share) and iterations per token."""
    from geolm.curvature.census import curvature_metrics
    from geolm.experts.moe import LOAD
    from geolm.integrator.layer import ITERATIONS

    heads = {key: value for key, value in curvature_metrics(model).items() if key.startswith("heads/")}
    stats = {key.replace("/", "_"): value for key, value in heads.items()}
    load, iterations, tokens = None, None, 0
    model.eval()
    for ids in blocks.input_ids.split(batch_size):
        ids = ids.to(model.device)
        real = ids != model.config.pad_token_id
        reported = model(ids, use_cache=False).part_stats
        if LOAD in reported:
            summed = reported[LOAD][real].float().sum(0)
            load = summed if load is None else load + summed
        if ITERATIONS in reported:
            iterations = (iterations or 0.0) + float(reported[ITERATIONS][real].float().sum())
        tokens += int(real.sum())
    if load is not None:
        shares = load / load.sum()
        entropy = -float((shares * shares.clamp_min(1e-12).log2()).sum())
        stats["load_entropy"] = entropy / math.log2(len(shares))
        stats["busiest_expert"] = float(shares.max())
    if iterations is not None:
        stats["iterations"] = iterations / max(tokens, 1)
    return stats


def trainer_tokens_per_s(run_dir: Path) -> float:
    """Median training tokens/s the trainer logged, leaving out the first record (it holds the warm-up)."""
    from geolm.experiments.curves import read_metrics

    speeds = [r["tokens_per_s"] for r in read_metrics(run_dir / "metrics.jsonl") if "tokens_per_s" in r]
    return statistics.median(speeds[1:] or speeds)


def run_leaderboard(options: LeaderboardOptions, out: Path, progress=print) -> dict:
    """Train every family with every seed; write OUT/results.json, OUT/leaderboard.md and the PNG plots."""
    from geolm.experiments.harness import evaluate, headline, task_manager
    from geolm.experiments.wordnet_tasks import TAG, write_tasks
    from geolm.modeling import GeoForCausalLM
    from geolm.training import TrainArgs, train

    options.check()
    if (out / "runs").exists() and any((out / "runs").iterdir()):
        from geolm.errors import ConfigError

        raise ConfigError(f"{out} already holds leaderboard runs; choose another --out or remove them")
    start = time.time()
    data = reasoning_data(options)
    configs = matched_configs(options, data.tokenizer)
    prompt = data.heldout.input_ids[:1, : min(32, options.block_size // 2)]
    families: dict[str, dict] = {}
    runs: list[dict] = []
    tasks = task_manager(write_tasks(out / "tasks"), [], [TAG])  # one manager serves every evaluation
    device = memory_device(default_device())  # where the trainer puts the model, if its memory can be measured
    for name, (config, width) in configs.items():
        torch.manual_seed(0)
        step_tokens = data.train.input_ids[: options.memory_batch].to(device)
        families[name] = {
            **counts(config),
            "preset": FAMILIES[name].preset,
            "matched_on": FAMILIES[name].counted,
            "knob": FAMILIES[name].knob,
            "width": width,
            "peak_memory_mib": peak_training_memory(GeoForCausalLM(config).to(device), step_tokens) / 2**20,
        }
        for seed in options.seeds:
            progress(f"{name}, seed {seed}")
            torch.manual_seed(seed)
            model = GeoForCausalLM(config)
            run_dir = out / "runs" / f"{name}-{seed}"
            args = TrainArgs.short_run(options.steps, options.batch_size, options.lr, seed)
            result = train(model, data.train, None, args, run_dir, tokenizer=data.tokenizer)
            speed = generation_speed(model, prompt, options.generate_tokens, {"as trained": None}, repeats=3)
            limit = options.eval_limit
            scores = evaluate(model.eval(), data.tokenizer, [TAG], run_dir / "eval", limit=limit, manager=tasks)
            runs.append(
                {
                    "family": name,
                    "seed": seed,
                    "heldout_loss": heldout_loss(model, data.heldout, options.batch_size),
                    "losses": [result.losses[step] for step in sorted(result.losses)],
                    "train_tokens_per_s": trainer_tokens_per_s(run_dir),
                    "generate_tokens_per_s": speed["as trained"],
                    "wordnet": headline(scores),
                    "stats": family_stats(model, data.heldout, options.batch_size),
                }
            )
    results = {"options": asdict(options), "families": families, "runs": runs}
    results["summary"] = summarise(runs, families)
    results["wall_s"] = round(time.time() - start)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "leaderboard.md", report(results) + "\n")
    plot_losses(results, out / "loss_curves.png")
    plot_quality_speed(results, out / "quality_speed.png")
    return results


def summarise(runs: list[dict], families: dict[str, dict]) -> dict[str, dict]:
    """Per family: mean and standard deviation over seeds of every number a run records."""
    summary = {}
    for name, family in families.items():
        mine = [r for r in runs if r["family"] == name]
        entry: dict[str, Any] = {"seeds": len(mine), **family}
        for key in ("heldout_loss", "train_tokens_per_s", "generate_tokens_per_s"):
            entry[key] = spread([r[key] for r in mine])
        entry["wordnet"] = {task: spread([r["wordnet"][task][0] for r in mine]) for task in mine[0]["wordnet"]}
        entry["stats"] = {key: spread([r["stats"][key] for r in mine]) for key in STATS if key in mine[0]["stats"]}
        summary[name] = entry
    return summary


def _stats_cell(stats: dict[str, list[float]]) -> str:
    parts = []
    if "heads_hyperbolic" in stats:
        heads = [stats[f"heads_{k}"][0] for k in ("hyperbolic", "euclidean", "spherical")]
        parts.append("κ heads H/E/S {:.1f}/{:.1f}/{:.1f}".format(*heads))
    if "load_entropy" in stats:
        entropy, busiest = plus_minus(stats["load_entropy"], 2), stats["busiest_expert"][0]
        parts.append(f"load entropy {entropy} of max, busiest {busiest:.0%}")
    if "iterations" in stats:
        parts.append(f"iterations/token {plus_minus(stats['iterations'], 2)}")
    return "; ".join(parts) or "-"


def report(results: dict) -> str:
    """Markdown: the main table, the WordNet scores, and each family's own statistics."""
    options, summary = results["options"], results["summary"]
    tokens = options["steps"] * options["batch_size"] * options["block_size"]
    peer = summary.get("llama")
    lines = [
        f"Every family: hidden {options['hidden_size']}, {options['layers']} layers, {options['heads']} heads, "
        f"vocabulary {options['vocab_size']}; {options['steps']} steps of {options['batch_size']} x "
        f"{options['block_size']} tokens ({tokens:,} tokens), AdamW at {options['lr']:g} with the baseline "
        f"schedule; seeds {', '.join(map(str, options['seeds']))}. Mean ± standard deviation over seeds.",
        "",
        "| family | matched width | parameters | active per token | held-out loss | training tokens/s "
        "| generation tokens/s | peak training memory (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in summary.items():
        ratio = ""
        if peer is not None and name != "llama":
            ratio = f" ({peer['train_tokens_per_s'][0] / s['train_tokens_per_s'][0]:.2f}x llama's time)"
        lines.append(
            f"| {name} | {s['knob']} {s['width']} | {s['parameters']:,} | {s['active']:,} | "
            f"{plus_minus(s['heldout_loss'], 4)} | {plus_minus(s['train_tokens_per_s'], 0)}{ratio} | "
            f"{plus_minus(s['generate_tokens_per_s'], 1)} | {s['peak_memory_mib']:.1f} |"
        )
    tasks = list(next(iter(summary.values()))["wordnet"])
    limit = options["eval_limit"]
    lines += [
        "",
        f"WordNet tasks of `geolm eval` (lm-evaluation-harness), at most {limit} held-out items each; chance is "
        "0.25 for hypernym and definition, 0.5 for agreement, 0 for arithmetic (exact match).",
        "",
        "| family | " + " | ".join(tasks) + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for name, s in summary.items():
        lines.append(f"| {name} | " + " | ".join(plus_minus(s["wordnet"][task], 3) for task in tasks) + " |")
    lines += ["", "The families' own statistics on the held-out tokens:", "", "| family | statistics |", "|---|---|"]
    lines += [f"| {name} | {_stats_cell(s['stats'])} |" for name, s in summary.items()]
    return "\n".join(lines)


def _figure(width: float = 6.4, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    write_atomic(path, lambda temp: figure.savefig(temp, dpi=120, format="png"))
    return path


def plot_losses(results: dict, path: Path, window: int = 10) -> Path:
    """Training loss against step per family (a moving mean over `window` steps), mean over seeds with a band
    of one standard deviation."""
    import numpy as np

    figure, axis = _figure()
    for name in results["summary"]:
        curves = np.array([r["losses"] for r in results["runs"] if r["family"] == name], dtype=float)
        width = max(1, min(window, curves.shape[1]))
        smooth = np.array([np.convolve(c, np.ones(width) / width, mode="valid") for c in curves])
        steps = np.arange(width, curves.shape[1] + 1)
        mean = smooth.mean(0)
        line = axis.plot(steps, mean, label=name)[0]
        if len(smooth) > 1:
            sd = smooth.std(0, ddof=1)
            axis.fill_between(steps, mean - sd, mean + sd, color=line.get_color(), alpha=0.2)
    axis.set_xlabel("step")
    axis.set_ylabel(f"training loss (mean of {window} steps)")
    axis.set_title("Training loss, mean over seeds ± 1 sd")
    axis.legend(fontsize="small")
    return _save(figure, path)


def plot_quality_speed(results: dict, path: Path) -> Path:
    """Held-out loss against training tokens/s per family, with the seeds' standard deviations as error bars."""
    figure, axis = _figure()
    for name, s in results["summary"].items():
        (speed, speed_sd), (loss, loss_sd) = s["train_tokens_per_s"], s["heldout_loss"]
        axis.errorbar(
            speed,
            loss,
            xerr=0.0 if math.isnan(speed_sd) else speed_sd,
            yerr=0.0 if math.isnan(loss_sd) else loss_sd,
            marker="o",
            capsize=3,
            label=name,
        )
    axis.set_xscale("log")
    axis.set_xlabel("training tokens/s (log scale)")
    axis.set_ylabel("held-out loss (lower is better)")
    axis.set_title("Quality against speed")
    axis.legend(fontsize="small")
    return _save(figure, path)
