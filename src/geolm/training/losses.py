"""Loss terms by name: a curriculum phase lists names and weights, systems register their own terms.

A loss term is `fn(model, batch, outputs) -> scalar tensor`: `model` is the unwrapped model, `batch` the
micro-batch the model just saw (`input_ids`, `labels`) and `outputs` what its forward returned. The trainer
sums the weighted terms; it never needs to know what a term computes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from geolm.nn.registry import Registry

LossFn = Callable[[nn.Module, Mapping[str, torch.Tensor], Any], torch.Tensor]

LOSSES: Registry[LossFn] = Registry("loss", noun="loss")


@LOSSES.register("lm")
def lm_loss(model: nn.Module, batch: Mapping[str, torch.Tensor], outputs: Any) -> torch.Tensor:
    """The model's own next-token loss, which every HF causal LM returns when given `labels`."""
    return outputs.loss
