"""`geolm analyze heads CHECKPOINT`: the head-geometry census of a trained curvature model.

Only the curvature parameters are read from the safetensors weights, so any geolm checkpoint (causal LM or
classifier, single file or sharded) is analysed in a moment without building the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from safetensors import safe_open

from geolm.curvature.census import census_counts, census_from_state, plot_census
from geolm.errors import CheckpointError
from geolm.files import write_atomic
from geolm.inference.loading import beside_checkpoint, resolve_checkpoint

CURVATURE_SUFFIXES = ("self_attn.raw_kappa", "self_attn.log_tau")


def weight_files(checkpoint: Path) -> list[Path]:
    """The safetensors files of a checkpoint directory (one file, or the shards its index names)."""
    single, index = checkpoint / "model.safetensors", checkpoint / "model.safetensors.index.json"
    if single.is_file():
        return [single]
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, AttributeError) as err:
            raise CheckpointError(f"{index}: not a safetensors index ({err})") from None
        return [checkpoint / shard for shard in shards]
    raise CheckpointError(f"{checkpoint}: no model.safetensors or model.safetensors.index.json")


def read_curvature_state(checkpoint: Path) -> dict:
    """The curvature parameters (raw κ and log τ per layer) stored in a checkpoint."""
    state = {}
    for path in weight_files(checkpoint):
        if not path.is_file():
            raise CheckpointError(f"{path}: weight shard named in the index is missing")
        with safe_open(path, framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (a safetensors handle is not a dict)
                if name.endswith(CURVATURE_SUFFIXES):
                    state[name] = handle.get_tensor(name)
    if not state:
        raise CheckpointError(f"{checkpoint}: no curvature attention heads (is its config's attention 'curvature'?)")
    return state


def print_counts(counts: pd.DataFrame, out: Path) -> None:
    table = Table(title="heads per geometry (|κ| <= 0.1 is Euclidean)")
    for column in ("layer", *counts.columns):
        table.add_column(str(column), justify="right")
    for layer, row in counts.iterrows():
        table.add_row(str(layer), *(str(int(v)) for v in row))
    console = Console()
    console.print(table)
    console.print(f"census written to {out}")


def heads(
    checkpoint: Path = typer.Argument(..., help="checkpoint directory, or a run directory with best/ or last/"),
    out: Path | None = typer.Option(None, help="output directory (default: heads-NAME beside the checkpoint NAME)"),
) -> None:
    """Classify every attention head as hyperbolic, Euclidean or spherical by its learnt curvature.

    Example: geolm analyze heads runs/curv
    """
    out = out or beside_checkpoint(checkpoint, "heads")
    census = census_from_state(read_curvature_state(resolve_checkpoint(checkpoint)))
    counts = census_counts(census)
    write_atomic(out / "census.csv", lambda temp: census.to_csv(temp, index=False))
    write_atomic(out / "counts.csv", lambda temp: counts.to_csv(temp, index_label="layer"))
    plot_census(census, out / "census.png")
    print_counts(counts, out)
