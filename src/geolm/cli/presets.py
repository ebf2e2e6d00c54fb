"""`geolm presets`: every named preset with its shape and its counted parameters.

The counts come from models built on the meta device. Building every preset needs torch and takes seconds,
so the rows are counted once into `presets_table.json`, shipped in the package, and `tests/cli` recounts
them and fails when the table is stale (`make presets-table` rewrites it); `--recount` counts afresh.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

TABLE_FILE = Path(__file__).with_name("presets_table.json")
COLUMNS = ("name", "parameters", "active", "shape", "vocab", "parts", "description")


def presets(
    recount: bool = typer.Option(
        False, "--recount", help="count every preset now on the meta device instead of reading the shipped table"
    ),
) -> None:
    """List the named presets with their parameter counts, total and active per token (a mixture runs top-k of
    its experts), counted on a model built on the meta device.

    Example: geolm presets
    """
    rows = count_presets() if recount else json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    table = Table(title="geolm presets")
    for column in COLUMNS:
        wrap = column == "description"
        table.add_column(column, no_wrap=not wrap, justify="right" if column in ("parameters", "active") else "left")
    for row in rows:
        table.add_row(*(str(row[column]) for column in COLUMNS))
    console = Console()
    console.width = max(console.width, 130)  # keep rows on one line when piped
    console.print(table)


def count_presets() -> list[dict[str, str]]:
    """One row per registered preset, its parameters counted on a model built on the meta device."""
    import torch

    from geolm.auto import register_auto
    from geolm.modeling import GeoForCausalLM
    from geolm.params import count_parameters, human, parameter_table
    from geolm.presets import DESCRIPTIONS, PRESETS, preset_config

    register_auto()
    rows = []
    for name in sorted(PRESETS):
        config = preset_config(name)
        with torch.device("meta"):
            model = GeoForCausalLM(config)
        total, active = count_parameters(model), int(parameter_table(model)["active"].sum())
        rows.append(
            {
                "name": name,
                "parameters": human(total),
                "active": human(active),
                "shape": f"{config.num_hidden_layers}L {config.hidden_size}d {config.num_attention_heads}/"
                f"{config.num_key_value_heads}h",
                "vocab": str(config.vocab_size),
                "parts": "/".join(getattr(config, k) for k in ("attention", "ffn", "modulation", "memory")),
                "description": DESCRIPTIONS[name],
            }
        )
    return rows


def write_table() -> None:
    """Recount every preset into the shipped table (`make presets-table`)."""
    from geolm.files import write_atomic

    text = json.dumps(count_presets(), indent=1, ensure_ascii=False) + "\n"
    write_atomic(TABLE_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
