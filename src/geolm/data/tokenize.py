"""`tokenize_corpus`: sources (or the embedded corpus) tokenized once into a shards directory.

Every record of every source is read in order; a record is held out for validation by the same stable hash as
`prepare_lm_data` uses (`geolm.data.mixing.in_validation`), and each is laid out as `pack` lays it out (chat
masks included). Documents are encoded in chunks by worker processes, in order, so the shards do not depend on
the number of workers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from geolm.data.chat import Document
from geolm.data.shards import INDEX, SHARD_TOKENS, Records, write_index, write_shards
from geolm.errors import DataError

CHUNK = 512  # documents a worker encodes at a time

_worker_tokenizer: Any = None


def _load_worker(tokenizer_dir: str) -> None:
    global _worker_tokenizer
    from transformers import AutoTokenizer

    _worker_tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)


def _encode_chunk(chunk: list[tuple[int, Document]]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    return encode_numbered(_worker_tokenizer, chunk)


def encode_numbered(tokenizer: Any, chunk: list[tuple[int, Document]]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(record number, token ids, loss mask) of each numbered document, laid out as `pack` lays it out."""
    from geolm.data.packing import IGNORE, encode_documents

    encoded = encode_documents(tokenizer, [document for _, document in chunk])
    return [
        (number, np.asarray(ids, dtype=np.int64), np.asarray(labels) != IGNORE)
        for (number, _), (ids, labels) in zip(chunk, encoded, strict=True)
    ]


def _chunks(numbered: Iterator[tuple[int, Document]], size: int) -> Iterator[list[tuple[int, Document]]]:
    chunk: list[tuple[int, Document]] = []
    for item in numbered:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def embedded_records(seed: int) -> Records:
    """The embedded corpus as `prepare_lm_data` orders it: the train split shuffled by `seed` (so any prefix
    is a fair sample), the held-out split for validation."""
    from geolm.data.prepare import embedded_documents

    def records(split: str) -> Iterator[tuple[int, Document]]:
        train, validation = embedded_documents(seed)
        return enumerate(validation if split == "validation" else train)

    return records


def input_order_records(sources: list[Path], seed: int, fraction: float) -> Records:
    """Every record of every source in input order, read as a stream; a record is held out by
    `in_validation`, numbered by its place in the input."""
    from geolm.data.formats import load_source, row_to_document
    from geolm.data.mixing import in_validation

    def records(split: str) -> Iterator[tuple[int, Document]]:
        held_out = split == "validation"
        number = -1
        for index_of_source, source in enumerate(sources):
            for index, row in enumerate(load_source(source, streaming=True)):
                number += 1
                if in_validation(seed, index_of_source, index, fraction) == held_out:
                    yield number, row_to_document(row)

    return records


def mixed_records(sources: list[Path], weights: list[float] | None, seed: int, fraction: float) -> Records:
    """The sources as `prepare_lm_data` orders them: each source's training records shuffled by `seed` and
    interleaved by `weights`, the held-out records of every source for validation."""
    from geolm.data.prepare import file_documents

    def records(split: str) -> Iterator[tuple[int, Document]]:
        train, validation = file_documents(sources, weights, seed, fraction, streaming=False)
        return enumerate(validation if split == "validation" else train)

    return records


def input_signature(sources: list[Path] | None) -> list[Any]:
    """What identifies the inputs for a resumed tokenization or a cache entry: each file's path, size and
    modification time (the embedded corpus: its fingerprint)."""
    from geolm.data.formats import source_files

    if sources is None:
        from geolm.data.cache import corpus_fingerprint

        return [corpus_fingerprint()]
    return [[str(path), path.stat().st_size, path.stat().st_mtime_ns] for s in sources for path in source_files(s)]


def tokenize_corpus(
    records: Records,
    tokenizer: Any,
    tokenizer_dir: Path,
    out: Path,
    *,
    settings: dict[str, Any],
    sources: list[str],
    workers: int = 1,
    shard_tokens: int = SHARD_TOKENS,
    limits: dict[str, int] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Tokenize `records` (`embedded_records`, `input_order_records`, `mixed_records`) with `tokenizer`
    (saved in `tokenizer_dir`, where worker processes load it) into the shards directory `out`; returns its
    index. `settings` (the inputs and how they were split) identify the work: an interrupted call with the
    same ones goes on after its last whole shard. `limits` stop a split at so many tokens."""
    from geolm.data.cache import tokenizer_fingerprint
    from geolm.progress import counted

    if (out / INDEX).is_file():
        raise DataError(f"{out}: already holds tokenized shards; choose another --out")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: is a file, not a directory")
    settings = {**settings, "tokenizer": tokenizer_fingerprint(tokenizer), "shard_tokens": shard_tokens}

    def counted_records(split: str) -> Iterator[tuple[int, Document]]:
        stream = records(split)
        return counted(stream, f"tokenizing {split}") if progress else stream

    def encode(numbered: Iterator[tuple[int, Document]]) -> Iterator[list[tuple[int, np.ndarray, np.ndarray]]]:
        if workers <= 1:
            return (encode_numbered(tokenizer, chunk) for chunk in _chunks(numbered, CHUNK))
        return _parallel(_chunks(numbered, CHUNK), workers, str(tokenizer_dir))

    shards = write_shards(counted_records, encode, out, settings, len(tokenizer), shard_tokens, limits)
    if not shards["train"]:
        raise DataError(f"{', '.join(sources)}: no training records left after holding out validation data")
    split_settings = {key: settings[key] for key in ("seed", "validation_fraction") if key in settings}
    return write_index(out, tokenizer, shards, sources, **split_settings)


def tokenize_sources(
    sources: list[Path] | None,
    tokenizer: Any,
    tokenizer_dir: Path,
    out: Path,
    *,
    seed: int = 0,
    validation_fraction: float = 0.05,
    **options: Any,
) -> dict[str, Any]:
    """`geolm data tokenize`: every record of `sources` in input order, a seeded share of each held out
    (None: the embedded corpus, ordered as `prepare_lm_data` orders it); `options` go to `tokenize_corpus`."""
    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if sources is None:
        records, names = embedded_records(seed), ["embedded corpus"]
    else:
        records, names = input_order_records(sources, seed, validation_fraction), [str(s) for s in sources]
    settings = {"inputs": input_signature(sources), "seed": seed, "validation_fraction": validation_fraction}
    return tokenize_corpus(records, tokenizer, tokenizer_dir, out, settings=settings, sources=names, **options)


def _parallel(chunks: Iterator[list], workers: int, tokenizer_dir: str) -> Iterator[list]:
    """Each chunk encoded by a pool of `workers` processes, in order, with at most two chunks per worker in
    flight (the pool's own `map` would read the whole corpus ahead)."""
    with ProcessPoolExecutor(workers, initializer=_load_worker, initargs=(tokenizer_dir,)) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(_encode_chunk, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
