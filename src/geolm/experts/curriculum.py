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

The recipe's options are the seed's command-line flags (`SeedOptions`), so `geolm train
--preset mgm-tiny --hidden-dim 128 --experts-num 16 ...` runs as the seed's own script did.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from geolm.data import TokenBlocks, dialogues, encode_documents, load_source, pack, reasoning_items
from geolm.data.chat import Document
from geolm.data.formats import row_to_document, source_files
from geolm.errors import ConfigError, DataError
from geolm.experts.options import GEOMETRIES, GeometricMoEOptions
from geolm.nn.options import boolean, positive, positive_int
from geolm.training import Curriculum, Phase
from geolm.training.recipes import (
    RECIPES,
    TRAIN_SOURCE,
    OptionTextError,
    RecipeInputs,
    RecipeOptions,
    RecipeSettings,
    RecipeStart,
    declare_options,
    maybe,
    recipe_option,
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
    seed's flags chose them (`SeedOptions`)."""
    options = inputs.options_as(SeedOptions)
    if options.flash_attention_off:
        torch.backends.cuda.enable_flash_sdp(False)  # process-wide; CPU attention has no flash kernel
    sources = mgm_sources(
        inputs.tokenizer,
        inputs.block_size,
        inputs.seed,
        options.subsets,
        files=options.files,
        max_documents=options.sample_size or MAX_DOCUMENTS,
    )
    curriculum = mgm_curriculum(options.subsets, options.stage_lengths)
    return curriculum, {TRAIN_SOURCE: inputs.train, **sources}


def spread_experts(total: int, geometries: Sequence[str]) -> tuple[tuple[str, ...], list[int]]:
    """`total` experts over `geometries` as evenly as can be, the earlier geometries taking the remainder (16
    over 7: [3, 3, 2, 2, 2, 2, 2]); fewer experts than geometries keeps the first `total`, one each."""
    if total < len(geometries):
        return tuple(geometries[:total]), [1] * total
    share, extra = divmod(total, len(geometries))
    return tuple(geometries), [share + (index < extra) for index in range(len(geometries))]


def _dataset(text: str) -> str:
    """A dataset flag's value: "off", or a file or directory of documents (checked now, read when building)."""
    if text != OFF:
        try:
            source_files(text)
        except DataError as err:
            raise OptionTextError(str(err)) from None
    return text


def _stage_steps(text: str) -> tuple[int, ...]:
    """One number of steps for every stage, or one per stage, comma-separated."""
    return tuple(int(part) for part in text.split(","))


def _whole_stages(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) in (1, len(STAGES)) and all(map(positive_int, value))


def _at_least_two(value: Any) -> bool:
    return positive_int(value) and value >= 2


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _count(value: Any) -> bool:
    return positive_int(value) or (value == 0 and not isinstance(value, bool))


def _dataset_help(subset: str) -> str:
    return (
        f"the {subset} subset's documents from a file or directory, or 'off' to leave it out (default: the "
        "embedded corpus's)"
    )


POSITIVE = "a positive integer"


@declare_options("mgm")
@dataclass(frozen=True)
class SeedOptions(RecipeOptions):
    """The seed's flags as options of recipe "mgm", given after geolm train's own; one not given (None or
    False) leaves the preset's or geolm train's value. Where one sets what a geolm train flag sets (--learning-rate
    and --lr), the recipe's wins.

    From Python: `api.RunSpec(preset="mgm-tiny", recipe_options=SeedOptions(hidden_dim=128, stage_steps=(20,)))`.
    """

    hidden_dim: int | None = recipe_option(
        None,
        maybe(positive_int),
        POSITIVE,
        "model width (hidden_size); heads are then hidden // heads wide",
        sets="model",
        parse=int,
        metavar="N",
    )
    experts_num: int | None = recipe_option(
        None,
        maybe(positive_int),
        POSITIVE,
        "experts in all, spread over the preset's geometries (earlier ones take the remainder; fewer than the "
        "geometries keeps the first N, one each)",
        sets="model",
        parse=int,
        metavar="N",
    )
    k_experts: int | None = recipe_option(
        None, maybe(positive_int), POSITIVE, "experts per token (top_k)", sets="model", parse=int, metavar="K"
    )
    num_heads: int | None = recipe_option(
        None,
        maybe(positive_int),
        POSITIVE,
        "attention heads, as many key/value heads",
        sets="model",
        parse=int,
        metavar="H",
    )
    nuanced_routing: bool = recipe_option(
        False, boolean, "true or false", "the curvature-aware gate (part_options.ffn.nuanced_routing)", sets="model"
    )
    learning_rate: float | None = recipe_option(
        None,
        maybe(positive),
        "a positive number",
        "peak learning rate (as --lr)",
        sets="training",
        parse=float,
        metavar="LR",
    )
    seq_len: int | None = recipe_option(
        None,
        maybe(_at_least_two),
        "an integer of at least 2 (a block holds its next-token targets)",
        "tokens per training block (as --block-size)",
        sets="training",
        parse=int,
        metavar="L",
    )
    validation_steps: int | None = recipe_option(
        None,
        maybe(_count),
        "0 or a positive integer",
        "evaluate every K steps, 0: only at the end (as --eval-every)",
        sets="training",
        parse=int,
        metavar="K",
    )
    amp_off: bool = recipe_option(
        False,
        boolean,
        "true or false",
        "train in full precision (AMP is opt-in via --mixed-precision; this forces it off)",
        sets="training",
    )
    stage_steps: tuple[int, ...] | None = recipe_option(
        None,
        maybe(_whole_stages),
        f"one positive number of steps or {len(STAGES)}, comma-separated",
        f"steps of each stage: one number for all {len(STAGES)}, or one per stage, comma-separated; the run's steps "
        "are their sum",
        parse=_stage_steps,
        metavar="N|A,B,C,D,E",
    )
    dataset_cot: str | None = recipe_option(
        None, maybe(_text), "'off' or a file or directory", _dataset_help("cot"), parse=_dataset, metavar="PATH"
    )
    dataset_reasoning: str | None = recipe_option(
        None,
        maybe(_text),
        "'off' or a file or directory",
        _dataset_help("reasoning"),
        parse=_dataset,
        metavar="PATH",
    )
    dataset_conversational: str | None = recipe_option(
        None,
        maybe(_text),
        "'off' or a file or directory",
        _dataset_help("conversational"),
        parse=_dataset,
        metavar="PATH",
    )
    sample_size: int | None = recipe_option(
        None,
        maybe(positive_int),
        POSITIVE,
        f"at most N documents per subset (default {MAX_DOCUMENTS:,})",
        parse=int,
        metavar="N",
    )
    flash_attention_off: bool = recipe_option(
        False, boolean, "true or false", "disable the flash kernel of scaled-dot-product attention (CUDA only)"
    )
    skip_setup: bool = recipe_option(
        False,
        boolean,
        "true or false",
        f"start at stage 1 from OUT/phase-0-{STAGES[0]} of an earlier run",
        sets="start",
    )

    def check_together(self, where: str) -> None:
        if not self.subsets:
            raise ConfigError(
                f"{where}: --dataset-cot, --dataset-reasoning and --dataset-conversational are all off; keep one"
            )

    @property
    def subsets(self) -> tuple[str, ...]:
        """The subsets the mixtures use: those whose dataset option is not "off"."""
        return tuple(name for name in SUBSETS if getattr(self, f"dataset_{name}") != OFF)

    @property
    def files(self) -> dict[str, str]:
        """The user's file or directory of each subset that has one."""
        chosen = {name: getattr(self, f"dataset_{name}") for name in SUBSETS}
        return {name: path for name, path in chosen.items() if path not in (None, OFF)}

    @property
    def stage_lengths(self) -> tuple[float, ...]:
        """The stages' shares of the steps."""
        if self.stage_steps is None:
            return LENGTHS
        steps = self.stage_steps * len(STAGES) if len(self.stage_steps) == 1 else self.stage_steps
        return tuple(count / sum(steps) for count in steps)

    def settings(self, base: Mapping[str, Any]) -> RecipeSettings:
        """The model config overrides, training settings and start the seed's flags set over `base`."""
        start = RecipeStart(1, f"phase-0-{STAGES[0]}", "--skip-setup") if self.skip_setup else None
        return RecipeSettings(config=self._model(base), train=self._training(), start=start)

    def _model(self, base: Mapping[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        ffn: dict[str, Any] = {}
        if self.hidden_dim is not None:
            config.update(hidden_size=self.hidden_dim, head_dim=None)
        if self.num_heads is not None:
            config.update(num_attention_heads=self.num_heads, num_key_value_heads=self.num_heads, head_dim=None)
        if "head_dim" in config:
            _check_head_width(
                config.get("hidden_size", base.get("hidden_size")),
                config.get("num_attention_heads", base.get("num_attention_heads")),
            )
        base_ffn = dict((base.get("part_options") or {}).get("ffn") or {})
        if self.experts_num is not None:
            known = tuple(base_ffn.get("geometries") or GEOMETRIES)
            geometries, counts = spread_experts(self.experts_num, known)
            ffn["experts_per_geometry"] = counts
            if geometries != known:
                ffn["geometries"] = list(geometries)
        if self.k_experts is not None:
            _check_top_k(self.k_experts, {**base_ffn, **ffn}, "--experts-num" if self.experts_num else "the preset")
            ffn["top_k"] = self.k_experts
        if self.nuanced_routing:
            ffn["nuanced_routing"] = True
        if ffn:
            config["part_options"] = {"ffn": ffn}
        return config

    def _training(self) -> dict[str, Any]:
        train: dict[str, Any] = {}
        if self.learning_rate is not None:
            train["lr"] = self.learning_rate
        if self.seq_len is not None:
            train["block_size"] = self.seq_len
        if self.validation_steps is not None:
            train["eval_every"] = self.validation_steps
        if self.amp_off:
            train["mixed_precision"] = "no"
        if self.stage_steps is not None:
            train["steps"] = sum(self.stage_steps) * (len(STAGES) if len(self.stage_steps) == 1 else 1)
        return train


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
