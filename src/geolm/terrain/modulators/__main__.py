"""`geolm analyze modulator-claim MODEL_DIR`: run the relational-claim check and write its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geolm.terrain.modulators.claim import ClaimSettings, measure_relational_claim
from geolm.terrain.report import markdown_table


def claim(
    path: Annotated[Path, typer.Argument(help="local Hugging Face model directory with a tokenizer")],
    out: Annotated[Path, typer.Option(help="report directory")] = Path("modulator-claim"),
    items: Annotated[int, typer.Option(help="WordNet items (train and held-out)")] = ClaimSettings.n_items,
    steps: Annotated[int, typer.Option(help="training steps per trained condition")] = ClaimSettings.steps,
    seed: Annotated[int, typer.Option(help="seed of every random step")] = ClaimSettings.seed,
    train_fixed_alpha: Annotated[bool, typer.Option(help="also train at the fixed alpha 0.29154")] = False,
) -> None:
    """Relational Pearson/Spearman of the frozen model, modulated, trained, and with shuffled pairs.

    Example: geolm analyze modulator-claim MODEL_DIR
    """
    settings = ClaimSettings(n_items=items, steps=steps, seed=seed, train_fixed_alpha=train_fixed_alpha)
    result = measure_relational_claim(path, settings=settings)
    written = result.save(out)
    columns = ["condition", "side", "pearson", "pearson_change_pct", "spearman", "preservation", "simplex_cv"]
    typer.echo(markdown_table(result.frames["relational"][columns]))
    typer.echo(f"report written to {written}")


if __name__ == "__main__":
    from geolm.cli.main import run_with_errors

    run_with_errors(lambda: typer.run(claim))
