"""One suite run: build the geometric or standard model of a size for a task, train it, score it.

Training is the library's trainer (`geolm.training.train`) over the task's padded examples. Both models of a
comparison see the same batches in the same order, for the same number of steps, from the same seed; they
differ only in attention (the `-baseline` preset twins). Each run directory gets the trainer's metrics.jsonl
(step, loss, lr, tokens_per_s, and κ per head for the geometric model), so `geolm plot` draws a run while it
trains, and the trained model in `last/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from transformers import PreTrainedTokenizerFast

from geolm.config import GeoConfig
from geolm.data.packing import IGNORE
from geolm.errors import ConfigError
from geolm.experiments import scoring
from geolm.experiments.encode import Encoded
from geolm.experiments.tasks import Task
from geolm.modeling import GeoForCausalLM, GeoForSequenceClassification, GeoForTokenClassification
from geolm.training import TrainArgs, train

ARCHS = ("geometric", "standard")
SIZES = ("tiny", "small", "medium", "large")
MODEL_CLASSES = {
    "lm": GeoForCausalLM,
    "classify": GeoForSequenceClassification,
    "tag": GeoForTokenClassification,
}


def check_budget(options: object, what: str) -> None:
    """Raise `ConfigError` naming the first of an experiment's run sizes below 1, or a learning rate <= 0."""
    for key in ("steps", "batch_size", "n_train", "n_test", "max_length"):
        if getattr(options, key) < 1:
            raise ConfigError(f"{what} option {key!r} must be at least 1, got {getattr(options, key)}")
    if options.lr <= 0:
        raise ConfigError(f"{what} option 'lr' must be positive, got {options.lr}")


def preset_name(size: str, arch: str) -> str:
    return f"curvature-{size}" if arch == "geometric" else f"curvature-{size}-baseline"


def build_model(
    task: Task, size: str, arch: str, tokenizer, seed: int, kappa_init: str = "zero", **shape: int
) -> nn.Module:
    """The model of one run, its vocabulary and special ids taken from the suite's tokenizer; `shape`
    overrides config fields of the size's preset (head counts, for instance)."""
    overrides: dict = {
        **shape,
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if arch == "geometric":
        overrides["part_options"] = {"attention": {"init": kappa_init}}
    if task.kind != "lm":
        overrides["num_labels"] = len(task.labels)
    config = GeoConfig.from_preset(preset_name(size, arch), **overrides)
    torch.manual_seed(seed)
    return MODEL_CLASSES[task.kind](config)


def run_args(steps: int, batch_size: int, lr: float, seed: int) -> TrainArgs:
    """What every run of a comparison gets: the trainer's short-run schedule (warmup over a tenth of the
    steps, then cosine decay to 10%), light weight decay, and a quiet console for the suite's own progress."""
    return replace(TrainArgs.short_run(steps, batch_size, lr, seed), weight_decay=0.01, quiet=True)


def train_model(
    model: nn.Module,
    data: Encoded,
    args: TrainArgs,
    run_dir: Path,
    tokenizer: PreTrainedTokenizerFast | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> float:
    """Train in place with the library's trainer (records in RUN_DIR/metrics.jsonl, the model in RUN_DIR/last);
    returns the last step's loss."""
    result = train(model, data, None, args, run_dir, tokenizer=tokenizer, on_step=on_step)
    return result.losses[result.step]


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, data: Encoded, batch_size: int) -> float:
    """The task's metric on `data`: accuracy, entity F1 or perplexity."""
    model.eval()
    gold, predicted = [], []
    total_loss, tokens = 0.0, 0
    for start in range(0, len(data), batch_size):
        batch = data.batch(torch.arange(start, min(start + batch_size, len(data))))
        labels = batch.pop("labels")
        logits = model(**batch).logits.float()
        if task.kind == "lm":
            targets = labels[:, 1:]
            losses = torch.nn.functional.cross_entropy(
                logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE, reduction="sum"
            )
            total_loss += float(losses)
            tokens += int((targets != IGNORE).sum())
        elif task.kind == "tag":
            for row_labels, row_predicted in zip(labels, logits.argmax(-1), strict=True):
                keep = row_labels != IGNORE
                gold.append([task.labels[i] for i in row_labels[keep].tolist()])
                predicted.append([task.labels[i] for i in row_predicted[keep].tolist()])
        else:
            gold += labels.tolist()
            predicted += logits.argmax(-1).tolist()
    model.train()
    if task.kind == "lm":
        return scoring.perplexity(total_loss, tokens)
    if task.kind == "tag":
        return scoring.entity_f1(gold, predicted)
    return scoring.accuracy(gold, predicted)
