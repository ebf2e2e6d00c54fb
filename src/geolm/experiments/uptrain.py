"""Does geometry help a pretrained model? The seeds' question asked where it can be answered.

A Llama-family checkpoint (`--base`, a local Hugging Face directory) is converted once per arm: "fine-tune"
is the plain conversion, trained as it is; every other arm adds its families' parts at identity (`geolm convert
--parts`) and trains with the `uptrain` recipe (the new parts first, the base frozen, then everything at a
lower rate). Every arm sees the same data (the embedded corpus unless `data` names files), tokens, batch,
block, peak learning rate and seed. Scores, for the base before any training too: the loss on the same
held-out blocks (the first `HELDOUT_BLOCKS` of the data's validation split) and the WordNet tasks' headline
metrics through lm-eval. Written: OUT/results.json and OUT/report.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from geolm.data.blocks import TokenBlocks
from geolm.errors import ConfigError
from geolm.experiments.reasoning_data import heldout_loss
from geolm.files import write_text_atomic

ARMS = ("fine-tune", "coordinate", "curvature", "experts", "integrator", "coordinate,curvature")
PLAIN = "fine-tune"
BASE = "base, not trained"  # the row every arm started from
HELDOUT_BLOCKS = 256  # held-out blocks every arm (and the base) is scored on, the same ones


@dataclass
class UptrainExperiment:
    """Everything a run depends on (saved with the results)."""

    base: Path
    arms: list[str] = field(default_factory=lambda: list(ARMS))
    data: list[Path] = field(default_factory=list)
    steps: int = 200
    batch_size: int = 8
    block_size: int = 128
    lr: float = 1e-4
    seed: int = 0
    max_train_tokens: int | None = 2_000_000
    eval_limit: int | None = 200

    @classmethod
    def quick(cls, base: Path, **overrides: Any) -> UptrainExperiment:
        """A smoke-test size: a few steps on a little of the data, a few questions per task."""
        small = {"steps": 4, "batch_size": 2, "block_size": 32, "max_train_tokens": 20_000, "eval_limit": 4}
        return cls(base=base, **{**small, **overrides})

    def check(self) -> None:
        if not (Path(self.base) / "config.json").is_file():
            raise ConfigError(f"--base {self.base}: no config.json; give a local Hugging Face checkpoint directory")
        for arm in self.arms:
            if arm != PLAIN and not all(arm.split(",")):
                raise ConfigError(f"arm {arm!r}: give {PLAIN!r} or comma-separated family names")
        for key in ("steps", "batch_size", "block_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"uptrain experiment option {key!r} must be at least 1, got {getattr(self, key)}")


def arm_parts(arm: str) -> list[str]:
    return [] if arm == PLAIN else arm.split(",")


def run_uptrain(options: UptrainExperiment, out: Path, progress=print) -> dict[str, Any]:
    """Convert, train and score every arm; write OUT/results.json and OUT/report.md."""
    from geolm import api
    from geolm.convert import convert_checkpoint
    from geolm.experiments.harness import evaluate, headline, task_manager
    from geolm.experiments.wordnet_tasks import TAG, write_tasks
    from geolm.training import TrainArgs

    options.check()
    if (out / "runs").exists() and any((out / "runs").iterdir()):
        raise ConfigError(f"{out} already holds uptrain runs; choose another --out or remove them")
    start = time.time()
    tasks = task_manager(write_tasks(out / "tasks"), [], [TAG])

    def score(model, tokenizer, name: str, heldout: TokenBlocks) -> dict[str, Any]:
        found = evaluate(model, tokenizer, [TAG], out / "eval" / name, limit=options.eval_limit, manager=tasks)
        return {"heldout_loss": heldout_loss(model, heldout, options.batch_size), "wordnet": headline(found)}

    plain = convert_checkpoint(options.base, out / "converted" / "base", [])
    model, tokenizer = api.load(plain, device="cpu")
    shape = {"block_size": options.block_size, "max_train_tokens": options.max_train_tokens}
    validation = api.token_blocks(api.RunSpec(data=tuple(options.data), **shape), tokenizer)[1]
    if validation is None:
        raise ConfigError("the data holds no held-out records to score the arms on")
    heldout = TokenBlocks(*validation.rows(torch.arange(min(len(validation), HELDOUT_BLOCKS))))
    runs = [{"arm": BASE, **score(model, tokenizer, "base", heldout)}]
    for arm in options.arms:
        progress(arm)
        slug = arm.replace(",", "+")
        parts = arm_parts(arm)
        converted = convert_checkpoint(options.base, out / "converted" / slug, parts)
        spec = api.RunSpec(
            init_from=converted,
            data=tuple(options.data),
            out=out / "runs" / slug,
            block_size=options.block_size,
            max_train_tokens=options.max_train_tokens,
            recipe="uptrain" if parts else "baseline",
            args=TrainArgs.short_run(options.steps, options.batch_size, options.lr, options.seed),
        )
        result = api.train(spec)
        model, tokenizer = api.load(result.last_checkpoint, device="cpu")
        runs.append({"arm": arm, **score(model, tokenizer, slug, heldout)})
    results = {"options": json.loads(json.dumps(asdict(options), default=str)), "runs": runs}
    results["wall_s"] = round(time.time() - start)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "report.md", report(results))
    return results


def report(results: dict[str, Any]) -> str:
    """The arms side by side: held-out loss and each WordNet task's headline metric (± its standard error)."""
    runs = results["runs"]
    tasks = list(runs[0]["wordnet"])
    options = results["options"]
    lines = [
        f"Base {options['base']}; {options['steps']} steps of {options['batch_size']} x {options['block_size']} "
        f"tokens per arm, peak lr {options['lr']}, seed {options['seed']}.",
        "",
        "| arm | held-out loss | " + " | ".join(tasks) + " |",
        "|---|---:|" + "---:|" * len(tasks),
    ]
    for run in runs:
        scores = " | ".join(f"{run['wordnet'][t][0]:.3f} ± {run['wordnet'][t][1]:.3f}" for t in tasks)
        lines.append(f"| {run['arm']} | {run['heldout_loss']:.4f} | {scores} |")
    return "\n".join(lines) + "\n"
