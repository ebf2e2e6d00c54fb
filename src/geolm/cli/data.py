"""`geolm data`: tokenize a corpus into shards, rebuild the embedded WordNet corpus and report its sizes."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Tokenize a corpus into shards; rebuild and count the embedded WordNet corpus.", no_args_is_help=True
)


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


@app.command("tokenize")
def tokenize(
    sources: list[Path] = typer.Argument(None, help="files or directories of documents; none: the embedded corpus"),
    out: Path = typer.Option(..., "--out", help="the shards directory to write"),
    tokenizer: Path | None = typer.Option(None, "--tokenizer", help="an existing tokenizer directory"),
    vocab_size: int | None = typer.Option(
        None, "--vocab-size", min=16, help="train a byte-level BPE of this size on the sources first"
    ),
    seed: int = typer.Option(0, help="seed of the validation split (as geolm train's)"),
    validation_fraction: float = typer.Option(0.05, help="share of each source's records held out"),
    workers: int = typer.Option(
        min(4, os.cpu_count() or 1), min=1, help="processes that tokenize (the shards do not depend on it)"
    ),
    shard_tokens: int = typer.Option(1 << 26, min=1, help="tokens per shard (each closes at a document's end)"),
) -> None:
    """Tokenize documents once into memory-mapped shards that `geolm train --data OUT` reads.

    Any format `geolm train --data` reads, chat shapes included; a share of each source is held out for
    validation. Run again after an interruption: it goes on after the last whole shard.

    Example: geolm data tokenize corpus/ --vocab-size 8000 --out shards/corpus
    """
    from transformers import AutoTokenizer

    from geolm import api
    from geolm.data.tokenize import tokenize_sources
    from geolm.errors import ConfigError

    if (tokenizer is None) == (vocab_size is None):
        raise ConfigError("give one of --tokenizer DIR (an existing tokenizer) and --vocab-size N (train one)")
    data = tuple(sources or ())
    if tokenizer is not None:
        if not (tokenizer / "tokenizer.json").is_file():
            raise ConfigError(f"--tokenizer {tokenizer}: no tokenizer.json there")
        chosen = AutoTokenizer.from_pretrained(tokenizer)
        tokenizer_dir = tokenizer
    else:
        chosen = api.new_tokenizer(data, seed, vocab_size)
        tokenizer_dir = out / "tokenizer"
        chosen.save_pretrained(tokenizer_dir)
    index = tokenize_sources(
        list(data) or None,
        chosen,
        tokenizer_dir,
        out,
        seed=seed,
        validation_fraction=validation_fraction,
        workers=workers,
        shard_tokens=shard_tokens,
    )
    table = Table("split", "shards", "documents", "tokens")
    for split, shards in index["splits"].items():
        table.add_row(
            split, str(len(shards)), f"{sum(s['documents'] for s in shards):,}", f"{sum(s['tokens'] for s in shards):,}"
        )
    Console().print(table)
    typer.echo(f"wrote {out} ({index['dtype']} tokens); train with: geolm train --data {out}")
