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
from geolm.data.shards import INDEX, SHARD_TOKENS, write_index, write_shards
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


def record_stream(sources: list[Path] | None, seed: int, fraction: float) -> Iterator[tuple[bool, Document]]:
    """(held out?, document) of every record in input order: the embedded corpus's train then held-out split,
    or each source's records split by `in_validation`."""
    from geolm.data.corpus import corpus_documents
    from geolm.data.formats import load_source, row_to_document
    from geolm.data.mixing import in_validation

    if sources is None:
        for split, held_out in (("train", False), ("heldout", True)):
            for documents in corpus_documents(split).values():
                yield from ((held_out, document) for document in documents)
        return
    for number, source in enumerate(sources):
        for index, row in enumerate(load_source(source, streaming=True)):
            yield in_validation(seed, number, index, fraction), row_to_document(row)


def input_signature(sources: list[Path] | None) -> list[Any]:
    """What identifies the inputs for a resumed tokenization: each file's path, size and modification time."""
    from geolm.data.formats import source_files

    if sources is None:
        from geolm.data.cache import corpus_fingerprint

        return [corpus_fingerprint()]
    return [[str(path), path.stat().st_size, path.stat().st_mtime_ns] for s in sources for path in source_files(s)]


def tokenize_corpus(
    sources: list[Path] | None,
    tokenizer: Any,
    tokenizer_dir: Path,
    out: Path,
    *,
    seed: int = 0,
    validation_fraction: float = 0.05,
    workers: int = 1,
    shard_tokens: int = SHARD_TOKENS,
    progress: bool = True,
) -> dict[str, Any]:
    """Tokenize `sources` (None: the embedded corpus) with `tokenizer` (saved in `tokenizer_dir`) into the
    shards directory `out`; returns its index. An interrupted call goes on after its last whole shard."""
    from geolm.data.cache import tokenizer_fingerprint
    from geolm.progress import counted

    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if (out / INDEX).is_file():
        raise DataError(f"{out}: already holds tokenized shards; choose another --out")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: is a file, not a directory")
    fingerprint = tokenizer_fingerprint(tokenizer)
    settings = {
        "inputs": input_signature(sources),
        "tokenizer": fingerprint,
        "seed": seed,
        "validation_fraction": validation_fraction,
        "shard_tokens": shard_tokens,
    }

    def records() -> Iterator[tuple[bool, Document]]:
        stream = record_stream(sources, seed, validation_fraction)
        return counted(stream, "tokenizing") if progress else stream

    def encode(numbered: Iterator[tuple[int, Document]]) -> Iterator[list[tuple[int, np.ndarray, np.ndarray]]]:
        if workers <= 1:
            return (encode_numbered(tokenizer, chunk) for chunk in _chunks(numbered, CHUNK))
        return _parallel(_chunks(numbered, CHUNK), workers, str(tokenizer_dir))

    shards = write_shards(records, encode, out, settings, len(tokenizer), shard_tokens)
    if not shards["train"]:
        raise DataError(f"{', '.join(map(str, sources or ['the embedded corpus']))}: no training records")
    names = [str(source) for source in sources] if sources else ["embedded corpus"]
    return write_index(out, tokenizer, shards, names, seed=seed, validation_fraction=validation_fraction)


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
