"""Weighted, seeded mixing of sources and the fixed per-record validation split."""

from __future__ import annotations

import hashlib

import datasets

from geolm.data.formats import AnyDataset
from geolm.errors import DataError


def normalized_weights(weights: list[float] | None, count: int) -> list[float]:
    """Sampling probabilities from user weights (equal when None); bad weights name the problem."""
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise DataError(f"weights has {len(weights)} entries for {count} sources; give one weight per source")
    if any(not w >= 0 for w in weights) or sum(weights) <= 0:
        raise DataError(f"weights must be non-negative with a positive sum, got {weights}")
    total = float(sum(weights))
    return [w / total for w in weights]


def mix(parts: list[AnyDataset], weights: list[float] | None, seed: int) -> AnyDataset:
    """Interleave sources, drawing each next record from source i with probability weights[i].

    Stops when the first source runs out ("first_exhausted"), so no record is repeated and the mixture
    keeps the asked proportions.
    """
    probabilities = normalized_weights(weights, len(parts))
    if len(parts) == 1:
        return parts[0]
    return datasets.interleave_datasets(parts, probabilities=probabilities, seed=seed)


def in_validation(seed: int, source: int, index: int, fraction: float) -> bool:
    """Whether record `index` of source `source` is held out: a stable hash, the same in every run."""
    digest = hashlib.blake2b(f"{seed}:{source}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


def split_validation(part: AnyDataset, source: int, seed: int, fraction: float) -> tuple[AnyDataset, AnyDataset]:
    """(train, validation) records of one source by `in_validation`."""

    def keep(validation: bool):
        return lambda _, index: in_validation(seed, source, index, fraction) == validation

    return part.filter(keep(False), with_indices=True), part.filter(keep(True), with_indices=True)
