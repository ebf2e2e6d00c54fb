"""Data order: a seeded permutation per epoch over each named source, mixed by per-step seeded draws.

The position of a source is (epoch, index into that epoch's permutation); the mixture draw for a micro-step
depends only on (seed, step, micro-step). Saving the positions is therefore enough to resume the exact
sample order, without pickling any generator.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from geolm.data import TokenBlocks
from geolm.data.block_mixture import BlockMixture
from geolm.data.packing import IGNORE
from geolm.data.shards import ShardBlocks
from geolm.errors import DataError

Blocks = TokenBlocks | ShardBlocks | BlockMixture  # fixed-length blocks in memory or on disk, read by `rows(index)`
_MIXTURE_STREAM = 1 << 30  # keeps mixture draws apart from the per-source permutation streams


def as_sources(data: Blocks | Mapping[str, Blocks]) -> dict[str, Blocks]:
    """Named sources from one source of blocks (named "train") or a mapping; all share one block size."""
    sources = dict(data) if isinstance(data, Mapping) else {"train": data}
    if not sources:
        raise DataError("training data has no sources")
    padded = [name for name, source in sources.items() if hasattr(source, "batch")]
    if padded and len(sources) > 1:
        raise DataError(f"source {padded[0]!r} holds padded examples, which train alone, not in a mixture")
    for name, blocks in sources.items():
        if len(blocks) == 0:
            raise DataError(f"training source {name!r} holds no blocks")
    sizes = {name: blocks.block_size for name, blocks in sources.items()}
    if len(set(sizes.values())) > 1:
        raise DataError(f"training sources must share one block size, got {sizes}")
    return sources


def loss_tokens(labels: torch.Tensor) -> int:
    """Tokens that carry loss after the model's one-position shift (what a per-token mean divides by); for
    one label per row (sequence classification), the rows."""
    if labels.dim() == 1:
        return len(labels)
    return int((labels[:, 1:] != IGNORE).sum())


def read_batch(source: Blocks, index: torch.Tensor) -> dict[str, torch.Tensor]:
    """The rows `index` of a source as model inputs: its own `batch(index)` when it has one (padded examples
    with an attention mask and labels of their own shape), else `rows(index)` as input_ids and labels."""
    if hasattr(source, "batch"):
        return source.batch(index)
    input_ids, labels = source.rows(index)
    return {"input_ids": input_ids, "labels": labels}


class EpochOrder:
    """Walks seeded per-epoch permutations of `size` items; `position` is (epoch, index)."""

    def __init__(self, size: int, seed: int, stream: int) -> None:
        self.size, self.seed, self.stream = size, seed, stream
        self.epoch, self.index = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, self.stream, epoch]).permutation(self.size)

    def take(self, count: int) -> np.ndarray:
        """The next `count` indices, moving into the next epoch (a fresh permutation) when one runs out."""
        out = []
        while count > 0:
            if self.index == self.size:
                self.epoch, self.index = self.epoch + 1, 0
                self._perm = self._permutation(self.epoch)
            n = min(count, self.size - self.index)
            out.append(self._perm[self.index : self.index + n])
            self.index += n
            count -= n
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)

    @property
    def position(self) -> tuple[int, int]:
        return self.epoch, self.index

    def seek(self, epoch: int, index: int) -> None:
        if not 0 <= index <= self.size:
            raise DataError(f"data position index {index} is outside a source of {self.size} blocks")
        self.epoch, self.index = epoch, index
        self._perm = self._permutation(epoch)


class BatchStream:
    """Global micro-batches (every process draws the same ones and keeps its own slice)."""

    def __init__(self, sources: dict[str, Blocks], seed: int) -> None:
        self.sources = sources
        self.names = list(sources)
        self.seed = seed
        self.orders = {name: EpochOrder(len(b), seed, i) for i, (name, b) in enumerate(sources.items())}

    def next_batch(
        self, count: int, mixture: Mapping[str, float] | None, step: int, micro: int, part: slice = slice(None)
    ) -> dict[str, torch.Tensor]:
        """Rows `part` (a process's slice) of the `count` blocks of micro-step `micro` of optimizer step `step`,
        drawn by the phase's mixture. Every process draws all `count`, so the orders advance alike, and reads
        only its own rows.

        Without a mixture the sources are weighted by their size, as if they were concatenated.
        """
        weights = np.array(
            [mixture.get(n, 0.0) if mixture is not None else len(self.sources[n]) for n in self.names],
            dtype=float,
        )
        if len(self.names) == 1:
            choice = np.zeros(count, dtype=np.int64)
        else:
            rng = np.random.default_rng([self.seed, _MIXTURE_STREAM, step, micro])
            choice = rng.choice(len(self.names), size=count, p=weights / weights.sum())
        drawn = np.empty(count, dtype=np.int64)
        for i, name in enumerate(self.names):
            rows = np.flatnonzero(choice == i)
            drawn[rows] = self.orders[name].take(rows.size)
        choice, drawn = choice[part], drawn[part]
        read = {i: np.flatnonzero(choice == i) for i in range(len(self.names))}
        parts = {
            i: read_batch(self.sources[self.names[i]], torch.from_numpy(drawn[rows]))
            for i, rows in read.items()
            if rows.size
        }
        if len(parts) == 1:  # one source: its rows in order, as it gives them
            return next(iter(parts.values()))
        batch = {}
        for key, first in next(iter(parts.values())).items():
            batch[key] = first.new_empty(len(drawn), *first.shape[1:])
            for i, values in parts.items():
                batch[key][read[i]] = values[key]
        return batch

    def state(self) -> dict[str, list[int]]:
        return {name: list(order.position) for name, order in self.orders.items()}

    def load_state(self, state: Mapping[str, list[int]]) -> None:
        missing = sorted(set(self.names) - set(state))
        if missing:
            raise DataError(f"checkpoint has no data position for source(s) {missing}; it saved {sorted(state)}")
        for name, (epoch, index) in state.items():
            if name in self.orders:
                self.orders[name].seek(epoch, index)


def eval_batches(data: Blocks, count: int, max_batches: int) -> list[dict[str, torch.Tensor]]:
    """The first `max_batches` global batches of `count` blocks, in order; the last wraps to the start
    so every process gets a full slice (collective forwards such as FSDP need equal work on each rank)."""
    n_batches = min(max_batches, -(-len(data) // count))
    return [read_batch(data, torch.arange(b * count, (b + 1) * count) % len(data)) for b in range(n_batches)]
