"""The seed's five-stage schedule of the mixture of geometric experts, as curriculum data (recipe "mgm").

1. curvature_calibration (10% of the steps): only the experts' curvatures train, on the run's data;
2. reasoning_warmup (10%): everything trains, on chain-of-thought and reasoning items;
3. branch_pretrain (30%): the experts (and the rest of the model) train with the router held;
4. gate_training (20%): only the router trains, the experts and curvatures held ("branches fixed");
5. joint_finetune (30%): everything trains on the whole mixture.

Every stage ends with a checkpoint (RUN_DIR/phase-<i>-<name>), so `geolm train --start-phase 1 --resume
RUN_DIR/phase-0-curvature_calibration` is the seed's `--skip-setup`. The data sources are the embedded
corpus's reasoning and dialogue generators, the seed's three subsets: "cot" (question, steps, answer),
"reasoning" (question and answer only) and "conversational" (dialogues, loss on the assistant's turns).

The recipe also takes the seed's command-line flags (`SEED_FLAGS`, read by `seed_flags`), so `geolm train
--preset mgm-tiny --hidden-dim 128 --experts-num 16 ...` runs as the seed's own script did.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from geolm.data import TokenBlocks, dialogues, encode_documents, load_source, pack, reasoning_items
from geolm.data.chat import Document
from geolm.data.formats import row_to_document, source_files
from geolm.errors import ConfigError, DataError
from geolm.experts.options import GEOMETRIES, GeometricMoEOptions
from geolm.training import Curriculum, Phase
from geolm.training.recipes import (
    RECIPES,
    TRAIN_SOURCE,
    RecipeFlag,
    RecipeFlags,
    RecipeInputs,
    RecipeStart,
    declare_flags,
    non_negative_int,
    positive_float,
    positive_int,
)

GROUPS = {"curvature": ["*.mlp.groups.*.raw_kappa"], "router": ["*.mlp.gate.*"], "experts": ["*.mlp.groups.*"]}
SUBSETS = ("cot", "reasoning", "conversational")
STAGES = ("curvature_calibration", "reasoning_warmup", "branch_pretrain", "gate_training", "joint_finetune")
LENGTHS = (0.1, 0.1, 0.3, 0.2, 0.3)
MAX_DOCUMENTS = 20_000
OFF = "off"


def mgm_curriculum(subsets: tuple[str, ...] = SUBSETS, lengths: Sequence[float] = LENGTHS) -> Curriculum:
    """The five stages; `subsets` are the seed's dataset flags (which of the three sources the mixtures use),
    `lengths` the stages' shares of the steps (`--stage-steps`)."""
    everything = {TRAIN_SOURCE: 0.5, **{name: 0.5 / len(subsets) for name in subsets}}
    reasoning = {name: 1.0 for name in subsets if name != "conversational"} or {TRAIN_SOURCE: 1.0}
    held = ["default", "router", "experts", "curvature"]
    mixtures = [{TRAIN_SOURCE: 1.0}, reasoning, everything, everything, everything]
    frozen = [[g for g in held if g != "curvature"], [], ["router"], [g for g in held if g != "router"], []]
    phases = [
        Phase(name, length, mixture=dict(mixture), freeze=freeze, checkpoint=True)
        for name, length, mixture, freeze in zip(STAGES, lengths, mixtures, frozen, strict=True)
    ]
    return Curriculum(phases, {name: list(patterns) for name, patterns in GROUPS.items()})


def subset_documents(
    name: str, seed: int, limit: int = MAX_DOCUMENTS, path: str | Path | None = None
) -> list[Document]:
    """At most `limit` documents of one subset: the first records of the user's file or directory `path`, else
    the corpus's train split."""
    if path is not None:
        return [row_to_document(row) for row in itertools.islice(load_source(path), limit)]
    if name == "conversational":
        return list(itertools.islice(dialogues("train", seed), limit))
    items = itertools.islice(reasoning_items("train", seed), limit)
    if name == "cot":
        return [item["text"] for item in items]
    return [f"Question: {item['question']}\nAnswer: {item['answer']}" for item in items]


def mgm_sources(
    tokenizer,
    block_size: int,
    seed: int,
    subsets: tuple[str, ...] = SUBSETS,
    *,
    files: Mapping[str, str | Path] | None = None,
    max_documents: int = MAX_DOCUMENTS,
) -> dict[str, TokenBlocks]:
    """Token blocks of each chosen subset, from the corpus's train split or the user's `files` by subset."""
    files = files or {}
    return {
        name: pack(
            encode_documents(tokenizer, subset_documents(name, seed, max_documents, files.get(name))),
            block_size,
            tokenizer.pad_token_id,
            description=name,
        )
        for name in subsets
    }


@RECIPES.register("mgm")
def mgm_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """The five-stage schedule on the run's data plus the cot, reasoning and conversational sources, as the
    seed's flags chose them (`seed_flags`)."""
    options = inputs.options
    if options.get("flash_attention") is False:
        torch.backends.cuda.enable_flash_sdp(False)  # process-wide; CPU attention has no flash kernel
    subsets = tuple(options.get("subsets", SUBSETS))
    sources = mgm_sources(
        inputs.tokenizer,
        inputs.block_size,
        inputs.seed,
        subsets,
        files=options.get("files"),
        max_documents=options.get("sample_size", MAX_DOCUMENTS),
    )
    return mgm_curriculum(subsets, options.get("stage_lengths", LENGTHS)), {TRAIN_SOURCE: inputs.train, **sources}


def spread_experts(total: int, geometries: Sequence[str]) -> tuple[tuple[str, ...], list[int]]:
    """`total` experts over `geometries` as evenly as can be, the earlier geometries taking the remainder (16
    over 7: [3, 3, 2, 2, 2, 2, 2]); fewer experts than geometries keeps the first `total`, one each."""
    if total < len(geometries):
        return tuple(geometries[:total]), [1] * total
    share, extra = divmod(total, len(geometries))
    return tuple(geometries), [share + (index < extra) for index in range(len(geometries))]


def _dataset(text: str) -> str:
    """A dataset flag's value: "off", or a file or directory of documents (checked now, read when building)."""
    if text == OFF:
        return OFF
    try:
        source_files(text)
    except DataError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _sequence_length(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (a block holds its next-token targets), got {text!r}")
    return value


def _stage_steps(text: str) -> tuple[int, ...]:
    """One number of steps for every stage, or one per stage, comma-separated."""
    steps = tuple(positive_int(part.strip()) for part in text.split(","))
    if len(steps) not in (1, len(STAGES)):
        raise argparse.ArgumentTypeError(f"takes one number or {len(STAGES)} (one per stage), got {len(steps)}")
    return steps * len(STAGES) if len(steps) == 1 else steps


SEED_FLAGS = (
    RecipeFlag("--hidden-dim", "model width (hidden_size); heads are then hidden // heads wide", positive_int, "N"),
    RecipeFlag(
        "--experts-num",
        "experts in all, spread over the preset's geometries (earlier ones take the remainder; fewer than the "
        "geometries keeps the first N, one each)",
        positive_int,
        "N",
    ),
    RecipeFlag("--k-experts", "experts per token (top_k)", positive_int, "K"),
    RecipeFlag("--num-heads", "attention heads, as many key/value heads", positive_int, "H"),
    RecipeFlag("--learning-rate", "peak learning rate (as --lr)", positive_float, "LR"),
    RecipeFlag("--seq-len", "tokens per training block (as --block-size)", _sequence_length, "L"),
    RecipeFlag(
        "--validation-steps", "evaluate every K steps, 0: only at the end (as --eval-every)", non_negative_int, "K"
    ),
    RecipeFlag("--amp-off", "train in full precision (AMP is opt-in via --mixed-precision; this forces it off)"),
    RecipeFlag("--flash-attention-off", "disable the flash kernel of scaled-dot-product attention (CUDA only)"),
    RecipeFlag("--nuanced-routing", "the curvature-aware gate (part_options.ffn.nuanced_routing)"),
    *(
        RecipeFlag(
            f"--dataset-{name}",
            f"the {name} subset's documents from a file or directory, or 'off' to leave it out (default: the "
            "embedded corpus's)",
            _dataset,
            "PATH",
        )
        for name in SUBSETS
    ),
    RecipeFlag("--sample-size", f"at most N documents per subset (default {MAX_DOCUMENTS:,})", positive_int, "N"),
    RecipeFlag(
        "--stage-steps",
        "steps of each stage: one number for all five, or five comma-separated; the run's steps are their sum",
        _stage_steps,
        "N|A,B,C,D,E",
    ),
    RecipeFlag("--skip-setup", f"start at stage 1 from OUT/phase-0-{STAGES[0]} of an earlier run"),
)


def seed_flags(values: argparse.Namespace, base: Mapping[str, Any]) -> RecipeFlags:
    """What the seed's flags set, over `base` (the run's preset or config file fields); flags not given set
    nothing."""
    config: dict[str, Any] = {}
    ffn: dict[str, Any] = {}
    if values.hidden_dim is not None:
        config.update(hidden_size=values.hidden_dim, head_dim=None)
    if values.num_heads is not None:
        config.update(num_attention_heads=values.num_heads, num_key_value_heads=values.num_heads, head_dim=None)
    if "head_dim" in config:
        _check_head_width(
            config.get("hidden_size", base.get("hidden_size")),
            config.get("num_attention_heads", base.get("num_attention_heads")),
        )
    base_ffn = dict((base.get("part_options") or {}).get("ffn") or {})
    if values.experts_num is not None:
        known = tuple(base_ffn.get("geometries") or GEOMETRIES)
        geometries, counts = spread_experts(values.experts_num, known)
        ffn["experts_per_geometry"] = counts
        if geometries != known:
            ffn["geometries"] = list(geometries)
    if values.k_experts is not None:
        _check_top_k(values.k_experts, {**base_ffn, **ffn}, "--experts-num" if values.experts_num else "the preset")
        ffn["top_k"] = values.k_experts
    if values.nuanced_routing:
        ffn["nuanced_routing"] = True
    if ffn:
        config["part_options"] = {"ffn": ffn}
    return RecipeFlags(
        config=config, train=_train_settings(values), recipe=_recipe_options(values), start=_start(values)
    )


def _check_top_k(top_k: int, ffn: dict[str, Any], source: str) -> None:
    """A token cannot go to more experts than there are; said with the flags' names, not the config's keys."""
    try:
        experts = GeometricMoEOptions.from_mapping({**ffn, "top_k": 1}).num_experts
    except ConfigError:
        return  # the config's own check names the bad option
    if top_k > experts:
        raise ConfigError(f"--k-experts {top_k} is more than the {experts} experts of {source}")


def _check_head_width(hidden: int | None, heads: int | None) -> None:
    """Heads are hidden // heads wide (as HF Llama floors them); rotary embeddings need an even width."""
    if hidden is None or heads is None:
        return
    width = hidden // heads
    if width < 2 or width % 2:
        raise ConfigError(
            f"--hidden-dim/--num-heads: {heads} heads over hidden size {hidden} are {width} wide; rotary "
            "embeddings need an even width of at least 2"
        )


def _train_settings(values: argparse.Namespace) -> dict[str, Any]:
    train: dict[str, Any] = {}
    if values.learning_rate is not None:
        train["lr"] = values.learning_rate
    if values.seq_len is not None:
        train["block_size"] = values.seq_len
    if values.validation_steps is not None:
        train["eval_every"] = values.validation_steps
    if values.amp_off:
        train["mixed_precision"] = "no"
    if values.stage_steps is not None:
        train["steps"] = sum(values.stage_steps)
    return train


def _recipe_options(values: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    chosen = {name: getattr(values, f"dataset_{name}") for name in SUBSETS}
    kept = tuple(name for name in SUBSETS if chosen[name] != OFF)
    if not kept:
        raise ConfigError("--dataset-cot, --dataset-reasoning and --dataset-conversational are all off; keep one")
    if kept != SUBSETS:
        options["subsets"] = kept
    files = {name: path for name, path in chosen.items() if path not in (None, OFF)}
    if files:
        options["files"] = files
    if values.sample_size is not None:
        options["sample_size"] = values.sample_size
    if values.stage_steps is not None:
        total = sum(values.stage_steps)
        options["stage_lengths"] = tuple(steps / total for steps in values.stage_steps)
    if values.flash_attention_off:
        options["flash_attention"] = False
    return options


def _start(values: argparse.Namespace) -> RecipeStart | None:
    return RecipeStart(1, f"phase-0-{STAGES[0]}", "--skip-setup") if values.skip_setup else None


declare_flags(
    "mgm",
    SEED_FLAGS,
    seed_flags,
    "The seed's flags, given after geolm train's own; a flag not given leaves the preset's or geolm train's "
    "value. Where one sets what a geolm train flag sets (--learning-rate and --lr), the recipe's flag wins.",
)
