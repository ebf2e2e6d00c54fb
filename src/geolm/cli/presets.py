"""`geolm presets`: every named preset with its shape and its counted parameters."""

from __future__ import annotations

import torch
from rich.console import Console
from rich.table import Table

from geolm.modeling import GeoForCausalLM
from geolm.params import count_parameters, human, parameter_table
from geolm.presets import DESCRIPTIONS, PRESETS, preset_config


def presets() -> None:
    """List the named presets with their parameter counts, total and active per token (a mixture runs top-k of
    its experts), counted on a model built on the meta device.

    Example: geolm presets
    """
    table = Table(title="geolm presets")
    for column in ("name", "parameters", "active", "shape", "vocab", "parts"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("parameters", "active") else "left")
    table.add_column("description")
    for name in sorted(PRESETS):
        config = preset_config(name)
        with torch.device("meta"):
            model = GeoForCausalLM(config)
        total, active = count_parameters(model), int(parameter_table(model)["active"].sum())
        parts = "/".join(getattr(config, k) for k in ("attention", "ffn", "modulation", "memory"))
        table.add_row(
            name,
            human(total),
            human(active),
            f"{config.num_hidden_layers}L {config.hidden_size}d {config.num_attention_heads}/"
            f"{config.num_key_value_heads}h",
            str(config.vocab_size),
            parts,
            DESCRIPTIONS[name],
        )
    console = Console()
    console.width = max(console.width, 130)  # keep rows on one line when piped
    console.print(table)
