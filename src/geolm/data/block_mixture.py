"""Several sources of blocks read as one: concatenated, or mixed by weights as files of records are mixed.

A run on several shards directories trains on one source of blocks whatever the curriculum names, so the
mixture is itself a source of blocks (`len`, `block_size`, `rows(index)`), holding only which blocks of
each part it takes (eight bytes a block), never the tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from geolm.data.blocks import TokenBlocks
from geolm.data.mixing import normalized_weights
from geolm.data.shards import ShardBlocks
from geolm.errors import DataError

Part = TokenBlocks | ShardBlocks


class BlockMixture:
    """Blocks `chosen[i]` of `parts[i]`, the parts one after another."""

    def __init__(self, parts: Sequence[Part], chosen: Sequence[np.ndarray]) -> None:
        sizes = {part.block_size for part in parts}
        if len(sizes) != 1:
            raise DataError(f"sources of blocks must share one block size, got {sorted(sizes)}")
        self.parts = list(parts)
        self.chosen = [np.asarray(blocks, dtype=np.int64) for blocks in chosen]
        self.offsets = np.cumsum([0, *(len(blocks) for blocks in self.chosen)])

    @classmethod
    def concatenated(cls, parts: Sequence[Part], max_blocks: int | None = None) -> BlockMixture:
        """Every block of every part, once, in order, up to `max_blocks` in all."""
        chosen, left = [], max_blocks
        for part in parts:
            count = len(part) if left is None else min(len(part), left)
            chosen.append(np.arange(count))
            left = None if left is None else left - count
        return cls(parts, chosen)

    @classmethod
    def weighted(
        cls, parts: Sequence[Part], weights: Sequence[float], seed: int, max_blocks: int | None = None
    ) -> BlockMixture:
        """Part i's share of the blocks is weights[i], as `geolm.data.mixing.mix` mixes records: as many blocks
        as the first part to run out allows (so no block repeats), at most `max_blocks`, each part's taken
        by a seeded draw spread over the whole part."""
        shares = np.asarray(normalized_weights(list(weights), len(parts)))
        sizes = np.array([len(part) for part in parts])
        total = min(size / share for size, share in zip(sizes, shares, strict=True) if share > 0)
        total = int(min(total, max_blocks)) if max_blocks is not None else int(total)
        counts = np.minimum(apportion(total, shares), sizes)
        chosen = [
            np.sort(np.random.default_rng([seed, number]).choice(size, count, replace=False))
            for number, (size, count) in enumerate(zip(sizes, counts, strict=True))
        ]
        return cls(parts, chosen)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def block_size(self) -> int:
        return self.parts[0].block_size

    def rows(self, index: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, labels) of the blocks `index`, each (len(index), block_size) int64, read from the parts."""
        wanted = np.asarray(index, dtype=np.int64).reshape(-1)
        part_of = np.searchsorted(self.offsets, wanted, side="right") - 1
        input_ids = torch.empty(len(wanted), self.block_size, dtype=torch.long)
        labels = torch.empty(len(wanted), self.block_size, dtype=torch.long)
        for number, part in enumerate(self.parts):
            rows = np.flatnonzero(part_of == number)
            if rows.size:
                blocks = self.chosen[number][wanted[rows] - self.offsets[number]]
                input_ids[rows], labels[rows] = part.rows(torch.from_numpy(blocks))
        return input_ids, labels


def apportion(total: int, shares: np.ndarray) -> np.ndarray:
    """Whole counts summing to `total` in proportion to `shares` (largest remainders round up)."""
    exact = total * shares
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts
