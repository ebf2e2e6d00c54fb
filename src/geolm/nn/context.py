"""What one forward pass hands every part, and what parts hand back: losses, statistics, phase settings.

A part reads its inputs from the `ForwardContext` (positions, masks, the cache, state other parts computed)
and speaks back through it: `add_loss` for an auxiliary loss the trainer should add (router balance, ponder
cost), `add_stat` for a per-token statistic the trainer logs and `inference_stats` records (expert load,
iterations per token). The model copies both into its output as `aux_losses` and `part_stats`, so the
trainer, `generate()` and the CLI read them from there and never reach into modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from transformers.cache_utils import Cache

from geolm.nn.options import PartOptions

Options = TypeVar("Options", bound=PartOptions)


@dataclass
class ForwardContext:
    """Shared inputs and collected outputs of a forward pass.

    `attention_mask` is a boolean (B, 1, T, S) tensor, True where a query may attend to a key, or None when
    no padding is present: then attention parts use the causal (or full, for encoders) fast path.
    `token_mask` is a boolean (B, T), True at real tokens of the current chunk, or None when nothing is padding;
    parts with running state use it to let padding leave that state untouched.
    `state` carries per-token tensors that one part computes for others, such as the coordinates that the
    coordinate modulation predicts before the first layer.
    `settings` maps a part kind to its options with the current curriculum phase's settings applied.
    `detail` is set while an `inference_stats(..., detail=True)` recorder listens: parts may then add large
    statistics (whole coordinate vectors, say) that training would not want to reduce every step.
    `collect_losses` and `collect_stats` are False where nobody reads them (the decoding steps of `generate()`,
    statistics while no `inference_stats` recorder listens): `add_loss` and `add_stat` then drop what they are
    given, and parts skip computing it.
    """

    position_ids: torch.Tensor
    attention_mask: torch.Tensor | None
    is_causal: bool
    cache: Cache | None = None
    token_mask: torch.Tensor | None = None
    state: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, PartOptions] = field(default_factory=dict)
    detail: bool = False
    collect_losses: bool = True
    collect_stats: bool = True
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
    part_stats: dict[str, torch.Tensor] = field(default_factory=dict)
    router_logits: list[torch.Tensor] = field(default_factory=list)
    _stat_counts: dict[str, int] = field(default_factory=dict)
    _closed: bool = False

    def current(self, options: Options) -> Options:
        """`options` as the current phase set them (the part's own options when no phase setting applies)."""
        return self.settings.get(options.kind, options)  # type: ignore[return-value]

    def add_loss(self, name: str, value: torch.Tensor) -> None:
        """Add a scalar auxiliary loss under `name` (a name the part declares in `aux_losses`, with its default
        weight); several calls under one name (one per layer, say) are summed."""
        if self._closed or not self.collect_losses:  # a closed context: recomputation under checkpointing
            return
        value = value.float().reshape(())
        self.aux_losses[name] = self.aux_losses[name] + value if name in self.aux_losses else value

    def add_stat(self, name: str, value: torch.Tensor) -> None:
        """Record a per-token statistic: shape (B, T) or (B, T, k) over this chunk's tokens, kept detached.

        Several calls under one name (one per layer) are averaged; the trainer averages over real tokens,
        micro-batches and processes, `inference_stats` keeps the per-token values.
        """
        if self._closed or not self.collect_stats:
            return
        value = value.detach().float()
        count = self._stat_counts.get(name, 0)
        if count:
            previous = self.part_stats[name]
            if previous.shape != value.shape:
                shapes = f"{tuple(previous.shape)} and {tuple(value.shape)}"
                raise ValueError(f"statistic {name!r} was added with two shapes, {shapes}")
            value = previous + (value - previous) / (count + 1)
        self.part_stats[name] = value
        self._stat_counts[name] = count + 1

    @property
    def closed(self) -> bool:
        """True once the forward returned: a part running now is being recomputed (activation checkpointing)
        and must not change any state, so that it computes what the forward computed."""
        return self._closed

    def add_router_logits(self, logits: torch.Tensor) -> None:
        """A mixture part's router logits (tokens, experts) for this layer, exposed as HF's `router_logits`."""
        if not self._closed:
            self.router_logits.append(logits)

    def close(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """End the forward: later additions (recomputation under activation checkpointing) are ignored."""
        self._closed = True
        return dict(self.aux_losses), dict(self.part_stats)
