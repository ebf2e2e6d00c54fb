"""Several sources of blocks as one: every block once when concatenated, the asked shares when weighted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geolm.data.block_mixture import BlockMixture, apportion
from geolm.data.blocks import TokenBlocks
from geolm.errors import DataError


def blocks(first: int, count: int, length: int = 4) -> TokenBlocks:
    """Blocks whose first token numbers them: `first`, `first + 1`, ..."""
    ids = torch.arange(first, first + count)[:, None].repeat(1, length)
    labels = ids.clone()
    labels[:, 0] = -100
    return TokenBlocks(ids, labels)


def numbers(mixture: BlockMixture) -> np.ndarray:
    ids, _ = mixture.rows(torch.arange(len(mixture)))
    return ids[:, 0].numpy()


def test_concatenated_parts_give_every_block_once_in_order() -> None:
    parts = [blocks(0, 5), blocks(100, 3)]
    mixture = BlockMixture.concatenated(parts)
    assert len(mixture) == 8 and mixture.block_size == 4
    assert numbers(mixture).tolist() == [0, 1, 2, 3, 4, 100, 101, 102]
    ids, labels = mixture.rows(torch.tensor([6, 0]))
    assert torch.equal(ids, torch.stack([parts[1].input_ids[1], parts[0].input_ids[0]]))
    assert torch.equal(labels[:, 0], torch.tensor([-100, -100]))
    assert numbers(BlockMixture.concatenated(parts, max_blocks=6)).tolist() == [0, 1, 2, 3, 4, 100]


def test_weighted_parts_keep_the_shares_until_the_first_runs_out_and_repeat_nothing() -> None:
    parts = [blocks(0, 1000), blocks(10_000, 100)]
    mixture = BlockMixture.weighted(parts, [3.0, 1.0], seed=0)
    drawn = numbers(mixture)
    assert len(drawn) == 400  # the second part runs out at 100 blocks, a quarter of the mixture
    assert (drawn < 10_000).sum() == 300 and (drawn >= 10_000).sum() == 100
    assert len(set(drawn.tolist())) == 400
    first = drawn[drawn < 10_000]
    assert first.max() > 900  # drawn from the whole part, not its beginning
    assert np.array_equal(numbers(BlockMixture.weighted(parts, [3.0, 1.0], seed=0)), drawn)
    assert not np.array_equal(numbers(BlockMixture.weighted(parts, [3.0, 1.0], seed=1)), drawn)
    capped = numbers(BlockMixture.weighted(parts, [3.0, 1.0], seed=0, max_blocks=40))
    assert (capped < 10_000).sum() == 30 and (capped >= 10_000).sum() == 10
    only_first = numbers(BlockMixture.weighted(parts, [1.0, 0.0], seed=0))
    assert len(only_first) == 1000 and (only_first < 10_000).all()


def test_apportion_sums_to_the_total() -> None:
    assert apportion(10, np.array([1 / 3, 1 / 3, 1 / 3])).tolist() == [4, 3, 3]
    assert apportion(7, np.array([0.5, 0.5])).sum() == 7


def test_bad_mixtures_are_named() -> None:
    with pytest.raises(DataError, match="share one block size"):
        BlockMixture.concatenated([blocks(0, 2, length=4), blocks(0, 2, length=8)])
    with pytest.raises(DataError, match="weights has 1 entries for 2 sources"):
        BlockMixture.weighted([blocks(0, 2), blocks(5, 2)], [1.0], seed=0)
    with pytest.raises(DataError, match="non-negative with a positive sum"):
        BlockMixture.weighted([blocks(0, 2), blocks(5, 2)], [0.0, 0.0], seed=0)
