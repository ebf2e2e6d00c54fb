"""`geolm analyze experts CHECKPOINT`: which geometries which kinds of tokens are routed to."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from geolm.errors import ConfigError


def experts(
    checkpoint: Path = typer.Argument(..., help="checkpoint directory, or a run directory with best/ or last/"),
    out: Path | None = typer.Option(None, help="output directory (default: experts-NAME beside the checkpoint NAME)"),
    blocks: int = typer.Option(32, help="held-out blocks to route"),
    block_size: int = typer.Option(128, help="tokens per block"),
    seed: int = typer.Option(0, help="seed of the held-out text's order"),
) -> None:
    """Route held-out text of the embedded corpus and tabulate each geometry's share by kind of token.

    Example: geolm analyze experts runs/mgm
    """
    from geolm.data import encode_documents, pack
    from geolm.data.corpus import corpus_texts
    from geolm.data.lexicon import load_lexicon
    from geolm.experts.analysis import plot_routing, routing_by_kind, specialisation, word_kinds
    from geolm.files import write_atomic
    from geolm.inference.loading import beside_checkpoint, load_for_inference

    if blocks < 1 or block_size < 2:
        raise ConfigError(f"--blocks must be positive and --block-size at least 2, got {blocks} and {block_size}")
    model, tokenizer = load_for_inference(checkpoint)
    if block_size > model.config.max_position_embeddings:
        raise ConfigError(f"--block-size {block_size} exceeds the model's {model.config.max_position_embeddings}")
    out = out or beside_checkpoint(checkpoint, "experts")
    texts = itertools.islice(corpus_texts("heldout", seed), 20_000)
    data = pack(encode_documents(tokenizer, texts), block_size, tokenizer.pad_token_id, max_tokens=blocks * block_size)
    try:
        table = routing_by_kind(model, tokenizer, data.input_ids.split(8), word_kinds(load_lexicon()))
    except ValueError as err:
        raise ConfigError(f"{checkpoint}: {err}") from None
    summary = {level: specialisation(table, level) for level in ("pos", "category")}
    write_atomic(out / "routing.csv", lambda temp: table.to_csv(temp, index=False))
    write_atomic(out / "summary.json", lambda temp: Path(temp).write_text(json.dumps(summary, indent=2) + "\n"))
    for level in ("pos", "category"):
        plot_routing(table, out / f"routing-{level}.png", level)
    print_routing(table, summary, out)


def print_routing(table, summary: dict, out: Path) -> None:
    """The part-of-speech rows and the specialisation figures."""
    geometries = [c for c in table.columns if c not in ("level", "kind", "tokens")]
    view = Table(title="share of routing assignments by geometry (held-out tokens)")
    for column in ("kind", "tokens", *geometries):
        view.add_column(column, justify="left" if column == "kind" else "right")
    for row in table[table["level"] == "pos"].itertuples(index=False):
        values = row._asdict()
        view.add_row(values["kind"], f"{values['tokens']:,}", *(f"{values[g]:.3f}" for g in geometries))
    console = Console()
    console.print(view)
    for level, figures in summary.items():
        console.print(
            f"{level}: geometry entropy {figures['geometry_entropy_bits']:.3f} of {figures['max_entropy_bits']:.3f} "
            f"bits; the kind explains {figures['kind_explains']:.1%} of it "
            f"({figures['mutual_information_bits']:.4f} bits)"
        )
    console.print(f"written to {out}")
