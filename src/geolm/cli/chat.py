"""`geolm chat`: a multi-turn conversation with a checkpoint, interactive or fed from a pipe."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from geolm.cli.generate import (
    DEFAULTS,
    CheckpointArg,
    Device,
    Greedy,
    MaxNewTokens,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
)
from geolm.sampling import SamplingOptions

PROMPT = "you> "


def chat(
    checkpoint: CheckpointArg,
    system: Annotated[str | None, typer.Option("--system", help="system message opening the conversation")] = None,
    max_new_tokens: MaxNewTokens = DEFAULTS.max_new_tokens,
    temperature: Temperature = DEFAULTS.temperature,
    top_k: TopK = DEFAULTS.top_k,
    top_p: TopP = DEFAULTS.top_p,
    repetition_penalty: RepetitionPenalty = DEFAULTS.repetition_penalty,
    stop: Stop = None,
    seed: Seed = None,
    greedy: Greedy = False,
    device: Device = None,
) -> None:
    """Chat with a model; /help lists the commands. Reads messages line by line when stdin is a pipe.

    Example: geolm chat runs/first --system "Be brief."
    """
    from geolm.inference.conversation import require_chat_template
    from geolm.inference.loading import load_for_inference
    from geolm.inference.responder import ResponseGenerator
    from geolm.inference.session import ChatSession

    options = SamplingOptions(
        max_new_tokens, temperature, top_k, top_p, repetition_penalty, tuple(stop or ()), greedy, seed
    )
    model, tokenizer = load_for_inference(checkpoint, device=device)
    require_chat_template(tokenizer)
    responder = ResponseGenerator(model, tokenizer, options)
    session = ChatSession(responder, responder.new_conversation(system))
    interactive = sys.stdin.isatty()
    if interactive:
        typer.echo(f"chatting with {tokenizer.name_or_path}; /help lists commands, Ctrl-D leaves", err=True)
    try:
        session.run(_typed_lines() if interactive else sys.stdin)
    except KeyboardInterrupt:
        typer.echo("", err=True)


def _typed_lines() -> Iterator[str]:
    """Lines typed at the prompt (with line editing where readline exists), until Ctrl-D."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 (importing it gives input() history and editing)
    while True:
        try:
            yield input(PROMPT)
        except EOFError:
            typer.echo("", err=True)
            return
