"""The experiment suite: every task x size, a geometric model against its standard twin on equal terms.

One byte-level BPE tokenizer is trained on the training texts of all tasks once per suite, so both models
of a comparison read identical token ids. Each run trains into OUT/runs/<task>-<size>-<arch>/ (metrics.jsonl
as it goes, the model in last/); results.json, report.md and the figures are written (atomically) at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import PreTrainedTokenizerFast

from geolm.curvature.census import census_counts, head_census
from geolm.curvature.options import INITS
from geolm.data.lexicon import Lexicon, load_lexicon
from geolm.data.tokenizer import save_tokenizer, train_tokenizer
from geolm.errors import ConfigError, unknown_names
from geolm.experiments import scoring
from geolm.experiments.encode import Encoded, encode
from geolm.experiments.report import plot_results, write_report
from geolm.experiments.runner import (
    ARCHS,
    SIZES,
    build_model,
    check_budget,
    evaluate,
    preset_name,
    run_args,
    train_model,
)
from geolm.experiments.taskfiles import load_task_file
from geolm.experiments.tasks import BUILDERS, Task
from geolm.files import write_text_atomic
from geolm.params import count_parameters
from geolm.training import TrainArgs


@dataclass
class SuiteOptions:
    """Everything a suite run depends on (saved in results.json, so a result says how it was made)."""

    tasks: list[str] = field(default_factory=lambda: list(BUILDERS))
    sizes: list[str] = field(default_factory=lambda: list(SIZES))
    seed: int = 0
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    n_train: int = 20000
    n_test: int = 2000
    max_length: int = 96
    vocab_size: int = 4096
    kappa_init: str = "zero"
    task_files: list[str] = field(default_factory=list)

    @classmethod
    def quick(cls, **overrides: Any) -> SuiteOptions:
        """The tiny and small sizes, small data, few steps: minutes on two CPU cores."""
        base = cls(
            sizes=["tiny", "small"], steps=60, batch_size=16, n_train=2000, n_test=400, max_length=40, vocab_size=2048
        )
        return replace(base, **overrides)

    def validate(self) -> None:
        """Raise `ConfigError` naming the first bad option and what is allowed."""
        for kind, names, allowed in (("task", self.tasks, BUILDERS), ("size", self.sizes, SIZES)):
            if set(names) - set(allowed):
                raise ConfigError(unknown_names(kind, set(names) - set(allowed), allowed))
        if not self.sizes or not (self.tasks or self.task_files):
            raise ConfigError("the suite needs at least one size and one task (or --task-file)")
        if self.kappa_init not in INITS:
            raise ConfigError(f"kappa_init must be one of {', '.join(INITS)}, got {self.kappa_init!r}")
        check_budget(self, "suite")


def build_tasks(options: SuiteOptions, lexicon: Lexicon | None = None) -> list[Task]:
    """The built-in tasks asked for (reading the embedded WordNet only if one is) and the user's task files."""
    tasks = []
    if options.tasks:
        lexicon = lexicon or load_lexicon()
        tasks = [BUILDERS[name](lexicon, options.n_train, options.n_test, options.seed) for name in options.tasks]
    return tasks + [load_task_file(Path(path), options.seed) for path in options.task_files]


def run_suite(options: SuiteOptions, out: Path, lexicon: Lexicon | None = None) -> dict[str, Any]:
    """Run every task x size x {geometric, standard}; write results.json, report.md and figures into `out`."""
    options.validate()
    started = time.perf_counter()
    tasks = build_tasks(options, lexicon)
    tokenizer = train_tokenizer([text for task in tasks for text in task.texts()], options.vocab_size)
    save_tokenizer(tokenizer, out / "tokenizer")
    encoded = {
        task.name: (
            encode(task, task.train, tokenizer, options.max_length),
            encode(task, task.test, tokenizer, options.max_length),
        )
        for task in tasks
    }
    setup = RunSetup(options, tokenizer, run_args(options.steps, options.batch_size, options.lr, options.seed), out)
    plan = [(task, size, arch) for task in tasks for size in options.sizes for arch in ARCHS]
    runs = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        overall = progress.add_task("suite runs", total=len(plan))
        steps = progress.add_task("", total=options.steps)
        for task, size, arch in plan:
            progress.reset(steps, description=f"{task.name} {size} {arch}")
            runs.append(
                one_run(setup, task, size, arch, encoded[task.name], lambda s, _: progress.update(steps, completed=s))
            )
            progress.advance(overall)
    results = {
        "options": asdict(options),
        "tokenizer": {"vocab_size": len(tokenizer), "path": str(out / "tokenizer")},
        "tasks": [task_summary(task) for task in tasks],
        "runs": runs,
        "comparisons": compare(runs),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    write_text_atomic(out / "results.json", json.dumps(results, indent=2))
    plot_results(results, out)
    write_report(results, out / "report.md")
    return results


@dataclass
class RunSetup:
    """What every run of one suite shares."""

    options: SuiteOptions
    tokenizer: PreTrainedTokenizerFast
    args: TrainArgs
    out: Path


def one_run(
    setup: RunSetup,
    task: Task,
    size: str,
    arch: str,
    data: tuple[Encoded, Encoded],
    on_step: Callable[[int, float], None],
) -> dict[str, Any]:
    """Train and score one model; its census when it has curvature heads."""
    options = setup.options
    model = build_model(task, size, arch, setup.tokenizer, options.seed, options.kappa_init)
    run_dir = setup.out / "runs" / f"{task.name}-{size}-{arch}"
    started = time.perf_counter()
    final_loss = train_model(model, data[0], setup.args, run_dir, setup.tokenizer, on_step)
    seconds = time.perf_counter() - started
    value = evaluate(model, task, data[1], options.batch_size)
    run = {
        "task": task.name,
        "size": size,
        "arch": arch,
        "preset": preset_name(size, arch),
        "metric": task.metric,
        "value": value,
        "final_train_loss": final_loss,
        "parameters": count_parameters(model),
        "train_s": round(seconds, 2),
    }
    census = head_census(model)
    if len(census):
        run["census"] = {k: int(v) for k, v in census_counts(census).loc["all"].items()}
        run["kappa"] = [round(float(k), 4) for k in census["kappa"]]
    return run


def compare(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per task x size: both values and the delta (positive: the geometric model did better)."""
    by_key = {(r["task"], r["size"], r["arch"]): r for r in runs}
    rows = []
    for (task, size, arch), geometric in by_key.items():
        standard = by_key.get((task, size, "standard"))
        if arch != "geometric" or standard is None:
            continue
        metric = geometric["metric"]
        rows.append(
            {
                "task": task,
                "size": size,
                "metric": metric,
                "geometric": geometric["value"],
                "standard": standard["value"],
                "delta": scoring.delta(metric, geometric["value"], standard["value"]),
                "census": geometric.get("census", {}),
            }
        )
    return rows


def task_summary(task: Task) -> dict[str, Any]:
    return {
        "name": task.name,
        "kind": task.kind,
        "metric": task.metric,
        "labels": task.labels,
        "train": len(task.train),
        "test": len(task.test),
        "description": task.description,
        "source": task.source,
    }
