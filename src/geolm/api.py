"""geolm from Python: what `geolm train`, `generate` and `evaluate` do, as functions a script or notebook calls.

A run is described by one `RunSpec` (model, data, tokenizer, training arguments, recipe, where it goes and
where it resumes from); `prepare(spec)` builds what it needs and `train(spec)` runs it. `load`, `generate` and
`evaluate` work on a finished run or checkpoint. The command line is a thin layer over these functions.

    >>> from geolm import api
    >>> spec = api.RunSpec(preset="llama-tiny", data=("notes.txt",), out="runs/tiny", block_size=32,
    ...                    args=api.TrainArgs(steps=2, batch_size=2, eval_every=0, save_every=0))
    >>> result = api.train(spec)
    >>> model, tokenizer = api.load("runs/tiny")
    >>> result.step
    2
    >>> reply = api.generate(model, tokenizer, "The heron", max_new_tokens=4, greedy=True)
    >>> len(reply.token_ids) <= 4
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from geolm.errors import CheckpointError, ConfigError, DataError
from geolm.training.args import TrainArgs
from geolm.training.recipes import RecipeOptions

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from geolm.inference.generation import Generation
    from geolm.training import Curriculum, TrainResult
    from geolm.training.data import Blocks
    from geolm.training.recipes import RecipeStart

__all__ = ["PreparedRun", "RunSpec", "TrainArgs", "evaluate", "generate", "load", "prepare", "resolve", "train"]

console = Console(stderr=True)
TOKENIZER_DOCUMENTS = 2_000_000  # a new tokenizer learns from at most this many documents
VALIDATION_FRACTION = 0.05  # of each source's records held out, as `prepare_lm_data` holds out
PARALLEL_TOKENS = 2_000_000  # a run's data up to this many training tokens is tokenized in one process


@dataclass(frozen=True)
class RunSpec:
    """Everything a training run depends on.

    The model is `preset`, or the JSON `config` file (which may name a preset), with `overrides` (config
    fields; `part_options` is merged per kind) on top. `data` are files or directories in any accepted format,
    or shards directories (`geolm data tokenize`); none means the embedded corpus. `weights` mix several data
    sources (one weight each; without them, files are mixed equally and shards directories concatenated).
    `tokenizer` is an existing tokenizer directory; without one a byte-level BPE of `vocab_size` entries
    (default: the model's) is trained on the data. `recipe` (default: the preset's) builds the curriculum and
    its data sources, reading `recipe_options` (its options class, such as `SeedOptions`, or a mapping of its
    fields); options may also set model fields, training arguments and the start, applied over the spec's own
    by `resolve`. A `curriculum` (file or object) replaces the recipe's. `resume` is None, "auto" (OUT/last if
    present) or a checkpoint; `start_phase` begins at that phase from it. `init_from` (a checkpoint or run
    directory, such as `geolm convert` writes) starts a new run from its weights, config and tokenizer.
    The seed is `args.seed`.
    """

    preset: str = "llama-10m"
    config: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    data: tuple[Path, ...] = ()
    weights: tuple[float, ...] | None = None
    tokenizer: Path | None = None
    vocab_size: int | None = None
    max_train_tokens: int | None = None
    block_size: int = 256
    out: Path | None = None
    args: TrainArgs = field(default_factory=TrainArgs)
    recipe: str | None = None
    recipe_options: RecipeOptions | Mapping[str, Any] | None = None
    curriculum: Path | Curriculum | None = None
    resume: str | None = None
    start_phase: str | int | None = None
    init_from: Path | None = None

    def __post_init__(self) -> None:  # paths may be given as strings
        object.__setattr__(self, "data", tuple(Path(p) for p in self.data))
        if self.weights is not None:
            object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        for name in ("config", "tokenizer", "out", "curriculum", "init_from"):
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, Path(getattr(self, name)))

    @property
    def run_dir(self) -> Path:
        """Where checkpoints and metrics go: `out`, or runs/PRESET."""
        return self.out or Path("runs") / self.preset

    @property
    def recipe_name(self) -> str:
        """The recipe that builds the run's curriculum: `recipe`, or the one its preset names."""
        return self.recipe or recipe_of(self.preset, self.config)

    @property
    def seed(self) -> int:
        """The seed of initialisation, data order and sampling (`args.seed`)."""
        return self.args.seed


@dataclass
class PreparedRun:
    """A run ready to train: its model, tokenizer, named training sources, validation blocks and curriculum."""

    spec: RunSpec
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    sources: dict[str, Blocks]
    validation: Blocks | None
    curriculum: Curriculum


def resolve(spec: RunSpec) -> RunSpec:
    """The spec with its recipe options checked and typed, and what they set applied: model overrides merged
    over the spec's (part options per kind), training arguments and block size replaced, the start chosen.
    Resolving a resolved spec changes nothing.

        >>> from geolm import api
        >>> spec = api.resolve(api.RunSpec(preset="mgm-tiny", recipe_options={"hidden_dim": 32, "stage_steps": (2,)}))
        >>> spec.overrides["hidden_size"], spec.args.steps, type(spec.recipe_options).__name__
        (32, 10, 'SeedOptions')
    """
    from dataclasses import replace

    from geolm.config import merge_overrides
    from geolm.systems import register_training
    from geolm.training.recipes import recipe_options

    register_training()  # recipes declare their options in their systems' training modules
    options = recipe_options(spec.recipe_name, spec.recipe_options)
    base = base_fields(spec.preset, spec.config)
    settings = options.settings({**base, **merge_overrides(base, dict(spec.overrides))})
    train = dict(settings.train)
    block_size = train.pop("block_size", spec.block_size)
    unknown = sorted(set(train) - {f.name for f in fields(TrainArgs)})
    if unknown:
        raise ConfigError(f"recipe {spec.recipe_name!r} sets unknown training setting(s) {unknown}")
    resume, start_phase = spec.resume, spec.start_phase
    if settings.start is not None:
        resume, start_phase = recipe_start(settings.start, spec.run_dir, resume, start_phase)
    return replace(
        spec,
        overrides={**spec.overrides, **merge_overrides(dict(spec.overrides), settings.config)},
        args=replace(spec.args, **train),
        block_size=block_size,
        recipe_options=options,
        resume=resume,
        start_phase=start_phase,
    )


def recipe_start(
    start: RecipeStart, out: Path, resume: str | None, start_phase: str | int | None
) -> tuple[str, str | int]:
    """The checkpoint (inside OUT) and phase at which a recipe option, such as --skip-setup, starts the run."""
    checkpoint = out / start.checkpoint
    if (resume, start_phase) == (str(checkpoint), start.phase):
        return resume, start_phase  # resolved already
    if resume is not None or start_phase is not None:
        raise ConfigError(
            f"{start.option} chooses the checkpoint and phase to start at; drop --resume and --start-phase"
        )
    if not (checkpoint / "config.json").is_file():
        raise CheckpointError(
            f"{start.option} starts from {checkpoint}, which is not a checkpoint (run the setup first)"
        )
    return str(checkpoint), start.phase


def check_spec(spec: RunSpec) -> RunSpec:
    """What can be refused before any tokenizer, data or model work: the recipe's options, the run directory, a
    resumed run's overrides (it keeps its checkpoint's model), a recipe's data options next to a curriculum
    that replaces them. Returns the resolved spec (`resolve`)."""
    spec = resolve(spec)
    out = spec.run_dir
    check_out_dir(out)
    if spec.resume is not None:
        check_kept_model(spec.resume, out, spec.overrides)
    elif out.is_dir():
        from geolm.training.trainer import refuse_to_overwrite

        refuse_to_overwrite(out)
    replaced = spec.recipe_options.given("recipe")
    if spec.curriculum is not None and replaced:
        raise ConfigError(
            f"--curriculum replaces the curriculum and data of recipe {spec.recipe_name!r}, which its options set "
            f"({', '.join(replaced)}); drop one or the other"
        )
    return spec


def check_out_dir(out: Path) -> None:
    """The run directory must be a directory or not exist yet."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a run directory")


def prepare(spec: RunSpec) -> PreparedRun:
    """Tokenizer, model, data and curriculum of a run; on resume the tokenizer and config come from the
    checkpoint. The config is built and checked first, so a bad value fails before a tokenizer trains.

        >>> from geolm import api
        >>> run = api.prepare(api.RunSpec(preset="llama-tiny", data=("notes.txt",), out="runs/prepared",
        ...                               block_size=32))
        >>> run.model.config.vocab_size == len(run.tokenizer), list(run.sources)
        (True, ['train'])
    """
    spec = check_spec(spec)
    model, tokenizer = new_model(spec)
    train_blocks, validation = token_blocks(spec, tokenizer)
    curriculum, sources = curriculum_and_sources(spec, tokenizer, train_blocks)
    return PreparedRun(spec, model, tokenizer, sources, validation, curriculum)


def train(spec: RunSpec) -> TrainResult:
    """Prepare and train a run; checkpoints go to RUN_DIR/last and RUN_DIR/best, metrics to
    RUN_DIR/metrics.jsonl. Returns the trainer's `TrainResult` (steps, best validation loss, checkpoints)."""
    return train_prepared(prepare(spec))


def train_prepared(run: PreparedRun) -> TrainResult:
    """Train a run `prepare` built (whose parts a caller may have looked at or changed)."""
    from geolm.training import train as run_training

    spec = run.spec
    return run_training(
        run.model,
        run.sources,
        run.validation,
        spec.args,
        spec.run_dir,
        tokenizer=run.tokenizer,
        curriculum=run.curriculum,
        resume=spec.resume,
        start_phase=spec.start_phase,
    )


def load(
    path: str | Path, device: str | None = None, dtype: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model (eval mode) and tokenizer of a checkpoint or run directory (its best checkpoint, else its
    last); safetensors weights only. `device` defaults to CUDA when present, `dtype` to the device's."""
    from geolm.inference.loading import load_for_inference

    return load_for_inference(path, device, dtype)


def generate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompt: str, **sampling: Any) -> Generation:
    """Continue `prompt` with the KV cache; `sampling` are `SamplingOptions` fields (max_new_tokens,
    temperature, top_k, top_p, repetition_penalty, stop, greedy, seed). A prompt that leaves no room in the
    context is an `InputError`."""
    from geolm.inference.generation import encode_prompt, generate_text
    from geolm.sampling import SamplingOptions

    return generate_text(model, tokenizer, encode_prompt(tokenizer, prompt), SamplingOptions(**sampling))


def evaluate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    tasks: list[str],
    out: str | Path,
    *,
    limit: int | None = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Score `model` on lm-evaluation-harness tasks (the WordNet tasks geolm writes, or any lm-eval knows
    offline); writes OUT/results.json and OUT/results.md and returns the results with a markdown `table`."""
    from geolm.experiments.harness import evaluate as harness_evaluate

    return harness_evaluate(model, tokenizer, tasks, Path(out), limit=limit, batch_size=batch_size)


def new_model(spec: RunSpec) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The run's model (initialised from the seed) and tokenizer: the checkpoint's when resuming, else the
    given or a newly trained tokenizer and the spec's config sized to it."""
    import torch
    from transformers import AutoTokenizer

    from geolm.config import GeoConfig
    from geolm.data.shards import TOKENIZER_DIR
    from geolm.modeling import GeoForCausalLM
    from geolm.training.checkpoint import resume_checkpoint

    checkpoint = resume_checkpoint(spec.resume, spec.run_dir) if spec.resume else None
    shards = shards_of(spec)
    if checkpoint is None and spec.init_from is not None:
        model, tokenizer = initial_model(spec)
        check_block_size(spec.block_size, model.config)
        check_shards_tokenizer(shards, tokenizer, "the --init-from checkpoint's")
        return model, tokenizer
    if checkpoint is not None:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        config = GeoConfig.from_pretrained(checkpoint)
    else:
        base = model_config(spec)
        check_block_size(spec.block_size, base)
        if spec.tokenizer is not None:
            if not (spec.tokenizer / "tokenizer.json").exists():
                raise CheckpointError(f"no tokenizer.json in tokenizer directory {spec.tokenizer}")
            tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer)
        elif shards:
            tokenizer = AutoTokenizer.from_pretrained(shards[0] / TOKENIZER_DIR)
        else:
            tokenizer = new_tokenizer(spec.data, spec.seed, spec.vocab_size or base.vocab_size)
        special = {key: getattr(tokenizer, key) for key in ("pad_token_id", "bos_token_id", "eos_token_id")}
        config = model_config(spec, vocab_size=len(tokenizer), **special)
    check_block_size(spec.block_size, config)
    check_shards_tokenizer(shards, tokenizer, "the checkpoint's" if checkpoint else "the run's")
    torch.manual_seed(spec.seed)
    return GeoForCausalLM(config), tokenizer


def check_shards_tokenizer(shards: list[Path], tokenizer: PreTrainedTokenizerBase, whose: str) -> None:
    """Every shards directory must hold the ids of `tokenizer`."""
    from geolm.data.cache import tokenizer_fingerprint
    from geolm.data.shards import check_tokenizer

    for directory in shards:
        check_tokenizer(directory, tokenizer_fingerprint(tokenizer), whose)


def initial_model(spec: RunSpec) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model (float32, to train) and tokenizer of the `init_from` checkpoint. A tokenizer without a
    padding token pads with its end-of-text token (padding never carries loss)."""
    import torch
    from transformers import AutoTokenizer

    from geolm.inference.loading import checked_checkpoint
    from geolm.modeling import GeoForCausalLM

    given = [name for name in ("config", "tokenizer", "vocab_size") if getattr(spec, name) is not None]
    if spec.overrides or given:
        named = ", ".join([*(f"--{n.replace('_', '-')}" for n in given), *(["overrides"] if spec.overrides else [])])
        raise ConfigError(f"--init-from {spec.init_from} brings its own config and tokenizer; drop {named}")
    checkpoint = checked_checkpoint(spec.init_from)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
        console.print(f"{checkpoint}: the tokenizer has no padding token; padding with {tokenizer.eos_token!r}")
    model = GeoForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def token_blocks(spec: RunSpec, tokenizer: PreTrainedTokenizerBase) -> tuple[Blocks, Blocks | None]:
    """Training and validation blocks of the spec's data, read by memory map from shards: the spec's shards
    directories (several are mixed by `weights`, else concatenated), or its files (or the embedded corpus)
    tokenized once into the data cache (`run_shards`)."""
    from geolm.data.block_mixture import BlockMixture
    from geolm.data.mixing import normalized_weights
    from geolm.data.shards import ShardBlocks, read_index

    directories = shards_of(spec)
    if directories and spec.weights is not None:
        normalized_weights(list(spec.weights), len(directories))  # one weight per directory
    directories = directories or [run_shards(spec, tokenizer)]  # files are mixed by weights as tokenized
    pad, size, several = tokenizer.pad_token_id, spec.block_size, len(directories) > 1
    cut = None if several else spec.max_train_tokens  # several: the mixture is cut at whole blocks
    parts = [ShardBlocks(d, "train", size, pad, max_tokens=cut) for d in directories]
    for directory, part in zip(directories, parts, strict=True):
        if part.tokens < size:  # documents are packed end to end, so only the whole split can be short
            raise DataError(
                f"{directory}: the training split holds {part.tokens} tokens, fewer than one block of {size}; "
                "pass a smaller --block-size or more data"
            )
    held_out = [ShardBlocks(d, "validation", size, pad) for d in directories if read_index(d)["splits"]["validation"]]
    if not several:
        train, validation = parts[0], held_out[0] if held_out else None
    else:
        limit = -(-spec.max_train_tokens // size) if spec.max_train_tokens else None
        if spec.weights is not None:
            train = BlockMixture.weighted(parts, spec.weights, spec.seed, limit)
        else:
            train = BlockMixture.concatenated(parts, limit)
        validation = BlockMixture.concatenated(held_out) if held_out else None
    where = ", ".join(str(d) for d in directories)
    console.print(
        f"data: {len(train):,} training blocks, {len(validation) if validation else 0:,} validation blocks of "
        f"{size} tokens, memory-mapped from {where}",
        soft_wrap=True,
    )
    return train, validation


def run_shards(spec: RunSpec, tokenizer: PreTrainedTokenizerBase) -> Path:
    """The spec's files, or the embedded corpus, tokenized once into shards in the data cache, in the order
    `prepare_lm_data` gives them (each source's records shuffled by the seed, a seeded 5% held out), cut at
    `max_train_tokens`. A second run, or a resume, with the same data and tokenizer reads them at once."""
    import os

    from geolm.data.cache import cached_shards, tokenizer_fingerprint
    from geolm.data.mixing import normalized_weights
    from geolm.data.prepare import check_arguments
    from geolm.data.shards import TOKENIZER_DIR
    from geolm.data.tokenize import embedded_records, input_signature, mixed_records, tokenize_corpus

    check_arguments(spec.block_size, VALIDATION_FRACTION, spec.max_train_tokens)
    sources = list(spec.data) or None
    settings = {"inputs": input_signature(sources), "seed": spec.seed, "validation_fraction": VALIDATION_FRACTION}
    if sources is None:
        if spec.weights is not None:
            raise DataError("--weights mix several --data sources; the embedded corpus takes none")
        records, names = embedded_records(spec.seed), ["embedded corpus"]
    else:
        weights = list(spec.weights) if spec.weights is not None else None
        normalized_weights(weights, len(sources))  # refused now, not in a worker
        settings["weights"] = weights
        records = mixed_records(sources, weights, spec.seed, VALIDATION_FRACTION)
        names = [str(source) for source in sources]
    limits = {"train": spec.max_train_tokens} if spec.max_train_tokens else None
    small = spec.max_train_tokens is not None and spec.max_train_tokens <= PARALLEL_TOKENS
    workers = 1 if small else min(4, len(os.sched_getaffinity(0)))

    def build(out: Path) -> None:
        tokenizer.save_pretrained(out / TOKENIZER_DIR)  # where worker processes load it
        tokenize_corpus(
            records,
            tokenizer,
            out / TOKENIZER_DIR,
            out,
            settings=settings,
            sources=names,
            workers=workers,
            limits=limits,
        )

    key = {**settings, "tokenizer": tokenizer_fingerprint(tokenizer), "max_train_tokens": spec.max_train_tokens}
    return cached_shards(build, lambda line: console.print(line, soft_wrap=True), **key)


def shards_of(spec: RunSpec) -> list[Path]:
    """The spec's shards directories (`geolm data tokenize` wrote them) when its data are such; none for
    files of documents or the embedded corpus."""
    from geolm.data.shards import is_shards_directory

    shards = [path for path in spec.data if is_shards_directory(path)]
    if not shards:
        return []
    others = [path for path in spec.data if path not in shards]
    if others:
        raise ConfigError(f"--data {others[0]} is not a shards directory; give shards directories alone or files alone")
    if spec.vocab_size is not None:
        raise ConfigError(f"--vocab-size trains a new tokenizer, but the shards in {shards[0]} carry theirs")
    return shards


def curriculum_and_sources(
    spec: RunSpec, tokenizer: PreTrainedTokenizerBase, train_blocks: Blocks
) -> tuple[Curriculum, dict[str, Blocks]]:
    """The run's curriculum and named training sources: the spec's curriculum on the run's data if given,
    else what its recipe builds with its options."""
    from geolm.systems import register_training
    from geolm.training import Curriculum
    from geolm.training.recipes import RECIPES, TRAIN_SOURCE, RecipeInputs, recipe_options

    if isinstance(spec.curriculum, Path):
        return Curriculum.from_file(spec.curriculum), {TRAIN_SOURCE: train_blocks}
    if spec.curriculum is not None:
        return spec.curriculum, {TRAIN_SOURCE: train_blocks}
    register_training()
    build = RECIPES.get(spec.recipe_name)
    options = recipe_options(spec.recipe_name, spec.recipe_options)
    inputs = RecipeInputs(tokenizer, train_blocks, spec.block_size, spec.seed, options)
    with console.status(f"preparing the data of recipe {spec.recipe_name!r}"):
        return build(inputs)


def new_tokenizer(data: tuple[Path, ...], seed: int, vocab_size: int) -> PreTrainedTokenizerBase:
    """A byte-level BPE trained on the user's data, or on the embedded corpus (built once, then cached)."""
    from geolm.data.cache import cached_tokenizer
    from geolm.data.corpus import corpus_texts
    from geolm.data.prepare import source_texts
    from geolm.data.tokenizer import train_tokenizer
    from geolm.progress import counted

    def build():
        texts = source_texts(list(data)) if data else list(corpus_texts("train", seed=seed))
        total = None if data else min(len(texts), TOKENIZER_DOCUMENTS)
        console.print(f"tokenizer: training a byte-level BPE of {vocab_size:,} entries", soft_wrap=True)
        read = counted(itertools.islice(texts, TOKENIZER_DOCUMENTS), "training the tokenizer", total)
        return train_tokenizer(read, vocab_size)

    if data:
        return build()
    settings = {"vocab_size": vocab_size, "seed": seed, "documents": TOKENIZER_DOCUMENTS}
    return cached_tokenizer(build, console.print, **settings)


def model_config(spec: RunSpec, **extra: Any):
    """The run's model config: the config file's or the preset's, with the spec's overrides and `extra` on
    top (part options merged per kind into the base's)."""
    from geolm.config import GeoConfig, merge_overrides

    overrides = {**merge_overrides(base_fields(spec.preset, spec.config), dict(spec.overrides)), **extra}
    if spec.config is not None:
        return GeoConfig.from_file(spec.config, **overrides)
    return GeoConfig.from_preset(spec.preset, **overrides)


def base_fields(preset: str, config_file: Path | None) -> dict[str, Any]:
    """The model config fields overrides apply to: the preset's, or a config file's over its preset's, as
    `GeoConfig.from_file` builds them."""
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


def check_block_size(block_size: int, config) -> None:
    """Positions past the model's table have no embedding; refuse the run before it tokenizes anything."""
    if block_size > config.max_position_embeddings:
        raise ConfigError(
            f"block_size {block_size} exceeds the model's max_position_embeddings {config.max_position_embeddings}"
        )


def check_kept_model(resume: str, out: Path, overrides: Mapping[str, Any]) -> None:
    """A resumed run keeps its checkpoint's model, so an override asking for another shape is refused rather
    than silently ignored (one repeating the checkpoint's value is fine)."""
    from geolm.config import GeoConfig
    from geolm.training.checkpoint import resume_checkpoint

    checkpoint = resume_checkpoint(resume, out)
    if checkpoint is None or not overrides:
        return
    config = GeoConfig.from_pretrained(checkpoint)
    options = config.resolved_options()
    wanted = {key: value for key, value in overrides.items() if key != "part_options"}
    have = {key: getattr(config, key) for key in wanted}
    for kind, settings in (overrides.get("part_options") or {}).items():
        for name, value in settings.items():
            wanted[f"{kind}.{name}"] = value
            have[f"{kind}.{name}"] = getattr(options[kind], name, None) if kind in options else None
    for key, value in wanted.items():
        if value is not None and _plain(value) != _plain(have[key]):
            raise ConfigError(
                f"{checkpoint} has {key} {_plain(have[key])}, the run asks for {_plain(value)}; a resumed run "
                "keeps its checkpoint's model"
            )


def _plain(value: Any) -> Any:
    """Lists and tuples alike (a config read back from JSON has lists where options have tuples)."""
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else value
