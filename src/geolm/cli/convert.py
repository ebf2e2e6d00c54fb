"""`geolm convert`: a Hugging Face Llama-family checkpoint into a geolm checkpoint computing the same function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geolm.systems import FAMILIES

AT_IDENTITY = ", ".join(family.name for family in FAMILIES if family.at_identity)


def convert(
    source: Annotated[Path, typer.Argument(help="a local Hugging Face checkpoint directory", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", help="the geolm checkpoint to write (new or empty dir)", show_default=False)
    ],
    parts: Annotated[
        str | None,
        typer.Option(
            "--parts", help=f"families to add at identity, comma-separated: {AT_IDENTITY}", show_default=False
        ),
    ] = None,
) -> None:
    """Convert a local Llama, Mistral, Qwen2 or Qwen3 causal-LM checkpoint (and its tokenizer) to geolm.

    A config field geolm cannot compute is refused by name; the converted model's logits equal the source's,
    also with --parts, whose geometric parts start at identity and move only when trained.
    Example: geolm convert ~/models/llama --out runs/llama-geolm --parts coordinate,curvature,experts
    """
    from geolm.convert import convert_checkpoint

    chosen = [name.strip() for name in (parts or "").split(",") if name.strip()]
    written = convert_checkpoint(source, out, chosen)
    typer.echo(f"wrote {written}; try: geolm generate {written} --prompt 'A heron is'")
