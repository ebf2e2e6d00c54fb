"""`geolm convert`: a Hugging Face Llama-family checkpoint into a geolm checkpoint computing the same function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def convert(
    source: Annotated[Path, typer.Argument(help="a local Hugging Face checkpoint directory", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", help="the geolm checkpoint to write (new or empty dir)", show_default=False)
    ],
) -> None:
    """Convert a local Llama, Mistral, Qwen2 or Qwen3 causal-LM checkpoint (and its tokenizer) to geolm.

    A config field geolm cannot compute is refused by name; the converted model's logits equal the source's.
    Example: geolm convert ~/models/llama --out runs/llama-geolm
    """
    from geolm.convert import convert_checkpoint

    written = convert_checkpoint(source, out)
    typer.echo(f"wrote {written}; try: geolm generate {written} --prompt 'A heron is'")
