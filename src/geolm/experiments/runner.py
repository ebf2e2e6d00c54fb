"""One suite run: build the geometric or standard model of a size for a task, train it, score it.

The loop is a plain AdamW loop (warmup, then linear decay to 10%) over seeded batches. Both models of a
comparison see the same batches in the same order, for the same number of steps, from the same seed; they
differ only in attention (the `-baseline` preset twins). Every `log_every` steps a record in the trainer's
metrics.jsonl format (step, loss, lr, tokens_per_s, and κ per head for the geometric model) is appended,
so `geolm plot` draws a run while it trains.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from geolm.config import GeoConfig
from geolm.curvature.census import curvature_metrics
from geolm.data.packing import IGNORE
from geolm.errors import ConfigError
from geolm.experiments import scoring
from geolm.experiments.encode import Encoded
from geolm.experiments.tasks import Task
from geolm.modeling import GeoForCausalLM, GeoForSequenceClassification, GeoForTokenClassification
from geolm.training.optim import no_decay_names

ARCHS = ("geometric", "standard")
SIZES = ("tiny", "small", "medium", "large")
MODEL_CLASSES = {
    "lm": GeoForCausalLM,
    "classify": GeoForSequenceClassification,
    "tag": GeoForTokenClassification,
}
MIN_LR_RATIO = 0.1


@dataclass(frozen=True)
class Budget:
    """What every run of a suite gets: optimizer steps, batch size, peak learning rate, seed."""

    steps: int
    batch_size: int
    lr: float
    seed: int
    log_every: int = 10
    weight_decay: float = 0.01
    clip: float = 1.0


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


def batch_order(size: int, steps: int, batch_size: int, seed: int) -> list[torch.Tensor]:
    """Row indices of every step: seeded epoch permutations, cut into batches (the last batch may wrap)."""
    generator = torch.Generator().manual_seed(seed)
    needed = steps * batch_size
    order = torch.cat([torch.randperm(size, generator=generator) for _ in range(-(-needed // size))])
    return list(order[:needed].view(steps, batch_size))


def lr_at(step: int, budget: Budget) -> float:
    """Linear warmup over the first 10% of steps, then linear decay to `MIN_LR_RATIO` of the peak."""
    warmup = max(1, budget.steps // 10)
    if step < warmup:
        return budget.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, budget.steps - warmup)
    return budget.lr * (1 - (1 - MIN_LR_RATIO) * progress)


def train_model(
    model: nn.Module,
    data: Encoded,
    budget: Budget,
    metrics_path: Path,
    on_step: Callable[[int, float], None] | None = None,
) -> float:
    """Train in place; returns the last step's loss. Records go to `metrics_path` (replaced, not appended to)."""
    skip = no_decay_names(model)  # norms, κ, τ and embeddings: decay would only pull them to zero
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if n not in skip], "weight_decay": budget.weight_decay},
        {"params": [p for n, p in named if n in skip], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=budget.lr)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text("", encoding="utf-8")
    model.train()
    loss_value = float("nan")
    for step, index in enumerate(batch_order(len(data), budget.steps, budget.batch_size, budget.seed), 1):
        started = time.perf_counter()
        lr = lr_at(step - 1, budget)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = data.batch(index)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), budget.clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = float(loss.detach())
        tokens_per_s = float(batch["attention_mask"].sum()) / max(time.perf_counter() - started, 1e-9)
        if step % budget.log_every == 0 or step == budget.steps:
            record = {"step": step, "loss": loss_value, "lr": lr, "tokens_per_s": tokens_per_s}
            record.update(curvature_metrics(model))
            with metrics_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        if on_step is not None:
            on_step(step, loss_value)
    return loss_value


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
