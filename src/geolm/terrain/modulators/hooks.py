"""Attach a modulator to the blocks of a model with forward hooks, and take it off again.

Each block's output is handed to `modulator(hidden, layer, token_ids)` and replaced by what it returns, so
the next block (or the final norm) reads the modulated residual stream; no model code changes. Token ids are
read by a hook on the input embedding, which every geolm and HF model calls with `input_ids`; a hook on the
model itself clears them first, so a call with `inputs_embeds` never sees stale ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from geolm.errors import InputError

_LAYER_COUNT_KEYS = ("num_hidden_layers", "num_layers", "n_layer")


def find_blocks(model: nn.Module) -> nn.ModuleList:
    """The first ModuleList of identical blocks whose length is the config's layer count.

    This is `model.layers` for geolm and Llama, `encoder.layer` for BERT, `transformer.h` for GPT-2 and the
    encoder's `block` for T5 (the encoder comes first in module order).
    """
    config = getattr(model, "config", None)
    counts = {getattr(config, key, None) for key in _LAYER_COUNT_KEYS} - {None}
    for _, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) in counts and len({type(block) for block in module}) == 1:
            return module
    raise InputError(f"{type(model).__name__}: no list of {sorted(counts) or '?'} blocks found; pass blocks=")


def _replace_hidden(output: Any, hidden: torch.Tensor) -> Any:
    """The block output with its hidden states swapped (blocks return a tensor or a tuple led by one)."""
    if isinstance(output, torch.Tensor):
        return hidden
    return (hidden, *output[1:])


class AttachedModulator:
    """A modulator hooked into a model; `detach()` (or leaving the `with` block) removes every hook."""

    def __init__(self, model: nn.Module, modulator: nn.Module, blocks: nn.ModuleList, layers: Sequence[int]) -> None:
        self.model, self.modulator, self.layers = model, modulator, tuple(layers)
        self.enabled = True
        self._token_ids: torch.Tensor | None = None
        self._handles: list[RemovableHandle] = [
            model.register_forward_pre_hook(self._clear_ids),
            model.get_input_embeddings().register_forward_pre_hook(self._read_ids),
        ]
        self._handles += [blocks[i].register_forward_hook(self._hook(i)) for i in self.layers]

    def _clear_ids(self, module: nn.Module, args: tuple) -> None:
        self._token_ids = None

    def _read_ids(self, module: nn.Module, args: tuple) -> None:
        self._token_ids = args[0] if args and isinstance(args[0], torch.Tensor) else None

    def _hook(self, layer: int):
        def hook(module: nn.Module, args: tuple, output: Any) -> Any:
            if not self.enabled:
                return output
            hidden = output if isinstance(output, torch.Tensor) else output[0]
            ids = self._token_ids
            if ids is not None and ids.shape != hidden.shape[:2]:
                ids = None
            modulated = self.modulator(hidden, layer, ids)
            return _replace_hidden(output, modulated.to(hidden.dtype))

        return hook

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def detach(self) -> None:
        """Remove every hook; the model computes exactly what it did before attaching."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @contextmanager
    def disabled(self) -> Iterator[None]:
        """Run the base model (hooks stay registered but pass outputs through)."""
        previous, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = previous

    def __enter__(self) -> AttachedModulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()


def attach(
    model: nn.Module,
    modulator: nn.Module,
    layers: Sequence[int] | None = None,
    blocks: nn.ModuleList | None = None,
) -> AttachedModulator:
    """Hook `modulator` after each chosen block of `model` (all blocks by default)."""
    blocks = find_blocks(model) if blocks is None else blocks
    chosen = list(range(len(blocks))) if layers is None else list(layers)
    bad = [i for i in chosen if not 0 <= i < len(blocks)]
    if bad:
        raise InputError(f"layers {bad} out of range: the model has {len(blocks)} blocks (0..{len(blocks) - 1})")
    n_layers = getattr(modulator, "n_layers", len(blocks))
    if max(chosen, default=-1) >= n_layers:
        raise InputError(f"the modulator has alphas for {n_layers} layers but layer {max(chosen)} was chosen")
    return AttachedModulator(model, modulator, blocks, chosen)
