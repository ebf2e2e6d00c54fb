"""Which head geometries emerge: curvature models trained from each κ start, with odd and even head counts.

The published design reported about half its heads hyperbolic and half spherical after training, but it
started them at linspace(−1, 1), which is that split before any training. Here one suite task is learnt by
curvature models of one size whose head count varies (odd and even) from each start (zero, random,
linspace) and several seeds, on identical data and budget; each run's κ before and after gives the census
(hyperbolic κ < −0.1, Euclidean |κ| <= 0.1, spherical κ > 0.1) and how far κ moved. Outputs: results.json
(every run, every head), report.md (the table), and one metrics.jsonl per run for `geolm plot`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from geolm.config import GeoConfig
from geolm.curvature.census import CLASSES, head_census
from geolm.curvature.options import INITS
from geolm.data.lexicon import Lexicon, load_lexicon
from geolm.data.tokenizer import train_tokenizer
from geolm.errors import ConfigError, unknown_names
from geolm.experiments.encode import encode
from geolm.experiments.runner import SIZES, build_model, check_budget, evaluate, preset_name, run_args, train_model
from geolm.experiments.tasks import BUILDERS
from geolm.files import write_text_atomic


@dataclass
class HeadSplitOptions:
    """Everything a head-split study depends on (saved in results.json)."""

    task: str = "glosses"
    size: str = "small"
    heads: list[int] = field(default_factory=lambda: [3, 4, 5, 6])
    inits: list[str] = field(default_factory=lambda: list(INITS))
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    steps: int = 300
    batch_size: int = 16
    lr: float = 1e-3
    n_train: int = 2000
    n_test: int = 400
    max_length: int = 40
    vocab_size: int = 2048

    def validate(self) -> None:
        """Raise `ConfigError` naming the first bad option and what is allowed."""
        for kind, name, allowed in (("task", self.task, BUILDERS), ("size", self.size, SIZES)):
            if name not in allowed:
                raise ConfigError(unknown_names(kind, [name], allowed))
        unknown = sorted(set(self.inits) - set(INITS))
        if unknown or not self.inits:
            raise ConfigError(f"inits must be some of {', '.join(INITS)}, got {self.inits}")
        if not self.heads or min(self.heads) < 1 or not self.seeds:
            raise ConfigError(f"heads must be positive counts and seeds non-empty, got {self.heads} and {self.seeds}")
        check_budget(self, "head-split")


def run_head_split(options: HeadSplitOptions, out: Path, lexicon: Lexicon | None = None) -> dict[str, Any]:
    """Train every heads x init x seed model; write results.json and report.md into `out`."""
    options.validate()
    started = time.perf_counter()
    task = BUILDERS[options.task](lexicon or load_lexicon(), options.n_train, options.n_test, 0)
    tokenizer = train_tokenizer(task.texts(), options.vocab_size)
    train_data = encode(task, task.train, tokenizer, options.max_length)
    test_data = encode(task, task.test, tokenizer, options.max_length)
    head_dim = GeoConfig.from_preset(preset_name(options.size, "geometric")).head_dim
    plan = [(heads, init, seed) for heads in options.heads for init in options.inits for seed in options.seeds]
    runs = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        overall = progress.add_task("head-split runs", total=len(plan))
        for heads, init, seed in plan:
            progress.update(overall, description=f"{heads} heads, {init} start, seed {seed}")
            # head_dim stays the preset's, so every head count sees queries and keys of the same width
            shape = {"num_attention_heads": heads, "num_key_value_heads": heads, "head_dim": head_dim}
            model = build_model(task, options.size, "geometric", tokenizer, seed, init, **shape)
            before = head_census(model)
            args = run_args(options.steps, options.batch_size, options.lr, seed)
            train_model(model, train_data, args, out / "runs" / f"h{heads}-{init}-s{seed}", tokenizer)
            after = head_census(model)
            runs.append(
                {
                    "heads": heads,
                    "init": init,
                    "seed": seed,
                    "metric": task.metric,
                    "value": evaluate(model, task, test_data, options.batch_size),
                    "kappa_start": [round(float(k), 4) for k in before["kappa"]],
                    "kappa_end": [round(float(k), 4) for k in after["kappa"]],
                    "classes_start": before["class"].value_counts().reindex(CLASSES, fill_value=0).tolist(),
                    "classes_end": after["class"].value_counts().reindex(CLASSES, fill_value=0).tolist(),
                    "mean_abs_change": float((after["kappa"] - before["kappa"]).abs().mean()),
                    "sign_flips": int(((after["kappa"] * before["kappa"]) < 0).sum()),
                }
            )
            progress.advance(overall)
    results = {"options": asdict(options), "runs": runs, "wall_s": round(time.perf_counter() - started, 1)}
    write_text_atomic(out / "results.json", json.dumps(results, indent=2))
    write_text_atomic(out / "report.md", report(results))
    return results


def report(results: dict[str, Any]) -> str:
    """Markdown: one row per run (census before -> after, movement, task metric), then the settings."""
    options = results["options"]
    lines = [
        "# Head split: which curvature classes emerge from each start",
        "",
        f"Task `{options['task']}`, size `{options['size']}`, {options['steps']} steps per run; classes are",
        "hyperbolic/Euclidean/spherical heads (κ < −0.1, |κ| <= 0.1, κ > 0.1), all layers together.",
        "",
        "| heads/layer | start | seed | classes at start | classes at end | mean abs change of κ | sign flips | "
        "max abs κ at end | metric |",
        "|---:|---|---:|---|---|---:|---:|---:|---|",
    ]
    for run in results["runs"]:
        start, end = ("/".join(map(str, run[key])) for key in ("classes_start", "classes_end"))
        largest = max(abs(k) for k in run["kappa_end"])
        lines.append(
            f"| {run['heads']} | {run['init']} | {run['seed']} | {start} | {end} | {run['mean_abs_change']:.4f} | "
            f"{run['sign_flips']} | {largest:.3f} | {run['metric']} {run['value']:.4g} |"
        )
    lines += ["", f"Settings: `{json.dumps(options)}`; wall time {results['wall_s']} s.", ""]
    return "\n".join(lines)
