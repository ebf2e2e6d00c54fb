"""The coordinate side of `geolm generate`: adaptive decoding, coordinate analysis and prompt refinement.

The flags are declared by the coordinate `Family` (so `geolm generate --help` needs no torch) and checked
against each other before the model loads, and against the model once it has: on a model without coordinate
modulation each of them is a one-line `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import typer
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from geolm.coordinate.analysis import get_coordinate_statistics, plot_coordinate_activity, token_texts
from geolm.coordinate.decoding import adaptive_generate
from geolm.coordinate.modulation import coordinate_override, find_modulation
from geolm.coordinate.refinement import refine_coordinates
from geolm.errors import ConfigError, InputError
from geolm.inference.generation import (
    SamplingOptions,
    check_prompt_fits,
    context_length,
    generate_text,
    trim_at_stop,
)
from geolm.inference.streaming import StopTrimmingStreamer

PLOT_NAME = "coordinate_activity.png"  # written beside the checkpoint unless --plot says where


@dataclass(frozen=True)
class CoordinateFlags:
    """What the coordinate flags of `geolm generate` ask for (the coordinate `Family` declares them);
    `refinement_steps` 0 is the fast default."""

    adaptive: bool = False
    show_uncertainty: bool = False
    analyze_coordinates: bool = False
    plot: Path | None = None
    refinement_steps: int = 0
    no_refinement: bool = False

    @property
    def given(self) -> list[str]:
        """The flags on the command line, as the user typed them."""
        return [f"--{f.name.replace('_', '-')}" for f in fields(self) if getattr(self, f.name) != f.default]

    @property
    def stands_alone(self) -> bool:
        """The output is a table of its own, so the prompt is not echoed before it."""
        return self.analyze_coordinates

    def check(self, greedy: bool) -> None:
        """Refuse contradictory or incomplete combinations with one `InputError`."""
        if self.refinement_steps < 0:
            raise InputError(f"--refinement-steps must be 0 or more, got {self.refinement_steps}")
        if self.no_refinement and self.refinement_steps:
            raise InputError("--no-refinement and --refinement-steps contradict each other; give one")
        if self.show_uncertainty and not self.adaptive:
            raise InputError("--show-uncertainty reports adaptive decoding; add --adaptive")
        if self.plot is not None and not self.analyze_coordinates:
            raise InputError("--plot names the --analyze-coordinates picture; add --analyze-coordinates")
        if self.adaptive and greedy:
            raise InputError("--adaptive chooses greedy or nucleus decoding per token; drop --greedy")

    def require(self, model: PreTrainedModel, checkpoint: Path) -> None:
        """`ConfigError` when a coordinate flag is given for a model without coordinate modulation."""
        kind = getattr(model.config, "modulation", None)
        if self.given and kind != "coordinate":
            raise ConfigError(
                f"{checkpoint}: {', '.join(self.given)} need(s) a coordinate-modulated model; "
                f"this one has modulation={kind!r}"
            )

    def generate(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        prompt_ids: Sequence[int],
        options: SamplingOptions,
        extra_eos_ids: Sequence[int] = (),
    ) -> str:
        """Continue the prompt as the flags ask."""
        return coordinate_generate(model, tokenizer, prompt_ids, options, self, extra_eos_ids=extra_eos_ids)


def coordinate_generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt_ids: Sequence[int],
    options: SamplingOptions,
    flags: CoordinateFlags,
    extra_eos_ids: Sequence[int] = (),
) -> str:
    """Continue the prompt as the flags ask and return the text; analysis and uncertainty are printed."""
    check_prompt_fits(len(prompt_ids), context_length(model), options.max_new_tokens)
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=model.device)
    refined = None
    if flags.refinement_steps:
        refined, objective = refine_coordinates(model, ids, flags.refinement_steps)
        typer.echo(
            f"refinement: objective {float(objective[0]):.4f} -> {float(objective[-1]):.4f} "
            f"in {flags.refinement_steps} steps",
            err=True,
        )
    with coordinate_override(model, refined):
        if flags.analyze_coordinates:
            print_analysis(model, tokenizer, ids, flags.plot or Path(model.name_or_path).parent / PLOT_NAME)
        if not flags.adaptive:
            streamer = StopTrimmingStreamer(tokenizer, options.stop)
            generation = generate_text(
                model, tokenizer, prompt_ids, options, extra_eos_ids=extra_eos_ids, streamer=streamer
            )
            return generation.text
        result = adaptive_generate(
            model,
            ids,
            tokenizer,
            max_new_tokens=options.max_new_tokens,
            top_p=options.top_p,
            seed=options.seed,
            extra_eos_ids=extra_eos_ids,
        )
    text = trim_at_stop(result.texts[0], options.stop)
    typer.echo(text)
    if flags.show_uncertainty:
        new_ids = result.sequences[0, ids.shape[1] :].tolist()
        threshold = find_modulation(model).options.uncertainty_threshold
        uncertainty, explored = result.uncertainty[0].tolist(), result.explored[0].tolist()
        print_uncertainty(tokenizer, new_ids, uncertainty, explored, threshold)
    return text


def print_analysis(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, ids: torch.Tensor, plot: Path) -> None:
    """The prompt's coordinate statistics as text, and the per-token activity picture at `plot`."""
    stats = get_coordinate_statistics(model, ids)
    tokens = token_texts(tokenizer, stats["token_ids"].tolist())
    typer.echo(f"coordinates: norm {stats['norm']:.4f}")
    pairs = zip(stats["top_10_dims"], stats["top_10_values"], strict=True)
    typer.echo("top dims: " + ", ".join(f"{dim} ({value:+.4f})" for dim, value in pairs))
    typer.echo("token | |theta| | uncertainty")
    rows = zip(tokens, stats["token_norms"].tolist(), stats["uncertainty"].tolist(), strict=True)
    for token, norm, spread in rows:
        typer.echo(f"{token!r} | {norm:.4f} | {spread:.3e}")
    typer.echo(f"wrote {plot_coordinate_activity(stats, plot, tokens=tokens)}", err=True)


def print_uncertainty(
    tokenizer: PreTrainedTokenizerBase,
    new_ids: list[int],
    uncertainty: list[float],
    explored: list[bool],
    threshold: float,
) -> None:
    """One line per generated token: the uncertainty that chose how to decode it, and the choice."""
    typer.echo(f"uncertainty per new token (sampled above {threshold:.3e}, greedy below):")
    for step, (token, value, sampled) in enumerate(zip(new_ids, uncertainty, explored, strict=True), start=1):
        choice = "sampled" if sampled else "greedy"
        typer.echo(f"{step} | {tokenizer.decode([token])!r} | {value:.3e} | {choice}")
