"""Test-time refinement: a few gradient steps on the coordinates of a given text, the weights held fixed.

objective(theta) = mean over tokens of -log p(x[t+1] | x[<=t], theta)
                   + lam * mean over tokens of ||theta[t] - theta_proposed[t]||^2,
where theta_proposed is the predictor's amortised guess. The loss reads every token of the text, so refined
coordinates of position t depend on later tokens: this is analysis of a known text (or of a prompt before
generation starts), not part of the causal model. Skipping it is the fast path and the default.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from geolm.coordinate.modulation import coordinate_override, find_modulation
from geolm.errors import InputError


def refine_coordinates(
    model: PreTrainedModel, input_ids: torch.Tensor, steps: int = 5, lr: float = 0.05, lam: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Refined theta (B, T, D) for `input_ids` (B, T) and the objective before each step and after the last.

    Adam moves only theta; the model's parameters and their `.grad` are left untouched.
    """
    if input_ids.dim() != 2 or input_ids.shape[1] < 2:
        shape = tuple(input_ids.shape)
        raise InputError(f"refinement needs input_ids of shape (batch, length >= 2), got {shape}")
    if steps < 0 or lr <= 0 or lam < 0:
        raise InputError(f"refinement needs steps >= 0, lr > 0 and lam >= 0, got {steps}, {lr}, {lam}")
    modulation = find_modulation(model)
    with torch.no_grad():
        proposed = modulation.coordinates(model.get_input_embeddings()(input_ids))[0]
    theta = proposed.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=lr)
    objectives = []
    was_training = model.training
    model.eval()
    try:
        for step in range(steps + 1):
            with torch.enable_grad(), coordinate_override(model, theta):
                nll = model(input_ids, labels=input_ids, use_cache=False).loss
                objective = nll + lam * (theta - proposed).pow(2).sum(-1).mean()
            objectives.append(objective.detach())
            if step == steps:
                break
            (theta.grad,) = torch.autograd.grad(objective, theta)
            optimizer.step()
    finally:
        model.train(was_training)
    return theta.detach(), torch.stack(objectives)
