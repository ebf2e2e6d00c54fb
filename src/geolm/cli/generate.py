"""`geolm generate`: continue one prompt with a checkpoint and print the continuation as it comes.

The sampling flags are declared once here as annotated types and shared with `geolm chat`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from geolm.errors import InputError
from geolm.sampling import SamplingOptions

if TYPE_CHECKING:
    from geolm.nn.stats import InferenceStats

DEFAULTS = SamplingOptions()

CheckpointArg = Annotated[
    Path,
    typer.Argument(help="checkpoint directory, or a run directory (its best/, else last/)", show_default=False),
]
MaxNewTokens = Annotated[int, typer.Option("--max-new-tokens", help="most tokens to generate")]
Temperature = Annotated[float, typer.Option("--temperature", help="softmax temperature when sampling")]
TopK = Annotated[int, typer.Option("--top-k", help="sample among the k likeliest tokens (0: no limit)")]
TopP = Annotated[float, typer.Option("--top-p", help="sample among the likeliest tokens holding this mass")]
RepetitionPenalty = Annotated[
    float, typer.Option("--repetition-penalty", help="above 1 discourages repeated tokens (1: off)")
]
Stop = Annotated[list[str] | None, typer.Option("--stop", help="end before this text (repeatable)")]
Seed = Annotated[int | None, typer.Option("--seed", help="seed for reproducible sampling")]
Greedy = Annotated[bool, typer.Option("--greedy", help="always take the likeliest token (no sampling)")]
Device = Annotated[
    str | None, typer.Option("--device", help="cpu, cuda, cuda:1, mps, ... (default: a GPU, else MPS, else the CPU)")
]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile the forward (pays off for long generations)")]
Stats = Annotated[
    bool, typer.Option("--stats", help="print what the model's parts report for each new token, and their means")
]


def generate(
    checkpoint: CheckpointArg,
    prompt: Annotated[str, typer.Option("--prompt", help="text to continue", show_default=False)],
    max_new_tokens: MaxNewTokens = DEFAULTS.max_new_tokens,
    temperature: Temperature = DEFAULTS.temperature,
    top_k: TopK = DEFAULTS.top_k,
    top_p: TopP = DEFAULTS.top_p,
    repetition_penalty: RepetitionPenalty = DEFAULTS.repetition_penalty,
    stop: Stop = None,
    seed: Seed = None,
    greedy: Greedy = False,
    chat: Annotated[
        bool, typer.Option("--chat", help="send the prompt as a user message through the chat template")
    ] = False,
    device: Device = None,
    stats: Stats = False,
    compile: Compile = False,
    echo: Annotated[bool, typer.Option("--echo/--no-echo", help="print the prompt before its continuation")] = True,
    **family_flags: Any,
) -> None:
    """Continue a prompt; a prompt that leaves no room for --max-new-tokens in the context is an error.

    Example: geolm generate runs/first --prompt "A heron is a kind of" --greedy
    """
    from geolm.compiling import compile_for_generation
    from geolm.inference.conversation import render_chat, reply_end_ids
    from geolm.inference.generation import check_prompt_fits, context_length, encode_prompt, generate_text
    from geolm.inference.loading import load_for_inference
    from geolm.inference.streaming import StopTrimmingStreamer
    from geolm.nn.stats import inference_stats

    options = SamplingOptions(
        max_new_tokens, temperature, top_k, top_p, repetition_penalty, tuple(stop or ()), greedy, seed
    )
    flags = given_family_flags(family_flags)
    if flags is not None:
        flags.check(greedy)
    model, tokenizer = load_for_inference(checkpoint, device=device)
    if compile:
        compile_for_generation(model)
    if flags is not None:
        flags.require(model, checkpoint)
    if chat:
        prompt_ids = render_chat(tokenizer, [{"role": "user", "content": prompt}], add_generation_prompt=True)
        end_ids = reply_end_ids(tokenizer)
    else:
        prompt_ids, end_ids = encode_prompt(tokenizer, prompt), []
    check_prompt_fits(len(prompt_ids), context_length(model), options.max_new_tokens)  # before any echo
    if echo and not (chat or (flags is not None and flags.stands_alone)):  # a chat reply stands alone
        typer.echo(prompt, nl=False)
    with inference_stats(model) if stats else nullcontext() as recorded:
        if flags is not None:
            flags.generate(model, tokenizer, prompt_ids, options, extra_eos_ids=end_ids)
        else:
            streamer = StopTrimmingStreamer(tokenizer, options.stop)
            generate_text(model, tokenizer, prompt_ids, options, extra_eos_ids=end_ids, streamer=streamer)
    if recorded is not None:
        print_stats(recorded)


def with_family_flags(verb: Callable[..., None]) -> Callable[..., None]:
    """The verb with the flags families add (`Family.generate_flags`) in its signature, after its own, so that
    typer shows and parses them; they reach it as keyword arguments."""
    from geolm.systems import generate_flags

    signature = inspect.signature(verb, eval_str=True)  # typer reads the annotations as objects
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    added = []
    for flag in generate_flags():
        option = typer.Option(f"--{flag.name.replace('_', '-')}", help=flag.help, show_default=flag.default is not None)
        added.append(
            inspect.Parameter(
                flag.name, inspect.Parameter.KEYWORD_ONLY, default=flag.default, annotation=Annotated[flag.type, option]
            )
        )
    verb.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    return verb


generate = with_family_flags(generate)


def given_family_flags(values: dict[str, Any]) -> Any | None:
    """The one family's flags given on the command line, None when none are; flags of two families at once
    are refused."""
    from geolm.systems import generate_modes

    given = [mode for mode in generate_modes(values) if mode.given]
    if len(given) > 1:
        named = " and ".join(", ".join(mode.given) for mode in given)
        raise InputError(f"{named} belong to different kinds of model; give the flags of one")
    return given[0] if given else None


def print_stats(stats: InferenceStats) -> None:
    """Per new token, each statistic the parts reported (mean over k values for a (k,)-shaped one), then the
    means over the continuation and what each statistic is; on stderr, so stdout stays the continuation."""
    from geolm.systems import statistics

    console = Console(stderr=True)
    names = stats.names
    if not names:
        console.print("--stats: this model's parts report no statistics")
        return
    table = Table(title="part statistics per new token")
    for column in ("token", *names):
        table.add_column(column, justify="right")
    columns = [stats.per_token(name)[0] for name in names]
    for step in range(columns[0].shape[0]):
        table.add_row(str(step + 1), *(_number(column[step]) for column in columns))
    console.print(table)
    for name, mean in stats.summary().items():
        shown = ", ".join(f"{v:.4g}" for v in mean) if isinstance(mean, list) else f"{mean:.4g}"
        console.print(f"mean {name}: {shown}")
    meanings = statistics()
    for name in names:
        console.print(f"{name}: {meanings.get(name, 'reported by a part no family declares')}", style="dim")


def _number(value) -> str:
    return f"{float(value.float().mean()):.4g}"
