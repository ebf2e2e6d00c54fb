"""`geolm data`: rebuild the embedded WordNet corpus and report its sizes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The embedded WordNet corpus: rebuild it, count it.", no_args_is_help=True)


@app.command("build-wordnet")
def build_wordnet(
    dict_dir: Path = typer.Argument(..., help="WordNet 3.0 dict directory (data.noun, index.noun, ...)"),
    out: Path | None = typer.Option(None, "--out", help="output file [default: the shipped corpus file]"),
) -> None:
    """Parse WordNet's database files and write the corpus as gzip JSONL (atomically).

    Example: geolm data build-wordnet /usr/share/wordnet
    """
    from geolm.data.lexicon import CORPUS_FILE
    from geolm.data.wordnet import parse_wordnet, write_synsets

    target = out or CORPUS_FILE
    synsets = parse_wordnet(dict_dir)
    write_synsets(synsets, target)
    typer.echo(f"wrote {len(synsets)} synsets to {target} ({target.stat().st_size / 1e6:.2f} MB)")


@app.command("stats")
def stats(seed: int = typer.Option(0, help="generator seed")) -> None:
    """Documents and characters of each kind of the embedded corpus, per split.

    Example: geolm data stats
    """
    from geolm.data.corpus import corpus_stats
    from geolm.data.lexicon import CORPUS_FILE, load_lexicon

    table = Table("split", "kind", "documents", "characters")
    for split, kinds in corpus_stats(seed).items():
        for kind, numbers in kinds.items():
            table.add_row(split, kind, f"{numbers['documents']:,}", f"{numbers['characters']:,}")
    console = Console()
    size_mb = CORPUS_FILE.stat().st_size / 1e6
    console.print(f"{len(load_lexicon().synsets):,} synsets in {CORPUS_FILE} ({size_mb:.2f} MB)")
    console.print(table)
