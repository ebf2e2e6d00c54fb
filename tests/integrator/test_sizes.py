"""The seed's size table is counted from built (meta-device) models, and the counts follow the shapes."""

from __future__ import annotations

import pytest

from geolm.integrator.presets import SEED_SIZES
from geolm.integrator.sizes import TRAIN_BYTES, counts, markdown, optimised, size_rows

VOCAB = 50000


def per_layer_controller(hidden: int) -> int:
    state, width = hidden, hidden // 2
    return (hidden * width + width) + 2 * state * width + (width * 4 * state + 4 * state)


@pytest.mark.parametrize("size", ["small", "medium"])
def test_counts_follow_the_shapes(size: str) -> None:
    hidden, layers, _ = SEED_SIZES[size]
    standard, level1, level2 = (counts(optimised(size, level)) for level in (0, 1, 2))
    assert standard["embeddings"] == VOCAB * hidden  # tied head, counted once
    assert standard["attention"] == layers * 4 * hidden * hidden
    assert standard["controller"] == layers * per_layer_controller(hidden)
    rank = hidden // 8
    assert level1["embeddings"] == VOCAB * rank + 2 * rank * hidden
    assert level2["controller"] == per_layer_controller(hidden)  # one for every layer


def test_the_table_names_the_seeds_figures_beside_the_counted_ones() -> None:
    row = size_rows(("small",))[0]
    assert row["seed standard"] == 43e6 and row["seed GPU memory"] == "2-3 GB"
    assert abs(row["counted"] / row["seed standard"] - 1) < 0.05
    assert row["level 1 + 2"] < row["level 1"] < row["counted"]
    assert row["training memory (level 1 + 2)"] == row["level 1 + 2"] * TRAIN_BYTES
    assert row["embeddings saved (level 1)"] == pytest.approx(1 - (VOCAB * 64 + 2 * 64 * 512) / (VOCAB * 512))
    table = markdown([row])
    assert table.splitlines()[2].startswith("| small | 43.0M | 43.1M |")
