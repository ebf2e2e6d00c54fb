"""Two claims of the seed, measured rather than repeated: "no catastrophic forgetting: tasks at different
coordinates never interfere" and "100% routing accuracy".

Forgetting: a model learns task A (glossary text), then task B (arithmetic reasoning); A's held-out loss
before and after B, for the coordinate model and for the baseline Llama of the same shape (the same config
with `modulation="none"`), trained identically (the shared trainer, coordinate parameters at the curriculum's
learning-rate multiplier). Routing: is the task of a sequence linearly readable from its coordinates? A
logistic regression on the mean theta_ctx of each sequence, accuracy on held-out sequences, for a fresh model,
the A-then-B model and a model trained with the three-phase curriculum.

    python -m geolm.experiments.coordinate_claims --steps 200 --seeds 2 --out runs/claims
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
import typer
from torch import nn
from transformers import PreTrainedTokenizerFast

from geolm.config import GeoConfig
from geolm.coordinate.curriculum import (
    BASE_LR,
    COORDINATE_GROUP,
    COORDINATE_LR,
    COORDINATE_PATTERNS,
    coordinate_curriculum,
    coordinate_sources,
)
from geolm.coordinate.modulation import find_modulation
from geolm.data import TokenBlocks, minimal_pairs, reasoning_items
from geolm.data.corpus import glossary
from geolm.data.packing import encode_documents, pack
from geolm.data.tokenizer import train_tokenizer
from geolm.modeling import GeoForCausalLM
from geolm.training import Curriculum, Phase, TrainArgs, train


@dataclass(frozen=True)
class ClaimSettings:
    """Sizes of the experiments: tiny by default, a few minutes on two CPU cores for two seeds."""

    preset: str = "geometric-llama-tiny"
    steps: int = 200
    batch_size: int = 8
    block_size: int = 64
    lr: float = BASE_LR * 3
    documents: int = 3000
    heldout_documents: int = 300
    vocab_size: int = 512
    seed: int = 0


@dataclass(frozen=True)
class Tasks:
    """Documents of the two tasks, by split, and the tokenizer trained on their training texts."""

    documents: dict[str, dict[str, list[str]]]
    tokenizer: PreTrainedTokenizerFast


def load_tasks(settings: ClaimSettings) -> Tasks:
    """Task A "glossary" and task B "arithmetic", `documents` (train) and `heldout_documents` of each."""
    documents = {}
    for split, limit in (("train", settings.documents), ("heldout", settings.heldout_documents)):
        documents[split] = {
            "glossary": list(itertools.islice(glossary(split), limit)),
            "arithmetic": [
                item["text"]
                for item in itertools.islice(
                    (i for i in reasoning_items(split, settings.seed) if i["kind"] == "arithmetic"), limit
                )
            ],
        }
    texts = [text for task in documents["train"].values() for text in task]
    return Tasks(documents, train_tokenizer(texts, settings.vocab_size))


def blocks(tasks: Tasks, split: str, task: str, block_size: int) -> TokenBlocks:
    tokenizer = tasks.tokenizer
    encoded = encode_documents(tokenizer, tasks.documents[split][task])
    return pack(encoded, block_size, tokenizer.pad_token_id, description=f"tokenizing {task}")


def build_model(settings: ClaimSettings, tokenizer: PreTrainedTokenizerFast, modulation: str, seed: int):
    """The preset sized to the tokenizer; `modulation="none"` is the baseline Llama of the same shape."""
    special = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    options = {} if modulation == "coordinate" else {"modulation": modulation, "part_options": {}}
    torch.manual_seed(seed)
    return GeoForCausalLM(GeoConfig.from_preset(settings.preset, **special, **options))


def fit(
    model: nn.Module,
    data: TokenBlocks | dict[str, TokenBlocks],
    settings: ClaimSettings,
    run_dir: Path,
    curriculum: Curriculum | None = None,
    seed: int = 0,
) -> None:
    """`settings.steps` steps of the shared trainer; one LM phase unless a curriculum is given."""
    plan = curriculum or Curriculum(
        [Phase("main", lr_mult={COORDINATE_GROUP: COORDINATE_LR / BASE_LR})],
        {COORDINATE_GROUP: list(COORDINATE_PATTERNS)},
    )
    args = TrainArgs.short_run(settings.steps, settings.batch_size, settings.lr, seed, logs=10)
    train(model, data, None, args, run_dir, curriculum=plan)


@torch.no_grad()
def heldout_loss(model: nn.Module, data: TokenBlocks, batch_size: int = 16) -> float:
    """Token-weighted mean next-token loss over every block."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(data), batch_size):
        ids, labels = data.input_ids[start : start + batch_size], data.labels[start : start + batch_size]
        tokens = int((labels[:, 1:] != -100).sum())
        if tokens:
            total += float(model(input_ids=ids, labels=labels, use_cache=False).loss) * tokens
            count += tokens
    return total / max(count, 1)


@torch.no_grad()
def mean_features(model: nn.Module, sequences: list[list[int]], kind: str = "theta_ctx") -> torch.Tensor:
    """Mean over the tokens of each sequence (N, D), float64, of theta_ctx or (a control that involves no
    coordinates) of the input embeddings; right padding is masked out."""
    length = max(len(s) for s in sequences)
    ids = torch.tensor([s + [0] * (length - len(s)) for s in sequences])
    mask = torch.tensor([[1.0] * len(s) + [0.0] * (length - len(s)) for s in sequences])
    values = model.get_input_embeddings()(ids).float()
    if kind == "theta_ctx":
        values = find_modulation(model).coordinates(values)[1]
    return ((values * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).double()


def logistic_accuracy(features: torch.Tensor, labels: torch.Tensor, seed: int, l2: float = 1e-3) -> float:
    """Held-out accuracy of a multinomial logistic regression: a seeded half of each class trains it
    (standardised features, L2 `l2`, L-BFGS), the other half tests it."""
    generator = torch.Generator().manual_seed(seed)
    train_rows, test_rows = [], []
    for label in labels.unique():
        rows = torch.nonzero(labels == label).flatten()
        rows = rows[torch.randperm(len(rows), generator=generator)]
        train_rows.append(rows[: len(rows) // 2])
        test_rows.append(rows[len(rows) // 2 :])
    train_idx, test_idx = torch.cat(train_rows), torch.cat(test_rows)
    mean, std = features[train_idx].mean(0), features[train_idx].std(0) + 1e-12
    x = (features - mean) / std
    classes = int(labels.max()) + 1
    weight = torch.zeros(x.shape[1], classes, dtype=x.dtype, requires_grad=True)
    bias = torch.zeros(classes, dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        logits = x[train_idx] @ weight + bias
        loss = nn.functional.cross_entropy(logits, labels[train_idx]) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        predicted = (x[test_idx] @ weight + bias).argmax(-1)
    return float((predicted == labels[test_idx]).double().mean())


def routing_sets(tasks: Tasks, settings: ClaimSettings) -> dict[str, list[list[str]]]:
    """Named groups of texts to tell apart: the two tasks, formal/informal and singular/plural sentences."""
    heldout = tasks.documents["heldout"]
    pairs = list(minimal_pairs("train", settings.seed))
    limit = settings.heldout_documents
    register = [(a, b) for a, b, kind in pairs if kind == "register"][:limit]
    number = [(a, b) for a, b, kind in pairs if kind == "number"][:limit]
    return {
        "glossary vs arithmetic": [heldout["glossary"], heldout["arithmetic"]],
        "formal vs informal": [[a for a, _ in register], [b for _, b in register]],
        "singular vs plural": [[a for a, _ in number], [b for _, b in number]],
    }


def routing(
    model: nn.Module, tasks: Tasks, settings: ClaimSettings, seed: int, kind: str = "theta_ctx"
) -> dict[str, float]:
    """Held-out routing accuracy of each routing set from `mean_features` of `kind` (chance: 0.5)."""
    tokenizer = tasks.tokenizer
    accuracies = {}
    for name, groups in routing_sets(tasks, settings).items():
        sequences = [tokenizer(text).input_ids[: settings.block_size] for group in groups for text in group]
        labels = torch.tensor([index for index, group in enumerate(groups) for _ in group])
        accuracies[f"routing from {kind}: {name}"] = logistic_accuracy(
            mean_features(model, sequences, kind), labels, seed
        )
    return accuracies


def run_claims(settings: ClaimSettings, seeds: int = 1, workdir: Path | None = None) -> pd.DataFrame:
    """One row per (seed, model, measurement); `workdir` keeps the runs (a temporary directory otherwise)."""
    tasks = load_tasks(settings)
    data = {
        (split, task): blocks(tasks, split, task, settings.block_size)
        for split in ("train", "heldout")
        for task in ("glossary", "arithmetic")
    }
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(workdir or scratch)
        for seed in range(settings.seed, settings.seed + seeds):
            rows += forgetting_rows(tasks, data, settings, root / f"seed{seed}", seed)
            rows += curriculum_rows(tasks, settings, root / f"seed{seed}", seed)
    return pd.DataFrame(rows)


def forgetting_rows(tasks: Tasks, data: dict, settings: ClaimSettings, root: Path, seed: int) -> list[dict]:
    """Task A then task B for the coordinate model and its baseline; routing of the coordinate model."""
    rows = []
    for modulation in ("coordinate", "none"):
        model = build_model(settings, tasks.tokenizer, modulation, seed)
        label = "coordinate" if modulation == "coordinate" else "baseline"
        base = {"seed": seed, "model": label, "parameters": sum(p.numel() for p in model.parameters())}
        if modulation == "coordinate":
            fresh = {
                **routing(model, tasks, settings, seed),
                **routing(model, tasks, settings, seed, "embedding"),
            }
            rows += [{**base, "stage": "fresh", "measure": k, "value": v} for k, v in fresh.items()]
        losses = {}
        for task in ("glossary", "arithmetic"):
            fit(model, data[("train", task)], settings, root / f"{label}-{task}", seed=seed)
            for evaluated in ("glossary", "arithmetic"):
                losses[(task, evaluated)] = heldout_loss(model, data[("heldout", evaluated)])
        forgetting = losses[("arithmetic", "glossary")] - losses[("glossary", "glossary")]
        measures = {
            "A loss after A": losses[("glossary", "glossary")],
            "A loss after B": losses[("arithmetic", "glossary")],
            "A forgetting (after B - after A)": forgetting,
            "B loss after A": losses[("glossary", "arithmetic")],
            "B loss after B": losses[("arithmetic", "arithmetic")],
        }
        rows += [{**base, "stage": "A then B", "measure": k, "value": v} for k, v in measures.items()]
        if modulation == "coordinate":
            rows += [
                {**base, "stage": "A then B", "measure": k, "value": v}
                for k, v in routing(model, tasks, settings, seed).items()
            ]
    return rows


def curriculum_rows(tasks: Tasks, settings: ClaimSettings, root: Path, seed: int) -> list[dict]:
    """Routing of a coordinate model trained for `steps` with the three-phase curriculum."""
    model = build_model(settings, tasks.tokenizer, "coordinate", seed)
    sources = coordinate_sources(tasks.tokenizer, settings.block_size, seed, max_documents=settings.documents)
    fit(model, sources, settings, root / "curriculum", coordinate_curriculum(corpus_share=0.0), seed)
    base = {"seed": seed, "model": "coordinate", "parameters": sum(p.numel() for p in model.parameters())}
    return [
        {**base, "stage": "3-phase curriculum", "measure": k, "value": v}
        for k, v in routing(model, tasks, settings, seed).items()
    ]


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max over seeds of every (model, stage, measure)."""
    grouped = frame.groupby(["model", "stage", "measure"], sort=False)["value"]
    return grouped.agg(["mean", "min", "max", "count"]).reset_index()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """The table at `path`, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(temp, index=False)
    os.replace(temp, path)


def main(
    steps: int = typer.Option(ClaimSettings.steps, help="training steps per task (and for the curriculum)"),
    seeds: int = typer.Option(2, help="how many seeds, starting at --seed"),
    seed: int = typer.Option(0, help="first seed"),
    documents: int = typer.Option(ClaimSettings.documents, help="training documents per task"),
    out: Path | None = typer.Option(None, help="directory for claims.csv and summary.csv"),
) -> None:
    """Run both claims and print the summary over seeds."""
    settings = ClaimSettings(steps=steps, documents=documents, seed=seed)
    frame = run_claims(settings, seeds)
    table = summary(frame)
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        typer.echo(f"settings: {asdict(settings)}")
        typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}" if math.isfinite(v) else "nan"))
    if out is not None:
        write_csv(frame, out / "claims.csv")
        write_csv(table, out / "summary.csv")


if __name__ == "__main__":
    typer.run(main)
