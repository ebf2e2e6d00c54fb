"""`GeoCache`: HF's `DynamicCache` plus per-sequence state of geometric parts (coordinate context, memory).

Keeping that state in the cache object, not in modules, is what lets cached decoding compute the same
function as a full forward pass, and lets beam search reorder it along with the keys and values.
"""

from __future__ import annotations

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

    @property
    def is_croppable(self) -> bool:
        """Keys and values rewind exactly; the running state of parts does not, so `generate()` must not crop it."""
        return super().is_croppable and not self.part_state

    def crop(self, tokens_to_remove: int) -> None:
        """Drop the last `-tokens_to_remove` tokens (transformers' convention: a count <= 0); 0 changes nothing."""
        if tokens_to_remove != 0 and self.part_state:
            raise NotImplementedError(
                "a cache holding geometric part state cannot be rewound (assisted or prompt-lookup decoding)"
            )
        super().crop(tokens_to_remove)

    def _map_state(self, fn) -> None:
        self.part_state = {name: fn(tensor) for name, tensor in self.part_state.items()}
