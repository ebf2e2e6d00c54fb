"""AdamW over parameter groups: one torch group per (named group, decays?) pair.

Norm weights, biases (anything with fewer than two dimensions) and embedding tables get no weight decay:
decaying them shrinks scales and token vectors toward zero without regularising anything useful. A tied
output head shares the embedding tensor, so it follows the embedding.
"""

from __future__ import annotations

import torch
from torch import nn

from geolm.training.args import TrainArgs
from geolm.training.curriculum import Curriculum, Phase


def no_decay_names(model: nn.Module) -> set[str]:
    """Names of parameters that get no weight decay: 0-d/1-d tensors and embedding tables."""
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return {name for name, p in model.named_parameters() if p.ndim < 2 or id(p) in embedding_ids}


def param_groups(model: nn.Module, curriculum: Curriculum, weight_decay: float) -> list[dict]:
    """Torch parameter groups, each tagged with its named `group` and the parameter `names` it holds."""
    skip_decay = no_decay_names(model)
    groups: dict[tuple[str, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decays = name not in skip_decay
        key = (curriculum.group_of(name), decays)
        group = groups.setdefault(
            key, {"params": [], "names": [], "group": key[0], "weight_decay": weight_decay if decays else 0.0}
        )
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())


def build_optimizer(model: nn.Module, curriculum: Curriculum, args: TrainArgs) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        param_groups(model, curriculum, args.weight_decay), lr=args.lr, betas=args.betas, eps=args.eps
    )


def set_learning_rates(optimizer: torch.optim.Optimizer, lr: float, phase: Phase) -> None:
    """Scheduled `lr` times the phase's multiplier of each group (1 for groups it does not name)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * phase.lr_mult.get(group["group"], 1.0)
