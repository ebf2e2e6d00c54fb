"""Training a modulator with the base model frozen: a relational contrastive loss over WordNet pairs.

The loss is InfoNCE on pooled final hidden states: an item and its hypernym-chain partner should be each
other's nearest neighbour among the batch's partners (both directions). Only the modulator's parameters are
optimised; every base parameter has `requires_grad` switched off for the run (and restored after), so the
base receives no gradient and cannot change. The alphas are recorded after every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from rich.progress import track

from geolm.errors import InputError
from geolm.terrain.modulators.hooks import AttachedModulator


def pooled_hidden(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str]) -> torch.Tensor:
    """Final hidden state of each text run alone, mean over its non-special tokens (keeps the graph)."""
    device = next(model.parameters()).device
    batch = tokenizer(list(texts), padding=True, return_tensors="pt", return_special_tokens_mask=True)
    keep = (batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()).to(device)
    out = model(
        input_ids=batch["input_ids"].to(device),
        attention_mask=batch["attention_mask"].to(device),
        output_hidden_states=True,
    )
    last = getattr(out, "last_hidden_state", None)
    last = out.hidden_states[-1] if last is None else last
    weights = keep.unsqueeze(-1).to(last.dtype)
    return ((last * weights).sum(1) / weights.sum(1).clamp(min=1)).float()


@torch.no_grad()
def encode(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """`pooled_hidden` without gradients, in batches, as float64 numpy rows."""
    chunks = [pooled_hidden(model, tokenizer, texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return torch.cat(chunks).double().cpu().numpy()


def info_nce(anchors: torch.Tensor, partners: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: row i of each side should match row i of the other."""
    logits = F.normalize(anchors, dim=-1) @ F.normalize(partners, dim=-1).T / temperature
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@dataclass
class TrainingTrace:
    """Per-step loss, and per-step alphas (one row per step and layer, plus expert for field modulators)."""

    loss: pd.DataFrame
    alpha: pd.DataFrame


def train_modulator(
    attached: AttachedModulator,
    tokenizer: Any,
    texts: Sequence[str],
    pairs: np.ndarray,
    *,
    steps: int = 150,
    batch_size: int = 64,
    lr: float = 3e-3,
    temperature: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> TrainingTrace:
    """Optimise the attached modulator on (anchor, partner) indices into `texts`; the base stays frozen."""
    if len(pairs) < 2:
        raise InputError(f"need at least 2 training pairs, got {len(pairs)}")
    model, modulator = attached.model, attached.modulator
    base = list(model.parameters())
    flags = [p.requires_grad for p in base]
    rng = np.random.default_rng([seed, 0x4D4F44])
    optimizer = torch.optim.AdamW(modulator.parameters(), lr=lr, weight_decay=0.0)
    losses, alphas = [], []
    was_training = model.training
    try:
        for p in base:
            p.requires_grad_(False)
        model.eval()
        modulator.train()
        for step in track(range(steps), description="modulator training", disable=not progress, transient=True):
            batch = pairs[rng.choice(len(pairs), size=min(batch_size, len(pairs)), replace=False)]
            reps = pooled_hidden(model, tokenizer, [texts[i] for i in batch.reshape(-1)]).view(len(batch), 2, -1)
            loss = info_nce(reps[:, 0], reps[:, 1], temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(modulator.parameters(), 1.0)
            optimizer.step()
            losses.append({"step": step, "loss": float(loss.detach())})
            alphas.extend({"step": step, **row} for row in modulator.alpha_rows())
    finally:
        for p, flag in zip(base, flags, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
        modulator.eval()
    return TrainingTrace(loss=pd.DataFrame(losses), alpha=pd.DataFrame(alphas))
