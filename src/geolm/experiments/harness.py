"""`geolm eval`: score a checkpoint with lm-evaluation-harness, offline, in this process.

The model goes to lm-eval as the loaded `PreTrainedModel` inside its `HFLM` wrapper, so whatever `import
geolm` registered is what runs, with no second load and no hub. Tasks are the WordNet tasks geolm writes
(`geolm.experiments.wordnet_tasks`, tag `geolm_wordnet`), any task lm-eval ships whose data is on disk, and
the user's own task YAMLs (`include`). Results are lm-eval's JSON and its markdown table.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from geolm.errors import ConfigError, did_you_mean
from geolm.experiments.wordnet_tasks import HEADLINE_METRICS, TAG, TASKS, write_tasks
from geolm.files import write_text_atomic

KEPT = ("results", "groups", "configs", "versions", "n-shot", "higher_is_better", "n-samples")


def markdown_table(results: dict[str, Any]) -> str:
    """One row per task and metric: the value with its standard error, and how many items were scored."""
    lines = ["| task | metric | value | ± stderr | items |", "|---|---|---:|---:|---:|"]
    for task, metrics in sorted(results["results"].items()):
        items = results.get("n-samples", {}).get(task, {}).get("effective", "")
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key or not isinstance(value, int | float):
                continue
            metric, filtered = key.split(",", 1)
            stderr = metrics.get(f"{metric}_stderr,{filtered}")
            shown = f"{stderr:.4f}" if isinstance(stderr, int | float) else "-"
            lines.append(f"| {task} | {metric} | {value:.4f} | {shown} | {items} |")
    return "\n".join(lines)


def headline(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Each WordNet task's headline metric (`HEADLINE_METRICS`) and its standard error, from lm-eval's results."""
    scores = {}
    for task, key in HEADLINE_METRICS.items():
        if task in results["results"]:
            metric, filtered = key.split(",")
            found = results["results"][task]
            scores[task] = (float(found[key]), float(found[f"{metric}_stderr,{filtered}"]))
    return scores


def task_manager(task_dir: Path, include: list[Path], tasks: Collection[str] | None = None) -> Any:
    """lm-eval's index of the tasks in `task_dir` and `include`, and of every task lm-eval ships unless `tasks`
    (the names the manager will be asked for) are all geolm's own: indexing lm-eval's thousands of task files
    takes seconds, which an evaluation of the WordNet tasks alone need not spend."""
    from lm_eval.tasks import TaskManager

    for path in include:
        if not path.exists():
            raise ConfigError(f"--include {path}: no such file or directory")
    own = tasks is not None and not include and set(tasks) <= {*TASKS, TAG}
    return TaskManager(
        include_path=[str(task_dir), *(str(p) for p in include)], include_defaults=not own, verbosity="ERROR"
    )


def check_tasks(manager: Any, tasks: list[str]) -> None:
    """Every name must be a task, group or tag lm-eval knows; a misspelt one is named, with a suggestion."""
    known = set(manager.all_tasks)
    for name in tasks:
        if name not in known:
            raise ConfigError(f"--tasks: unknown task {name!r}{did_you_mean(name, known)}")


def evaluate(
    model: Any,
    tokenizer: Any,
    tasks: list[str],
    out: Path,
    *,
    limit: int | None = None,
    include: list[Path] | None = None,
    batch_size: int = 8,
    manager: Any = None,
) -> dict[str, Any]:
    """Run `tasks` on `model`; write OUT/results.json (lm-eval's results) and OUT/results.md; return results.

    `manager` (from `task_manager`) may serve many calls: building one indexes every task lm-eval ships, which
    takes seconds; without it the WordNet tasks are written to OUT/tasks and a manager is built for this call.
    """
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    if manager is None:
        manager = task_manager(write_tasks(out / "tasks"), include or [], tasks)
    check_tasks(manager, tasks)
    wrapped = HFLM(
        pretrained=model,
        tokenizer=tokenizer,
        batch_size=batch_size,
        max_length=model.config.max_position_embeddings,
        device=str(model.device),
    )
    results = simple_evaluate(model=wrapped, tasks=tasks, task_manager=manager, limit=limit, log_samples=False)
    kept = {key: results[key] for key in KEPT if key in results}
    table = markdown_table(kept)
    write_text_atomic(out / "results.json", json.dumps(kept, indent=2, default=str) + "\n")
    write_text_atomic(out / "results.md", table + "\n")
    return {**kept, "table": table}
