"""`geolm eval`: score a checkpoint on lm-evaluation-harness tasks, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geolm.cli.generate import CheckpointArg, Device
from geolm.errors import InputError


def evaluate(
    checkpoint: CheckpointArg,
    tasks: Annotated[
        str,
        typer.Option("--tasks", help="comma-separated tasks, groups or tags (geolm_wordnet: all four WordNet tasks)"),
    ] = "geolm_wordnet",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="at most N items per task")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="where results go (default: CHECKPOINT/eval)")] = None,
    include: Annotated[
        list[Path] | None, typer.Option("--include", help="a directory or YAML of your own lm-eval tasks (repeatable)")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="items per forward")] = 8,
    device: Device = None,
) -> None:
    """Score CHECKPOINT with lm-evaluation-harness; writes results.json and results.md under OUT.

    Example: geolm eval runs/base --tasks wordnet_hypernym,wordnet_arithmetic --limit 200
    """
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise InputError("geolm eval needs lm-evaluation-harness: pip install 'geolm[eval]'") from None
    from geolm.experiments.harness import evaluate as run
    from geolm.inference.loading import checked_checkpoint, load_for_inference

    path = checked_checkpoint(checkpoint)
    names = [name.strip() for name in tasks.split(",") if name.strip()]
    model, tokenizer = load_for_inference(path, device=device)
    results = run(model, tokenizer, names, out or path / "eval", limit=limit, include=include, batch_size=batch_size)
    typer.echo(results["table"])
    typer.echo(f"results in {out or path / 'eval'}", err=True)
