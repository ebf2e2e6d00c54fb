"""`GeoCache`: HF's `DynamicCache` plus per-sequence state of geometric parts (coordinate context, memory).

Keeping that state in the cache object, not in modules, is what lets cached decoding compute the same
function as a full forward pass, and lets beam search reorder it along with the keys and values.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache


class GeoCache(DynamicCache):
    """A `DynamicCache` whose `part_state` maps names to tensors with the batch on dimension 0."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.part_state: dict[str, torch.Tensor] = {}

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        super().reorder_cache(beam_idx)
        self._map_state(lambda t: t.index_select(0, beam_idx.to(t.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        super().batch_repeat_interleave(repeats)
        self._map_state(lambda t: t.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        super().batch_select_indices(indices)
        self._map_state(lambda t: t[indices])

    def crop(self, max_length: int) -> None:
        """Rewinding is exact for keys and values only; parts with running state cannot be rewound."""
        if self.part_state:
            raise NotImplementedError("a cache holding geometric part state cannot be cropped (assisted decoding)")
        super().crop(max_length)

    def _map_state(self, fn) -> None:
        self.part_state = {name: fn(tensor) for name, tensor in self.part_state.items()}
