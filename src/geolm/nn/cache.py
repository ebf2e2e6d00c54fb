"""`GeoCache`: HF's `DynamicCache` plus the per-sequence state of geometric parts (coordinate context, memory).

Keeping that state in the cache object, not in modules, is what lets cached decoding compute the same
function as a full forward pass, and lets beam search reorder it along with the keys and values.

Part state is keyed by (part, layer) and declares where its batch dimension is, so beam reordering, batch
expansion and batch selection follow it. A part that records per-token history (a tensor with a sequence
dimension) can be rewound by `crop`, which assisted decoding needs; a part whose state summarises the past
without history declares itself not rewindable, and `crop` then refuses, naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers.cache_utils import Cache, DynamicCache
from transformers.generation.utils import ALL_CACHE_NAMES

CACHE_KWARG: str = ALL_CACHE_NAMES[0]
"""The name the installed transformers gives the cache (forward keyword, `generate()`'s model kwarg, output field):
`past_key_values` up to 5.23, `cache` from 5.24. geolm uses it wherever it hands a cache on or builds an
output, so neither version sees a deprecated name."""


def given_cache(cache: Cache | None, past_key_values: Cache | None) -> Cache | None:
    """The cache a forward received under either name; both at once is a caller's mistake, not a choice."""
    if cache is not None and past_key_values is not None:
        raise ValueError("pass the cache as `cache` or as `past_key_values`, not both")
    return cache if cache is not None else past_key_values


@dataclass
class PartState:
    """The state one part keeps for one layer (layer None: once per model).

    `tensors` hold the batch on dimension `batch_dim`; those named in `seq_dims` hold one entry per cached
    token along that dimension (history that `crop` can cut back), the others hold a value that does not
    grow with the sequence. `rewindable=False` says the part cannot be rewound at all.
    """

    tensors: dict[str, torch.Tensor]
    batch_dim: int = 0
    seq_dims: dict[str, int] = field(default_factory=dict)
    rewindable: bool = True

    def map_batch(self, fn: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
        self.tensors = {name: fn(t, self.batch_dim) for name, t in self.tensors.items()}

    def keep_tokens(self, length: int) -> None:
        for name, dim in self.seq_dims.items():
            self.tensors[name] = self.tensors[name].narrow(dim, 0, length)


class GeoCache(DynamicCache):
    """A `DynamicCache` holding `PartState` per (part, layer) beside the keys and values."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.part_states: dict[tuple[str, int | None], PartState] = {}

    def state(self, part: str, layer: int | None = None) -> PartState | None:
        """The state `part` left for `layer`, or None before its first forward."""
        return self.part_states.get((part, layer))

    def set_state(
        self,
        part: str,
        layer: int | None,
        tensors: dict[str, torch.Tensor],
        *,
        batch_dim: int = 0,
        seq_dims: dict[str, int] | None = None,
        rewindable: bool = True,
    ) -> None:
        """Store (or replace) the state of `part` in `layer`."""
        self.part_states[(part, layer)] = PartState(dict(tensors), batch_dim, dict(seq_dims or {}), rewindable)

    def reset_state(self, part: str | None = None) -> None:
        """Forget the state of `part` (every part if None), as a new segment starts; keys and values stay."""
        self.part_states = {key: s for key, s in self.part_states.items() if part is not None and key[0] != part}

    def reset(self) -> None:
        super().reset()
        self.part_states = {}

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        super().reorder_cache(beam_idx)
        self._map_batch(lambda t, dim: t.index_select(dim, beam_idx.to(t.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        super().batch_repeat_interleave(repeats)
        self._map_batch(lambda t, dim: t.repeat_interleave(repeats, dim=dim))

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        super().batch_select_indices(indices)
        self._map_batch(lambda t, dim: t.index_select(dim, torch.as_tensor(indices, device=t.device)))

    @property
    def is_croppable(self) -> bool:
        """Keys and values rewind exactly; part state rewinds only if every part holding some can rewind."""
        return super().is_croppable and not self.unrewindable()

    def unrewindable(self) -> list[str]:
        """Names of the parts (with their layer) whose state `crop` cannot cut back."""
        return [f"{part} (layer {layer})" for (part, layer), s in self.part_states.items() if not s.rewindable]

    def crop(self, tokens_to_remove: int) -> None:
        """Drop the last `-tokens_to_remove` tokens (transformers' convention: a count <= 0) from the keys,
        values and every part's history; 0 changes nothing."""
        if tokens_to_remove == 0:
            return
        refusing = self.unrewindable()
        if refusing:
            raise NotImplementedError(
                f"the cache cannot be rewound (assisted or prompt-lookup decoding): part state of "
                f"{', '.join(refusing)} keeps no per-token history"
            )
        super().crop(tokens_to_remove)
        length = self.get_seq_length()
        for state in self.part_states.values():
            state.keep_tokens(length)

    def _map_batch(self, fn: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
        for state in self.part_states.values():
            state.map_batch(fn)
