"""Extra numbers a model reports for every training log record (κ per head, say); systems register theirs.

Kept apart from the trainer so that registering costs a system no heavy import.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

MODEL_METRICS: list[Callable[[nn.Module], dict[str, float]]] = []


def model_metrics(model: nn.Module) -> dict[str, float]:
    """The merged numbers every registered function reports for `model`."""
    merged: dict[str, float] = {}
    for metrics in MODEL_METRICS:
        merged.update(metrics(model))
    return merged
