"""`geolm serve`: an OpenAI-compatible HTTP endpoint for a checkpoint (transformers' serving code)."""

from __future__ import annotations

from typing import Annotated

import typer

from geolm.cli.generate import CheckpointArg, Device

Host = Annotated[str, typer.Option("--host", help="address to listen on (0.0.0.0 exposes it to the network)")]
Port = Annotated[int, typer.Option("--port", help="TCP port", min=1, max=65535)]


def serve(checkpoint: CheckpointArg, host: Host = "127.0.0.1", port: Port = 8000, device: Device = None) -> None:
    """Serve CHECKPOINT at http://HOST:PORT/v1 (models, chat/completions with streaming, completions).

    Example: geolm serve runs/base --port 8000, then
    openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="none").chat.completions.create(...)
    """
    from geolm.inference.loading import checked_checkpoint
    from geolm.serving.endpoint import serve as run

    path = checked_checkpoint(checkpoint)
    typer.echo(f"serving {path} at http://{host}:{port}/v1 (Ctrl-C stops)", err=True)
    run(path, host=host, port=port, device=device)
