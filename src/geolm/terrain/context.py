"""What every battery receives: the loaded model, the seed, the layer selection and the sample sizes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from rich.progress import track

from geolm.terrain.categories import CategorySource
from geolm.terrain.loading import LoadedModel
from geolm.terrain.selection import LayerSelector
from geolm.terrain.taxonomy import Taxonomy

T = TypeVar("T")


@dataclass(frozen=True)
class TerrainOptions:
    """Sample sizes; the defaults keep the full battery on a 22M-parameter model under a minute on 2 cores."""

    n_cosine: int = 2000
    n_simplices: int = 2000
    n_twonn: int = 3000  # the headline intrinsic dimension's sample (mean over n_id_seeds samples)
    id_sizes: tuple[int, ...] = (500, 1000, 2000, 4000)  # the intrinsic-dimension curve's sample sizes
    n_id_seeds: int = 3
    max_number: int = 99
    n_wordnet_items: int = 2000
    wordnet_max_tokens: int = 3
    n_wordnet_pairs: int = 20000
    n_stability_seeds: int = 8
    n_bootstrap: int = 2000
    chain_depth: int = 6
    power_law_fit: str = "weightwatcher"  # or "csn": see `geolm.terrain.spectra.fit_power_law`

    def __post_init__(self) -> None:
        from geolm.errors import ConfigError, unknown_names
        from geolm.terrain.spectra import FIT_MODES

        if self.power_law_fit not in FIT_MODES:
            raise ConfigError(unknown_names("power-law fit", [self.power_law_fit], FIT_MODES))


@dataclass
class TerrainContext:
    """Shared inputs of the batteries; `rng(tag)` gives each sampling step its own seeded stream."""

    loaded: LoadedModel
    seed: int = 0
    selector: LayerSelector = field(default_factory=LayerSelector)
    options: TerrainOptions = field(default_factory=TerrainOptions)
    categories: CategorySource | None = None
    taxonomy: Taxonomy | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: bool = True

    def rng(self, *tags: Any) -> np.random.Generator:
        """A numpy Generator seeded by the run seed and the tags, so adding a step never shifts another."""
        return np.random.default_rng([self.seed, *(hash_tag(t) for t in tags)])

    def track(self, items: Sequence[T] | Iterable[T], description: str) -> Iterator[T]:
        """Iterate with a rich progress bar when progress is on."""
        return iter(track(items, description=description, disable=not self.progress, transient=True))


def hash_tag(tag: Any) -> int:
    """A stable non-negative integer for a seed tag; Python's hash() of a str is salted per process."""
    if isinstance(tag, int) and tag >= 0:
        return tag
    return int.from_bytes(hashlib.blake2b(str(tag).encode("utf-8"), digest_size=8).digest(), "little")
