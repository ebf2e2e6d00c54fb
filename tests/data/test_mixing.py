from __future__ import annotations

import datasets
import pytest

from geolm.data.formats import FEATURES
from geolm.data.mixing import in_validation, mix, normalized_weights
from geolm.errors import DataError


def source(name: str, n: int) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"text": [f"{name}{i}" for i in range(n)], "messages": [None] * n}, features=FEATURES
    )


def test_mixing_respects_weights_and_is_seeded():
    parts = [source("a", 3000), source("b", 3000)]
    mixed = [row["text"][0] for row in mix(parts, [0.8, 0.2], seed=1)]
    share = mixed.count("a") / len(mixed)
    assert 0.75 < share < 0.85
    again = [row["text"] for row in mix(parts, [0.8, 0.2], seed=1)]
    other = [row["text"] for row in mix(parts, [0.8, 0.2], seed=2)]
    assert again == [row["text"] for row in mix(parts, [4, 1], seed=1)]
    assert again != other


def test_mixing_streams_too():
    parts = [source("a", 500).to_iterable_dataset(), source("b", 500).to_iterable_dataset()]
    mixed = [row["text"][0] for row in mix(parts, [0.5, 0.5], seed=0)]
    assert 0.4 < mixed.count("a") / len(mixed) < 0.6


def test_bad_weights():
    with pytest.raises(DataError, match="2 entries for 3 sources"):
        normalized_weights([1, 1], 3)
    with pytest.raises(DataError, match="non-negative"):
        normalized_weights([1, -1], 2)
    assert normalized_weights(None, 4) == [0.25] * 4


def test_validation_split_is_fixed_and_near_its_fraction():
    chosen = [i for i in range(20_000) if in_validation(0, 0, i, 0.1)]
    assert 0.09 < len(chosen) / 20_000 < 0.11
    assert chosen == [i for i in range(20_000) if in_validation(0, 0, i, 0.1)]
    assert chosen != [i for i in range(20_000) if in_validation(1, 0, i, 0.1)]
