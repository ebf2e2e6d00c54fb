"""`geolm generate`: continue one prompt with a checkpoint and print the continuation as it comes.

The sampling flags are declared once here as annotated types and shared with `geolm chat`.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

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
Device = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1, ... (default: a GPU if any)")]
Adaptive = Annotated[
    bool, typer.Option("--adaptive", help="coordinate models: greedy where coordinates are sure, else top-p")
]
ShowUncertainty = Annotated[
    bool, typer.Option("--show-uncertainty", help="with --adaptive: print each new token's uncertainty")
]
AnalyzeCoordinates = Annotated[
    bool, typer.Option("--analyze-coordinates", help="coordinate models: print and plot prompt coordinates")
]
Plot = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        help="PNG of --analyze-coordinates (default: coordinate_activity.png beside the checkpoint)",
        show_default=False,
    ),
]
RefinementSteps = Annotated[
    int, typer.Option("--refinement-steps", help="coordinate models: refine the prompt's coordinates first")
]
NoRefinement = Annotated[bool, typer.Option("--no-refinement", help="use predicted coordinates only (the default)")]
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
    adaptive: Adaptive = False,
    show_uncertainty: ShowUncertainty = False,
    analyze_coordinates: AnalyzeCoordinates = False,
    plot: Plot = None,
    refinement_steps: RefinementSteps = 0,
    no_refinement: NoRefinement = False,
    stats: Stats = False,
    compile: Compile = False,
    echo: Annotated[bool, typer.Option("--echo/--no-echo", help="print the prompt before its continuation")] = True,
) -> None:
    """Continue a prompt; a prompt that leaves no room for --max-new-tokens in the context is an error.

    Example: geolm generate runs/first --prompt "A heron is a kind of" --greedy
    """
    from geolm.compiling import compile_for_generation
    from geolm.coordinate.cli import CoordinateFlags, coordinate_generate
    from geolm.inference.conversation import render_chat, reply_end_ids
    from geolm.inference.generation import check_prompt_fits, context_length, encode_prompt, generate_text
    from geolm.inference.loading import load_for_inference
    from geolm.inference.streaming import StopTrimmingStreamer
    from geolm.nn.stats import inference_stats

    options = SamplingOptions(
        max_new_tokens, temperature, top_k, top_p, repetition_penalty, tuple(stop or ()), greedy, seed
    )
    flags = CoordinateFlags(adaptive, show_uncertainty, analyze_coordinates, plot, refinement_steps, no_refinement)
    flags.check(greedy)
    model, tokenizer = load_for_inference(checkpoint, device=device)
    if compile:
        compile_for_generation(model)
    flags.require_coordinates(model, checkpoint)
    if chat:
        prompt_ids = render_chat(tokenizer, [{"role": "user", "content": prompt}], add_generation_prompt=True)
        end_ids = reply_end_ids(tokenizer)
    else:
        prompt_ids, end_ids = encode_prompt(tokenizer, prompt), []
    check_prompt_fits(len(prompt_ids), context_length(model), options.max_new_tokens)  # before any echo
    if echo and not (chat or flags.analyze):  # a chat reply and the analysis' table stand alone
        typer.echo(prompt, nl=False)
    with inference_stats(model) if stats else nullcontext() as recorded:
        if flags.given:
            coordinate_generate(model, tokenizer, prompt_ids, options, flags, extra_eos_ids=end_ids)
        else:
            streamer = StopTrimmingStreamer(tokenizer, options.stop)
            generate_text(model, tokenizer, prompt_ids, options, extra_eos_ids=end_ids, streamer=streamer)
    if recorded is not None:
        print_stats(recorded)


def print_stats(stats: InferenceStats) -> None:
    """Per new token, each statistic the parts reported (mean over k values for a (k,)-shaped one), then the
    means over the continuation; on stderr, so stdout stays the continuation."""
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


def _number(value) -> str:
    return f"{float(value.float().mean()):.4g}"
