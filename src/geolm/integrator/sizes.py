"""The seed's size table, counted: `python -m geolm.integrator.sizes` prints it as markdown.

Every preset `inl-seed-<size>` is built on the meta device (no memory) as it stands, with the Level 1
optimisations that change parameters (embeddings factorised to a width of hidden/8) and with Level 2 on top
(one controller for all layers, a global equilibrium with per-layer offsets, excitation on a quarter of the
neurons). Gradient checkpointing and early stopping change memory and time, not parameters.

Memory is what the parameters alone need: 2 bytes each for bf16 inference, and 16 for AdamW training in
fp32 (weights 4, gradients 4, two moments 8; bf16 mixed precision with fp32 master weights needs as much),
before any activation.
"""

from __future__ import annotations

from typing import Any

import torch

from geolm.config import GeoConfig
from geolm.integrator.presets import SEED_CLAIMED, SEED_SIZES
from geolm.modeling import GeoForCausalLM
from geolm.params import parameter_table

TRAIN_BYTES, INFER_BYTES = 16, 2
LEVEL_2_FFN = {"share_controller": True, "equilibrium": "hierarchical", "excitation_density": 0.25}


def optimised(size: str, level: int) -> GeoConfig:
    """The preset `inl-seed-<size>` with the parameter-changing optimisations of `level` (0, 1 or 2)."""
    name = f"inl-seed-{size}"
    if level == 0:
        return GeoConfig.from_preset(name)
    hidden = SEED_SIZES[size][0]
    ffn = {"max_iterations": 10, **(LEVEL_2_FFN if level == 2 else {})}
    return GeoConfig.from_preset(name, embedding_size=hidden // 8, part_options={"ffn": ffn})


def counts(config: GeoConfig) -> dict[str, int]:
    """Parameters per component of the model `config` describes, counted on the meta device."""
    with torch.device("meta"):
        model = GeoForCausalLM(config)
    table = parameter_table(model)
    return dict(zip(table.component, table.parameters.astype(int), strict=True))


def size_rows(sizes: tuple[str, ...] = tuple(SEED_SIZES)) -> list[dict[str, Any]]:
    """One row per seed size: the seed's figures beside the counted ones."""
    rows = []
    for size in sizes:
        standard, level1, level2 = (counts(optimised(size, level)) for level in (0, 1, 2))
        total = {name: sum(c.values()) for name, c in (("0", standard), ("1", level1), ("2", level2))}
        claimed, claimed_optimised, claimed_memory = SEED_CLAIMED[size]
        rows.append(
            {
                "size": size,
                "seed standard": claimed,
                "counted": total["0"],
                "seed optimized": claimed_optimised,
                "level 1": total["1"],
                "level 1 + 2": total["2"],
                "embeddings saved (level 1)": 1 - level1["embeddings"] / standard["embeddings"],
                "controller saved (level 2)": 1 - level2["controller"] / standard["controller"],
                "seed GPU memory": claimed_memory,
                "training memory (standard)": total["0"] * TRAIN_BYTES,
                "training memory (level 1 + 2)": total["2"] * TRAIN_BYTES,
                "bf16 weights (level 1 + 2)": total["2"] * INFER_BYTES,
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table: counts in M/B, shares in %, bytes in GB."""

    def shown(key: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        if "saved" in key:
            return f"-{100 * value:.1f}%"
        if "memory (" in key or "weights (" in key:
            return f"{value / 1e9:,.1f} GB" if value >= 1e10 else f"{value / 1e9:.2f} GB"
        return f"{value / 1e9:.2f}B" if value >= 1e9 else f"{value / 1e6:.1f}M"

    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(shown(k, row[k]) for k in header) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(size_rows()))
