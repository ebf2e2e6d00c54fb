"""`geolm train`: tokenizer, data, model and trainer wired together from a preset and a few flags."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
# Flags `geolm train` does not know go on to the run's recipe (`geolm.training.recipes`); the command is mounted
# with these settings so that click passes them through.
CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def train(
    ctx: typer.Context,
    preset: str = typer.Option("llama-10m", help="model preset (see `geolm presets`)"),
    config: Path | None = typer.Option(None, help="JSON file of model config overrides (may name a preset)"),
    data: list[Path] | None = typer.Option(
        None, help="training files, directories or shards directories (repeatable); none = embedded corpus"
    ),
    weights: list[float] | None = typer.Option(
        None, help="sampling weight of each --data, in order (default: files equally, shards concatenated)"
    ),
    steps: int = typer.Option(1000, min=1, help="length of the whole schedule in optimizer steps"),
    minutes: float | None = typer.Option(
        None, min=0.01, help="train for this wall-clock budget: --steps fitted to it after a few timed steps"
    ),
    out: Path | None = typer.Option(None, help="run directory (default runs/PRESET)"),
    resume: str | None = typer.Option(None, help="'auto' (OUT/last if present) or a checkpoint path"),
    seed: int = typer.Option(0, help="seed of initialisation, data order and sampling"),
    save_every: int = typer.Option(500, min=0, help="write OUT/last every K steps (0: only at the end)"),
    stop_after: int | None = typer.Option(
        None, min=1, help="end this run at step K with a checkpoint, as if pre-empted"
    ),
    batch_size: int = typer.Option(8, min=1, help="blocks per micro-step and device"),
    block_size: int = typer.Option(256, min=2, help="tokens per training block"),
    grad_accum: int = typer.Option(1, min=1, help="micro-steps per optimizer step"),
    lr: float = typer.Option(3e-4, help="peak learning rate"),
    warmup_steps: int | None = typer.Option(
        None, min=0, help="linear warmup steps (default: a tenth of the run, at most 100)"
    ),
    eval_every: int = typer.Option(100, min=0, help="evaluate every K steps (0: only at the end)"),
    log_every: int = typer.Option(10, min=1, help="write a metrics record every K steps"),
    mixed_precision: str = typer.Option("no", help="no | bf16 | fp16"),
    gradient_checkpointing: bool = typer.Option(False, help="recompute activations in backward"),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model (inductor); first steps compile"),
    report_to: list[str] | None = typer.Option(None, help="trackers: tensorboard, wandb (offline), ..."),
    tokenizer: Path | None = typer.Option(None, help="an existing tokenizer directory to use"),
    vocab_size: int | None = typer.Option(None, help="vocabulary of a newly trained tokenizer (default: preset's)"),
    max_train_tokens: int | None = typer.Option(None, help="use at most this many training tokens"),
    curriculum: Path | None = typer.Option(None, help="JSON curriculum file (default: the recipe's curriculum)"),
    recipe: str | None = typer.Option(
        None, help="default curriculum and data: baseline, coordinate, ... (default: the preset's)"
    ),
    init_from: Path | None = typer.Option(
        None, "--init-from", help="start from this checkpoint's weights, config and tokenizer (geolm convert's, say)"
    ),
    start_phase: str | None = typer.Option(
        None, "--start-phase", help="begin at this phase (name or number) from the --resume checkpoint"
    ),
    recipe_flags: bool = typer.Option(
        False, "--recipe-flags", help="print the flags of the run's recipe (given besides these) and exit"
    ),
) -> None:
    """Train a geolm model; checkpoints go to OUT/last and OUT/best, metrics to OUT/metrics.jsonl.

    Flags not listed here belong to the run's recipe: `--recipe-flags` lists them. Ctrl-C stops the run and
    prints the command that resumes it from its last checkpoint.

    Example: geolm train --preset llama-demo --steps 300 --out runs/first
    """
    from geolm import api
    from geolm.cli.recipe_flags import parse_recipe_flags, recipe_flags_help
    from geolm.systems import register_training
    from geolm.training import TrainArgs

    register_training()  # recipes declare their options in their systems' training modules
    out = out or Path("runs") / preset
    api.check_out_dir(out)
    recipe = recipe or api.recipe_of(preset, config)
    if recipe_flags:
        typer.echo(recipe_flags_help(recipe), nl=False)
        return
    # The recipe's flags are read before any tokenizer, data or model work, so a bad one fails at once.
    own_flags = [opt for param in ctx.command.params for opt in param.opts if opt.startswith("--")]
    options = parse_recipe_flags(recipe, ctx.args, own_flags=own_flags)
    args = TrainArgs(
        steps=steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        warmup_steps=warmup_steps,
        eval_every=eval_every,
        log_every=log_every,
        save_every=save_every,
        stop_after=stop_after,
        seed=seed,
        mixed_precision=mixed_precision,
        gradient_checkpointing=gradient_checkpointing,
        compile=compile,
        report_to=report_to or [],
        minutes=minutes,
    )
    spec = api.RunSpec(
        preset=preset,
        config=config,
        data=tuple(data or ()),
        weights=tuple(weights) if weights else None,
        tokenizer=tokenizer,
        vocab_size=vocab_size,
        max_train_tokens=max_train_tokens,
        block_size=block_size,
        out=out,
        args=args,
        recipe=recipe,
        recipe_options=options,
        curriculum=curriculum,
        resume=resume,
        start_phase=start_phase,
        init_from=init_from,
    )
    spec = api.check_spec(spec)
    try:  # Ctrl-C in the data work or in training: nothing half-written, and how to go on
        result = api.train_prepared(api.prepare(spec))
    except KeyboardInterrupt:
        say_interrupted(out)
        raise typer.Exit(130) from None
    console.print(summary_table(result, spec.args.steps))


def say_interrupted(out: Path) -> None:
    """After Ctrl-C: where the last whole checkpoint is and the exact command that resumes from it."""
    from geolm.training.checkpoint import LAST, recover_interrupted, saved_step

    if out.is_dir():
        recover_interrupted(out)  # a save cut short leaves the previous checkpoint whole
    step = saved_step(out / LAST)
    if step is None:
        console.print(f"interrupted before the first checkpoint; nothing was saved in {out}", soft_wrap=True)
        return
    console.print(f"interrupted; the last checkpoint is {out / LAST} (step {step})", soft_wrap=True)
    console.print(f"resume with: {resume_command(sys.argv)}", soft_wrap=True)


def resume_command(argv: list[str]) -> str:
    """The command line `argv` with its --resume (if any) replaced by `--resume auto`."""
    words, skip = ["geolm"], False
    for word in argv[1:]:
        if skip:
            skip = False
        elif word == "--resume":
            skip = True
        elif not word.startswith("--resume="):
            words.append(word)
    return shlex.join([*words, "--resume", "auto"])


def summary_table(result, steps: int) -> Table:
    """The end-of-run summary: steps, best validation loss and where the checkpoints are."""
    table = Table(title="done", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    best = "-" if result.best_val_loss is None else f"{result.best_val_loss:.4f}"
    rows = {
        "steps": f"{result.step} of {steps}",
        "best validation loss": best,
        "last checkpoint": str(result.last_checkpoint or "-"),
        "best checkpoint": str(result.best_checkpoint or "-"),
        "skipped steps": str(result.skipped_steps),
    }
    for name, value in rows.items():
        table.add_row(name, value)
    return table
