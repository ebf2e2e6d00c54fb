"""`prepare_lm_data`: what the trainer calls to turn sources (or the embedded corpus) into train/validation blocks."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import datasets
from transformers import PreTrainedTokenizerFast

from geolm.data.blocks import TokenBlocks
from geolm.data.chat import Document
from geolm.data.corpus import corpus_documents, document_text
from geolm.data.formats import load_source, row_to_document
from geolm.data.mixing import mix, split_validation
from geolm.data.packing import encode_documents, pack
from geolm.errors import DataError

STREAM_SHUFFLE_BUFFER = 10_000


def check_arguments(block_size: int, validation_fraction: float, max_train_tokens: int | None) -> None:
    """Refuse a block, a validation share or a token limit that cannot work, naming it."""
    if block_size < 2:
        raise DataError(f"block_size must be at least 2, got {block_size}")
    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if max_train_tokens is not None and max_train_tokens < 1:
        raise DataError(f"max_train_tokens must be positive, got {max_train_tokens}")


def embedded_documents(seed: int) -> tuple[list[Document], list[Document]]:
    """All four kinds of the embedded corpus, train shuffled by `seed` (so any prefix is a fair sample)."""
    train = [d for docs in corpus_documents("train").values() for d in docs]
    random.Random(seed).shuffle(train)
    validation = [d for docs in corpus_documents("heldout").values() for d in docs]
    return train, validation


def file_documents(
    sources: list[str | Path], weights: list[float] | None, seed: int, fraction: float, streaming: bool
) -> tuple[Iterable[Document], list[Document]]:
    """Mixed train documents (lazy when streaming) and the validation documents of every source."""
    trains, validations = [], []
    for index, source in enumerate(sources):
        train, validation = split_validation(load_source(source, streaming=streaming), index, seed, fraction)
        trains.append(
            train.shuffle(seed=seed, buffer_size=STREAM_SHUFFLE_BUFFER) if streaming else train.shuffle(seed=seed)
        )
        validations.append(validation)
    mixed = mix(trains, weights, seed)
    validation_docs = [row_to_document(row) for row in datasets.concatenate_datasets(validations)]
    train_docs = (row_to_document(row) for row in mixed)
    if fraction > 0 and not validation_docs:
        # Tiny inputs can miss the fraction entirely; hold out the first record so validation is never empty.
        first = next(train_docs, None)
        if first is None:
            raise DataError(f"{', '.join(map(str, sources))}: need at least 2 records to hold out validation data")
        validation_docs = [first]
    return train_docs, validation_docs


def source_texts(sources: list[str | Path], *, streaming: bool = False) -> Iterator[str]:
    """Plain text of every record of the user's sources, in order: what a new tokenizer is trained on."""
    for source in sources:
        for row in load_source(source, streaming=streaming):
            yield document_text(row_to_document(row))


def prepare_lm_data(
    sources: list[str | Path] | None,
    tokenizer: PreTrainedTokenizerFast,
    block_size: int,
    *,
    weights: list[float] | None = None,
    seed: int = 0,
    max_train_tokens: int | None = None,
    validation_fraction: float = 0.05,
    streaming: bool = False,
) -> tuple[TokenBlocks, TokenBlocks]:
    """(train, validation) blocks of `block_size` tokens.

    `sources=None` uses the embedded WordNet corpus (validation = its fixed held-out split). Otherwise each
    source is a file or directory; a seeded `validation_fraction` of each source's records is held out,
    and the rest of the sources are mixed with probabilities `weights`. `max_train_tokens` stops reading
    (and tokenizing) once that many training tokens are packed.
    """
    check_arguments(block_size, validation_fraction, max_train_tokens)
    if sources is None:
        if weights is not None:
            raise DataError("weights mix several sources; the embedded corpus (sources=None) takes none")
        train_docs, validation_docs = embedded_documents(seed)
        total: int | None = len(train_docs)
    else:
        if not sources:
            raise DataError("sources is an empty list; pass files or directories, or None for the embedded corpus")
        train_docs, validation_docs = file_documents(sources, weights, seed, validation_fraction, streaming)
        total = None
    train_iter = iter(train_docs)
    first = next(train_iter, None)
    if first is None:
        raise DataError("no training records left after holding out validation data")
    pad = tokenizer.pad_token_id
    train = pack(
        encode_documents(tokenizer, itertools.chain([first], train_iter)),
        block_size,
        pad,
        max_tokens=max_train_tokens,
        total=total,
        description="tokenizing train",
    )
    validation = pack(
        encode_documents(tokenizer, validation_docs),
        block_size,
        pad,
        total=len(validation_docs),
        description="tokenizing validation",
    )
    return train, validation
