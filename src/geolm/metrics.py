"""Extra numbers a model reports for every training log record (κ per head, say): each family names its
function in its `geolm.systems.Family`, imported when the trainer first logs."""

from __future__ import annotations

from torch import nn

from geolm.systems import metrics_functions


def model_metrics(model: nn.Module) -> dict[str, float]:
    """The merged numbers every family's function reports for `model`."""
    merged: dict[str, float] = {}
    for metrics in metrics_functions():
        merged.update(metrics(model))
    return merged
