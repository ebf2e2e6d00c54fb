"""`geolm train`: tokenizer, data, model and trainer wired together from a preset and a few flags."""

from __future__ import annotations

import itertools
import shlex
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from geolm.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from geolm.training.recipes import RecipeStart

console = Console(stderr=True)
# Flags `geolm train` does not know go on to the run's recipe (`geolm.training.recipes`); the command is mounted
# with these settings so that click passes them through.
TOKENIZER_DOCUMENTS = 2_000_000  # a new tokenizer learns from at most this many documents
CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def train(
    ctx: typer.Context,
    preset: str = typer.Option("llama-10m", help="model preset (see `geolm presets`)"),
    config: Path | None = typer.Option(None, help="JSON file of model config overrides (may name a preset)"),
    data: list[Path] | None = typer.Option(None, help="training files or directories; none = embedded corpus"),
    steps: int = typer.Option(1000, min=1, help="length of the whole schedule in optimizer steps"),
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
    from geolm.systems import register_training
    from geolm.training import Curriculum, TrainArgs
    from geolm.training import train as run_training
    from geolm.training.recipes import parse_recipe_flags, recipe_flags_help

    register_training()  # recipes declare their flags in their systems' training modules
    out = out or Path("runs") / preset
    check_out_dir(out)
    recipe = recipe or recipe_of(preset, config)
    if recipe_flags:
        typer.echo(recipe_flags_help(recipe), nl=False)
        return
    # The recipe's flags are read before any tokenizer, data or model work, so a bad one fails at once.
    base = base_fields(preset, config)
    own_flags = [opt for param in ctx.command.params for opt in param.opts if opt.startswith("--")]
    chosen = parse_recipe_flags(recipe, ctx.args, base, own_flags=own_flags)
    settings: dict[str, Any] = {
        "steps": steps,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "lr": lr,
        "warmup_steps": default_warmup(steps) if warmup_steps is None else warmup_steps,
        "eval_every": eval_every,
        "log_every": log_every,
        "save_every": save_every,
        "stop_after": stop_after,
        "seed": seed,
        "mixed_precision": mixed_precision,
        "gradient_checkpointing": gradient_checkpointing,
        "compile": compile,
        "report_to": report_to or [],
    }
    overrides = dict(chosen.train)
    block_size = overrides.pop("block_size", block_size)
    unknown = sorted(set(overrides) - {f.name for f in fields(TrainArgs)})
    if unknown:
        raise ConfigError(f"recipe {recipe!r} sets unknown training setting(s) {unknown}")
    settings.update(overrides)
    settings["warmup_steps"] = min(settings["warmup_steps"], settings["steps"])
    args = TrainArgs(**settings)
    if chosen.start is not None:
        resume, start_phase = recipe_start(chosen.start, out, resume, start_phase)
    if resume is not None:
        check_kept_model(resume, out, chosen.config)
    elif out.is_dir():
        from geolm.training.trainer import refuse_to_overwrite

        refuse_to_overwrite(out)  # before the tokenizer and data work, not after it
    plan = Curriculum.from_file(curriculum) if curriculum else None
    if plan is not None and chosen.recipe:
        raise ConfigError(
            f"--curriculum replaces the curriculum and data of recipe {recipe!r}, which its flags set "
            f"({', '.join(sorted(chosen.recipe))}); drop one or the other"
        )
    try:  # Ctrl-C in the data work or in training: nothing half-written, and how to go on
        run = prepare_run(
            preset=preset,
            config_file=config,
            data=data or None,
            out=out,
            resume=resume,
            seed=seed,
            block_size=block_size,
            tokenizer_dir=tokenizer,
            vocab_size=vocab_size,
            max_train_tokens=max_train_tokens,
            config_overrides=chosen.config_overrides(base),
        )
        plan, train_data = curriculum_and_data(run, plan, recipe, block_size, seed, chosen.recipe)
        result = run_training(
            run["model"],
            train_data,
            run["validation"],
            args,
            out,
            tokenizer=run["tokenizer"],
            curriculum=plan,
            resume=resume,
            start_phase=start_phase,
        )
    except KeyboardInterrupt:
        say_interrupted(out)
        raise typer.Exit(130) from None
    console.print(summary_table(result, args.steps))


def default_warmup(steps: int) -> int:
    """A tenth of the run, at most 100 steps, so a short run still spends most of its steps decaying."""
    return min(100, steps // 10)


def check_out_dir(out: Path) -> None:
    """`--out` must be a directory or not exist yet; found before any tokenizer, data or model work."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a run directory")


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


def curriculum_and_data(
    run: dict, plan, recipe: str, block_size: int, seed: int, options: Mapping[str, Any] | None = None
) -> tuple:
    """The curriculum and training sources of a run: the user's plan on the run's data if given, else what the
    named recipe builds (the preset's own, unless --recipe says otherwise) with the options its flags chose."""
    from geolm.systems import register_training
    from geolm.training.recipes import RECIPES, RecipeInputs

    register_training()
    if plan is not None:
        return plan, run["train"]
    build = RECIPES.get(recipe)
    with console.status(f"preparing the data of recipe {recipe!r}"):
        return build(RecipeInputs(run["tokenizer"], run["train"], block_size, seed, options or {}))


def recipe_start(start: RecipeStart, out: Path, resume: str | None, start_phase: str | None) -> tuple[str, str | int]:
    """The checkpoint (inside OUT) and phase at which a recipe's flag, such as --skip-setup, starts the run."""
    if resume is not None or start_phase is not None:
        raise ConfigError(f"{start.flag} chooses the checkpoint and phase to start at; drop --resume and --start-phase")
    checkpoint = out / start.checkpoint
    if not (checkpoint / "config.json").is_file():
        raise CheckpointError(f"{start.flag} starts from {checkpoint}, which is not a checkpoint (run the setup first)")
    return str(checkpoint), start.phase


def check_kept_model(resume: str, out: Path, flags_config: Mapping[str, Any]) -> None:
    """A resumed run keeps its checkpoint's model, so a recipe flag asking for another shape is refused rather
    than silently ignored (a flag repeating the checkpoint's value is fine)."""
    from geolm.config import GeoConfig
    from geolm.training.checkpoint import resume_checkpoint

    checkpoint = resume_checkpoint(resume, out)
    if checkpoint is None or not flags_config:
        return
    config = GeoConfig.from_pretrained(checkpoint)
    options = config.resolved_options()
    wanted = {key: value for key, value in flags_config.items() if key != "part_options"}
    have = {key: getattr(config, key) for key in wanted}
    for kind, settings in (flags_config.get("part_options") or {}).items():
        for name, value in settings.items():
            wanted[f"{kind}.{name}"] = value
            have[f"{kind}.{name}"] = getattr(options[kind], name, None) if kind in options else None
    for key, value in wanted.items():
        if value is not None and _plain(value) != _plain(have[key]):
            raise ConfigError(
                f"{checkpoint} has {key} {_plain(have[key])}, the recipe's flags ask for {_plain(value)}; a resumed "
                "run keeps its checkpoint's model"
            )


def _plain(value: Any) -> Any:
    """Lists and tuples alike (a config read back from JSON has lists where options have tuples)."""
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else value


def base_fields(preset: str, config_file: Path | None) -> dict[str, Any]:
    """The model config fields a recipe's flags apply to: the preset's, or a config file's over its preset's,
    as `GeoConfig.from_file` builds them."""
    from geolm.files import read_json_object
    from geolm.presets import PRESETS

    if config_file is None:
        return dict(PRESETS.get(preset, {}))
    data = read_json_object(config_file, "config")
    return {**PRESETS.get(data.get("preset"), {}), **data}


def recipe_of(preset: str, config_file: Path | None) -> str:
    """The recipe the run's preset names: the config file's "preset" when a file is given."""
    from geolm.files import read_json_object
    from geolm.presets import preset_recipe

    return preset_recipe(read_json_object(config_file, "config").get("preset") if config_file else preset)


def prepare_run(
    *,
    preset: str,
    config_file: Path | None,
    data: list[Path] | None,
    out: Path,
    resume: str | None,
    seed: int,
    block_size: int,
    tokenizer_dir: Path | None,
    vocab_size: int | None,
    max_train_tokens: int | None,
    config_overrides: Mapping[str, Any] | None = None,
) -> dict:
    """Tokenizer, model and token blocks of a run; on resume the tokenizer and config come from the checkpoint.

    `config_overrides` (a recipe's flags) apply over the preset or the config file; the config they make is
    built and checked first, so a bad value fails before the tokenizer trains."""
    import torch
    from transformers import AutoTokenizer

    from geolm.config import GeoConfig
    from geolm.data.cache import cached_blocks, tokenizer_fingerprint
    from geolm.data.prepare import prepare_lm_data
    from geolm.modeling import GeoForCausalLM
    from geolm.training.checkpoint import resume_checkpoint

    checkpoint = resume_checkpoint(resume, out) if resume else None
    if checkpoint is not None:
        tok = AutoTokenizer.from_pretrained(checkpoint)
        config = GeoConfig.from_pretrained(checkpoint)
    else:
        base = model_config(preset, config_file, **(config_overrides or {}))
        check_block_size(block_size, base)
        if tokenizer_dir is not None:
            if not (tokenizer_dir / "tokenizer.json").exists():
                raise CheckpointError(f"no tokenizer.json in tokenizer directory {tokenizer_dir}")
            tok = AutoTokenizer.from_pretrained(tokenizer_dir)
        else:
            tok = new_tokenizer(data, seed, vocab_size or base.vocab_size)
        special = {key: getattr(tok, key) for key in ("pad_token_id", "bos_token_id", "eos_token_id")}
        config = model_config(preset, config_file, **{**(config_overrides or {}), "vocab_size": len(tok), **special})
    check_block_size(block_size, config)

    def blocks() -> tuple:
        return prepare_lm_data(data, tok, block_size, seed=seed, max_train_tokens=max_train_tokens)

    if data:
        train_blocks, val_blocks = blocks()
    else:
        settings = {"block_size": block_size, "seed": seed, "max_train_tokens": max_train_tokens}
        settings["tokenizer"] = tokenizer_fingerprint(tok)
        train_blocks, val_blocks = cached_blocks(blocks, console.print, **settings)
    console.print(
        f"data: {len(train_blocks):,} training blocks, {len(val_blocks):,} validation blocks of {block_size} tokens"
    )
    torch.manual_seed(seed)
    model = GeoForCausalLM(config)
    return {"model": model, "tokenizer": tok, "train": train_blocks, "validation": val_blocks}


def new_tokenizer(data: list[Path] | None, seed: int, vocab_size: int):
    """A byte-level BPE trained on the user's data, or on the embedded corpus (built once, then cached)."""
    from geolm.data.cache import cached_tokenizer
    from geolm.data.corpus import corpus_texts
    from geolm.data.prepare import source_texts
    from geolm.data.tokenizer import train_tokenizer
    from geolm.progress import counted

    def build():
        texts = source_texts(data) if data else list(corpus_texts("train", seed=seed))
        total = None if data else min(len(texts), TOKENIZER_DOCUMENTS)
        console.print(f"tokenizer: training a byte-level BPE of {vocab_size:,} entries", soft_wrap=True)
        read = counted(itertools.islice(texts, TOKENIZER_DOCUMENTS), "training the tokenizer", total)
        return train_tokenizer(read, vocab_size)

    if data:
        return build()
    settings = {"vocab_size": vocab_size, "seed": seed, "documents": TOKENIZER_DOCUMENTS}
    return cached_tokenizer(build, console.print, **settings)


def model_config(preset: str, config_file: Path | None, **overrides: Any):
    """The run's model config: the config file's, or the preset's, with `overrides` on top."""
    from geolm.config import GeoConfig

    return GeoConfig.from_file(config_file, **overrides) if config_file else GeoConfig.from_preset(preset, **overrides)


def check_block_size(block_size: int, config) -> None:
    """Positions past the model's table have no embedding; refuse the run before it tokenizes anything."""
    if block_size > config.max_position_embeddings:
        raise ConfigError(
            f"block_size {block_size} exceeds the model's max_position_embeddings {config.max_position_embeddings}"
        )
