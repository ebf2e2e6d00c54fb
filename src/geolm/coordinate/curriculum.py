"""The three-phase curriculum of the coordinate-modulated Llama, as data for the shared trainer.

1. primitive differentiation (the first 20% of steps): minimal pairs; LM + `coordinate_contrastive`;
2. compositional blending (20-60%): multi-fact items (reasoning, glossary entries) and a share of the run's
   own training data; LM + `coordinate_interference`;
3. conversational dynamics (60-100%): multi-turn dialogues and a share of the run's data;
   LM + `coordinate_temporal`.

Coordinate parameters (everything under `.modulation.`: predictor, directions, factor banks) form the group
"coordinates", whose learning rate is 1e-3 when the base rate is 3e-4 (a multiplier, so it follows the
schedule). AdamW betas (0.9, 0.95), weight decay 0.1 and clipping at 1.0 are the trainer's defaults.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable, Iterator

import torch
from transformers import PreTrainedTokenizerFast

from geolm.coordinate.losses import CONTRASTIVE, INTERFERENCE, TEMPORAL
from geolm.data import TokenBlocks, dialogues, minimal_pairs, reasoning_items
from geolm.data.corpus import glossary
from geolm.data.packing import encode_documents
from geolm.errors import ConfigError, DataError
from geolm.training import Curriculum, Phase
from geolm.training.recipes import RECIPES, TRAIN_SOURCE, RecipeInputs

BASE_LR, COORDINATE_LR = 3e-4, 1e-3
COORDINATE_GROUP = "coordinates"
COORDINATE_PATTERNS = ["*.modulation.*"]
PHASES = ("primitive_differentiation", "compositional_blending", "conversational_dynamics")
CORPUS_SOURCE = TRAIN_SOURCE  # the name `train()` gives a single TokenBlocks, and recipes the run's data
IGNORE = -100
ENCODE_BATCH = 1024
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])")


def coordinate_curriculum(
    boundaries: tuple[float, float] = (0.2, 0.6),
    *,
    contrastive: float = 0.5,
    interference: float = 0.1,
    temporal: float = 0.1,
    corpus_share: float = 0.3,
    coordinate_lr_mult: float = COORDINATE_LR / BASE_LR,
) -> Curriculum:
    """Three phases ending at `boundaries` (fractions of the steps) and at 1, each keeping the LM loss.

    Phases 2 and 3 draw `corpus_share` of their blocks from the source named "train" (the run's own data);
    with `corpus_share=0` the curriculum needs only the sources of `coordinate_sources`.
    """
    first, second = boundaries
    if not 0.0 < first < second < 1.0:
        raise ConfigError(f"curriculum boundaries must satisfy 0 < first < second < 1, got {boundaries}")
    if not 0.0 <= corpus_share < 1.0:
        raise ConfigError(f"corpus_share must be in [0, 1), got {corpus_share}")
    for name, weight in (
        ("contrastive", contrastive),
        ("interference", interference),
        ("temporal", temporal),
    ):
        if weight < 0:
            raise ConfigError(f"loss weight {name!r} must be non-negative, got {weight}")

    def mixture(source: str) -> dict[str, float]:
        return {source: 1.0 - corpus_share, CORPUS_SOURCE: corpus_share} if corpus_share else {source: 1.0}

    phases = [
        Phase(PHASES[0], first, {"lm": 1.0, CONTRASTIVE: contrastive}, {"pairs": 1.0}),
        Phase(PHASES[1], second - first, {"lm": 1.0, INTERFERENCE: interference}, mixture("blend")),
        Phase(PHASES[2], 1.0 - second, {"lm": 1.0, TEMPORAL: temporal}, mixture("dialogue")),
    ]
    for phase in phases:
        phase.lr_mult = {COORDINATE_GROUP: coordinate_lr_mult}
    return Curriculum(phases, {COORDINATE_GROUP: list(COORDINATE_PATTERNS)})


@RECIPES.register("coordinate")
def coordinate_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """The three-phase curriculum on the run's data plus the pair, blend and dialogue sources."""
    sources = coordinate_sources(inputs.tokenizer, inputs.block_size, inputs.seed)
    return coordinate_curriculum(), {CORPUS_SOURCE: inputs.train, **sources}


def coordinate_sources(
    tokenizer: PreTrainedTokenizerFast, block_size: int, seed: int = 0, *, max_documents: int | None = 20_000
) -> dict[str, TokenBlocks]:
    """The "pairs", "blend" and "dialogue" sources from the embedded corpus's train split.

    Blocks hold whole documents (only one longer than a block is cut, see `pack_whole`). Pairs are
    `<s> a \\n b </s>`, blend items `<s> part \\n part ... </s>` (a reasoning item's question, steps and
    answer, or a glossary entry's sentences), with no loss on the joining newline so each part is one segment;
    dialogues use the chat layout. Each source is shuffled by `seed` and cut to `max_documents` documents.
    """
    pairs = [[a, b] for a, b, _ in minimal_pairs("train", seed)]
    items = [*reasoning_items("train", seed), *glossary("train")]
    blend = [parts for parts in map(_parts, _sample(items, seed, max_documents)) if len(parts) > 1]
    documents = {
        "pairs": encode_parts(tokenizer, _sample(pairs, seed, max_documents)),
        "blend": encode_parts(tokenizer, blend),
        "dialogue": encode_documents(tokenizer, _sample(list(dialogues("train", seed)), seed, max_documents)),
    }
    return {name: pack_whole(docs, block_size, tokenizer.pad_token_id) for name, docs in documents.items()}


def _parts(item: dict | str) -> list[str]:
    """A reasoning item's question, steps and answer, or a glossary entry's sentences."""
    if isinstance(item, str):
        return SENTENCE_END.split(item)
    return [f"Question: {item['question']}", *item["steps"], f"Answer: {item['answer']}"]


def _sample(documents: list, seed: int, limit: int | None) -> list:
    random.Random(seed).shuffle(documents)
    return documents[:limit]


def encode_parts(
    tokenizer: PreTrainedTokenizerFast, documents: Iterable[list[str]]
) -> Iterator[tuple[list[int], list[int]]]:
    """(input_ids, labels) of `<s> part1 \\n part2 ... </s>`: loss on every part and on `</s>`, none on the
    joining newlines, so the parts are separate segments. Parts are encoded alone, which for byte-level BPE
    gives the tokens of the joined text."""
    core = tokenizer.backend_tokenizer
    newline = core.encode("\n", add_special_tokens=False).ids
    iterator = iter(documents)
    while batch := list(itertools.islice(iterator, ENCODE_BATCH)):
        encoded = iter(core.encode_batch_fast([p for doc in batch for p in doc], add_special_tokens=False))
        for doc in batch:
            ids, labels = [tokenizer.bos_token_id], [IGNORE]
            for index in range(len(doc)):
                if index:
                    ids += newline
                    labels += [IGNORE] * len(newline)
                piece = next(encoded).ids
                ids += piece
                labels += piece
            ids.append(tokenizer.eos_token_id)
            labels.append(tokenizer.eos_token_id)
            yield ids, labels


def pack_whole(encoded: Iterable[tuple[list[int], list[int]]], block_size: int, pad_id: int) -> TokenBlocks:
    """Blocks that never cut a document that fits in one, each padded at its end.

    A document longer than a block starts a new block and is cut into block-sized pieces; the next document
    starts after its last piece.
    """
    rows: list[tuple[list[int], list[int]]] = []
    ids: list[int] = []
    labels: list[int] = []
    for doc_ids, doc_labels in encoded:
        if ids and len(ids) + len(doc_ids) > block_size:
            rows.append((ids, labels))
            ids, labels = [], []
        ids, labels = ids + doc_ids, labels + doc_labels
        while len(ids) > block_size:
            rows.append((ids[:block_size], labels[:block_size]))
            ids, labels = ids[block_size:], labels[block_size:]
    if ids:
        rows.append((ids, labels))
    if not rows:
        raise DataError("a coordinate source has no documents")
    return TokenBlocks(
        torch.tensor([i + [pad_id] * (block_size - len(i)) for i, _ in rows], dtype=torch.long),
        torch.tensor([lab + [IGNORE] * (block_size - len(lab)) for _, lab in rows], dtype=torch.long),
    )
