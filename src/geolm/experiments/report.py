"""What a suite run leaves for people: report.md (tables) and PNG figures, each written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geolm.curvature.census import CLASSES
from geolm.experiments.scoring import HIGHER_IS_BETTER
from geolm.files import write_atomic, write_text_atomic

COLOURS = {"geometric": "tab:orange", "standard": "tab:blue"}
CLASS_COLOURS = {"hyperbolic": "tab:blue", "euclidean": "tab:grey", "spherical": "tab:red"}


def comparison_table(results: dict[str, Any]) -> str:
    """Markdown: task, size, metric, geometric, standard, delta, and the geometric model's head census."""
    lines = [
        "| task | size | metric | geometric | standard | delta | heads hyp/euc/sph |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["comparisons"]:
        census = "/".join(str(row["census"].get(name, 0)) for name in CLASSES)
        lines.append(
            f"| {row['task']} | {row['size']} | {row['metric']} | {row['geometric']:.4g} | "
            f"{row['standard']:.4g} | {row['delta']:+.4g} | {census} |"
        )
    return "\n".join(lines)


def summary_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    """Suites run with different seeds (or any settings) -> one row per task x size x κ start: the seeds, the mean
    of each model's value, the deltas (positive: geometric better) with their mean and sample standard
    deviation, and the standard model's own seed-to-seed standard deviation, the noise a delta is read
    against."""
    rows = [
        {**row, "seed": suite["options"]["seed"], "kappa_init": suite["options"]["kappa_init"]}
        for suite in results
        for row in suite["comparisons"]
    ]
    keys = ["task", "size", "metric", "kappa_init"]
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(keys, sort=False)
    summary = grouped.agg(
        seeds=("seed", lambda s: ",".join(map(str, sorted(s)))),
        geometric=("geometric", "mean"),
        standard=("standard", "mean"),
        delta_mean=("delta", "mean"),
        delta_std=("delta", "std"),
        standard_std=("standard", "std"),
    )
    summary["deltas"] = grouped["delta"].agg(lambda d: " ".join(f"{v:+.3g}" for v in d))
    return summary.reset_index()


def summary_table(summary: pd.DataFrame) -> str:
    """Markdown of `summary_frame` (standard deviations need two seeds or more; "-" otherwise)."""

    def spread(value: float) -> str:
        return "-" if pd.isna(value) else f"{value:.3g}"

    lines = [
        "| task | size | metric | κ start | seeds | geometric | standard | delta mean | delta sd | deltas | "
        "standard sd |",
        "|---|---|---|---|---|---:|---:|---:|---:|---|---:|",
    ]
    lines += [
        f"| {r.task} | {r.size} | {r.metric} | {r.kappa_init} | {r.seeds} | {r.geometric:.4g} | {r.standard:.4g} | "
        f"{r.delta_mean:+.3g} | {spread(r.delta_std)} | {r.deltas} | {spread(r.standard_std)} |"
        for r in summary.itertuples()
    ]
    return "\n".join(lines)


def write_report(results: dict[str, Any], path: Path) -> Path:
    """report.md: the comparison table, then how it was made (tasks, options, per-run details)."""
    options = results["options"]
    parts = [
        "# Experiment suite: curvature attention against standard attention",
        "",
        "Each row trains two models of one size from the same seed on the same batches for the same number",
        "of steps; they differ only in attention. `delta` is signed so that positive means the geometric",
        "model did better (geometric - standard for accuracy and F1, standard - geometric for perplexity).",
        "The head census counts the geometric model's heads by learnt κ (|κ| <= 0.1 is Euclidean).",
        "",
        comparison_table(results),
        "",
        "## Tasks",
        "",
        "| task | kind | metric | classes | train | test | what |",
        "|---|---|---|---|---|---|---|",
    ]
    parts += [
        f"| {t['name']} | {t['kind']} | {t['metric']} | {len(t['labels']) or '-'} | {t['train']} | {t['test']} | "
        f"{t['description']} |"
        for t in results["tasks"]
    ]
    parts += [
        "",
        "## Runs",
        "",
        "| task | size | arch | parameters | final train loss | train seconds | value |",
        "|---|---|---|---|---|---|---|",
    ]
    parts += [
        f"| {r['task']} | {r['size']} | {r['arch']} | {r['parameters']:,} | {r['final_train_loss']:.4f} | "
        f"{r['train_s']} | {r['value']:.4g} |"
        for r in results["runs"]
    ]
    parts += [
        "",
        f"Options: seed {options['seed']}, {options['steps']} steps of batch {options['batch_size']}, "
        f"peak lr {options['lr']}, at most {options['max_length']} tokens per row, κ init "
        f"`{options['kappa_init']}`, tokenizer vocabulary {results['tokenizer']['vocab_size']}. "
        f"Wall time {results['wall_s']} s.",
        "",
        "![metrics](results.png)",
        "",
        "![head census](census.png)",
        "",
    ]
    text = "\n".join(parts)
    return write_text_atomic(path, text)


def plot_results(results: dict[str, Any], out: Path) -> list[Path]:
    """results.png (metric per task and size, both models) and census.png (heads per class per geometric run)."""
    return [plot_metrics(results, out / "results.png"), plot_census_counts(results, out / "census.png")]


def plot_metrics(results: dict[str, Any], path: Path) -> Path:
    rows = results["comparisons"]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    figure = Figure(figsize=(4.0 * max(len(tasks), 1), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, max(len(tasks), 1), squeeze=False)[0]
    for axis, task in zip(axes, tasks, strict=False):
        part = [r for r in rows if r["task"] == task]
        positions = range(len(part))
        for offset, arch in ((-0.2, "geometric"), (0.2, "standard")):
            axis.bar([p + offset for p in positions], [r[arch] for r in part], 0.4, label=arch, color=COLOURS[arch])
        axis.set_xticks(list(positions), [r["size"] for r in part])
        metric = part[0]["metric"]
        better = "higher" if HIGHER_IS_BETTER[metric] else "lower"
        axis.set_title(f"{task}: {metric} ({better} is better)", fontsize=9)
        axis.legend(fontsize=7)
    return write_atomic(path, lambda temp: figure.savefig(temp, format="png", dpi=100))


def plot_census_counts(results: dict[str, Any], path: Path) -> Path:
    rows = [r for r in results["comparisons"] if r["census"]]
    figure = Figure(figsize=(max(4.0, 0.6 * len(rows) + 2), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    names = [f"{r['task']}\n{r['size']}" for r in rows]
    bottom = [0] * len(rows)
    for name in CLASSES:
        heights = [r["census"].get(name, 0) for r in rows]
        axis.bar(names, heights, bottom=bottom, label=name, color=CLASS_COLOURS[name])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axis.set_ylabel("heads of the geometric model")
    axis.tick_params(axis="x", labelsize=7)
    axis.legend(fontsize=7)
    return write_atomic(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
