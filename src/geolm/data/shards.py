"""Token shards on disk: a corpus tokenized once, then read by memory map, so no run holds it in memory.

A shards directory holds, per split ("train", "validation"):

- `<split>-NNNNN.tokens`: the token ids of whole documents, concatenated (uint16 when the vocabulary fits,
  else uint32), laid out exactly as `geolm.data.packing` lays a document out (`<s>`, tokens, `</s>`, chat turns);
- `<split>-NNNNN.loss`: one bit per token (numpy `packbits`), set where the token is a loss target, so the
  labels of a text document and the assistant-only labels of a conversation are what `pack` gives;
- `<split>-NNNNN.starts.npy`: where each document starts in the shard (the document boundaries);

and `index.json`, written last: the format, the tokenizer's fingerprint and size, the sources, the split
settings and every shard's token and document counts. The tokenizer itself is copied to `tokenizer/`.

A split is its shards concatenated in order, the very token stream `pack` concatenates, so
`ShardBlocks(directory, "train", block_size)` holds the blocks `pack` would make of the same documents. Shards
end at document boundaries and each is written atomically with the progress record after it
(`progress.json`), so an interrupted tokenization goes on after its last whole shard, and the same inputs and
options give byte-identical shards.

numpy memory maps over flat files, as nanoGPT and nanotron's nanosets do, rather than litdata, MosaicML
streaming or Arrow: the trainer's data position is already a block index per source (exact resume needs
nothing else), every process maps the same files (DDP ranks take their slice of each global batch, as
today), and the format needs no dependency (docs/data.md says more).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geolm.data.packing import IGNORE
from geolm.errors import DataError

FORMAT = "geolm-shards-1"
INDEX = "index.json"
PROGRESS = "progress.json"
TOKENIZER_DIR = "tokenizer"
SPLITS = ("train", "validation")
SHARD_TOKENS = 1 << 26  # tokens a shard holds before it closes at the next document boundary (128 MiB as uint16)


def is_shards_directory(path: str | Path) -> bool:
    """Whether `path` is a shards directory (holds an index) rather than files of documents."""
    return (Path(path) / INDEX).is_file()


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits, else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def shard_stem(split: str, number: int) -> str:
    return f"{split}-{number:05d}"


@dataclass(frozen=True)
class Shard:
    """One shard of a split: its file stem, tokens and documents."""

    stem: str
    tokens: int
    documents: int


def read_index(directory: str | Path) -> dict[str, Any]:
    """The index of a shards directory, checked: a missing or damaged index names the file."""
    path = Path(directory) / INDEX
    if not path.is_file():
        raise DataError(f"{path}: no shards index (tokenize the corpus with `geolm data tokenize` first)")
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable shards index ({err})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise DataError(f"{path}: not a geolm shards index (format {FORMAT!r} expected)")
    return index


def check_tokenizer(directory: str | Path, fingerprint: str, what: str) -> None:
    """The shards must have been tokenized by the run's tokenizer: another one's ids mean other words."""
    index = read_index(directory)
    if index["tokenizer"] != fingerprint:
        raise DataError(
            f"{Path(directory) / INDEX}: the shards were tokenized with another tokenizer than {what} "
            f"(fingerprint {index['tokenizer'][:12]}, {what} {fingerprint[:12]}); tokenize them again with it"
        )


class ShardBlocks:
    """Blocks of `block_size` tokens of one split, read by memory map: what `TokenBlocks` is to the trainer
    (`len`, `block_size`, `rows(index)`), in constant memory. The split's stream is cut at `max_tokens`;
    its last block is padded with `pad_id` (label -100), as `pack` pads."""

    def __init__(
        self, directory: str | Path, split: str, block_size: int, pad_id: int, *, max_tokens: int | None = None
    ) -> None:
        if block_size < 2:
            raise DataError(f"block_size must be at least 2, got {block_size}")
        self.directory = Path(directory)
        index = read_index(self.directory)
        if split not in index["splits"]:
            raise DataError(f"{self.directory / INDEX}: no {split!r} split")
        self.dtype = np.dtype(index["dtype"])
        self.shards = [Shard(**shard) for shard in index["splits"][split]]
        self._tokens = [self._map(shard, ".tokens", self.dtype, shard.tokens) for shard in self.shards]
        self._loss = [self._map(shard, ".loss", np.dtype(np.uint8), -(-shard.tokens // 8)) for shard in self.shards]
        self.offsets = np.cumsum([0, *(shard.tokens for shard in self.shards)])
        total = int(self.offsets[-1])
        self.tokens = total if max_tokens is None else min(total, max_tokens)
        if self.tokens == 0:
            raise DataError(f"{self.directory}: the {split!r} split holds no tokens")
        self._block_size, self.pad_id = block_size, pad_id

    def _map(self, shard: Shard, suffix: str, dtype: np.dtype, count: int) -> np.ndarray:
        """The shard file as a read-only memory map, refused when its size is not what the index says."""
        path = self.directory / f"{shard.stem}{suffix}"
        if not path.is_file():
            raise DataError(f"{path}: missing shard file (listed in {self.directory / INDEX})")
        expected = count * dtype.itemsize
        if path.stat().st_size != expected:
            raise DataError(f"{path}: {path.stat().st_size} bytes where the index says {expected} (truncated?)")
        if count == 0:
            return np.empty(0, dtype=dtype)
        return np.memmap(path, dtype=dtype, mode="r", shape=(count,))

    def __len__(self) -> int:
        return -(-self.tokens // self._block_size)

    @property
    def block_size(self) -> int:
        return self._block_size

    def span(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and loss bits of the stream's tokens [start, stop), across shard boundaries."""
        ids, loss = [], []
        first = int(np.searchsorted(self.offsets, start, side="right")) - 1
        for number in range(first, len(self.shards)):
            begin, end = int(self.offsets[number]), int(self.offsets[number + 1])
            if begin >= stop:
                break
            low, high = max(start, begin) - begin, min(stop, end) - begin
            if high <= low:
                continue
            ids.append(np.asarray(self._tokens[number][low:high], dtype=np.int64))
            bits = np.unpackbits(self._loss[number][low // 8 : -(-high // 8)])
            loss.append(bits[low % 8 : low % 8 + high - low].astype(bool))
        return np.concatenate(ids), np.concatenate(loss)

    def block(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, labels) of block `number`, the last one padded."""
        start = number * self._block_size
        ids, loss = self.span(start, min(start + self._block_size, self.tokens))
        labels = np.where(loss, ids, IGNORE)
        padding = self._block_size - ids.size
        if padding:
            ids = np.concatenate([ids, np.full(padding, self.pad_id, dtype=np.int64)])
            labels = np.concatenate([labels, np.full(padding, IGNORE, dtype=np.int64)])
        return ids, labels

    def rows(self, index: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, labels) of the blocks `index`, each (len(index), block_size) int64."""
        pairs = [self.block(int(number)) for number in np.asarray(index).reshape(-1)]
        if not pairs:
            empty = torch.empty(0, self._block_size, dtype=torch.long)
            return empty, empty.clone()
        return torch.from_numpy(np.stack([p[0] for p in pairs])), torch.from_numpy(np.stack([p[1] for p in pairs]))


class ShardWriter:
    """Writes one split's documents into shards of about `shard_tokens` tokens, each closed at a document
    boundary and written atomically (temporary files renamed into place)."""

    def __init__(self, directory: Path, split: str, dtype: np.dtype, shard_tokens: int, shards: list[Shard]) -> None:
        self.directory, self.split, self.dtype, self.shard_tokens = directory, split, dtype, shard_tokens
        self.shards = list(shards)  # those already written (an interrupted run's)
        self._ids: list[np.ndarray] = []
        self._loss: list[np.ndarray] = []
        self._pending = 0

    @property
    def tokens(self) -> int:
        """Tokens written and pending."""
        return sum(shard.tokens for shard in self.shards) + self._pending

    def add(self, ids: np.ndarray, loss: np.ndarray) -> bool:
        """Add one document; True when that closed a shard."""
        self._ids.append(ids)
        self._loss.append(loss)
        self._pending += ids.size
        if self._pending < self.shard_tokens:
            return False
        self.close_shard()
        return True

    def close_shard(self) -> None:
        """Write what is pending as the next shard (nothing when nothing is)."""
        if not self._ids:
            return
        from geolm.files import write_atomic

        stem = shard_stem(self.split, len(self.shards))
        ids = np.concatenate(self._ids)
        starts = np.cumsum([0, *(part.size for part in self._ids[:-1])]).astype(np.int64)
        payloads = {
            ".tokens": ids.astype(self.dtype).tobytes(),
            ".loss": np.packbits(np.concatenate(self._loss)).tobytes(),
        }
        for suffix, payload in payloads.items():
            write_atomic(self.directory / f"{stem}{suffix}", lambda path, data=payload: path.write_bytes(data))
        write_atomic(self.directory / f"{stem}.starts.npy", lambda path: np.save(path, starts))
        self.shards.append(Shard(stem, int(ids.size), len(self._ids)))
        self._ids, self._loss, self._pending = [], [], 0


Records = Callable[[str], Iterator[tuple[int, Any]]]
Encode = Callable[[Iterator[tuple[int, Any]]], Iterator[list[tuple[int, np.ndarray, np.ndarray]]]]


def write_shards(
    records: Records,
    encode: Encode,
    directory: Path,
    settings: dict[str, Any],
    vocab_size: int,
    shard_tokens: int = SHARD_TOKENS,
    limits: Mapping[str, int] | None = None,
) -> dict[str, list[Shard]]:
    """The shards of every split: `records(split)` gives that split's (record number, document) in order,
    numbers rising; `encode` turns them into ordered chunks of (record number, ids, loss mask) (a parallel map
    may stand behind it). A split stops once it holds `limits[split]` tokens. After every shard the progress
    is recorded, so a second call with the same `settings` goes on after the last whole shard."""
    directory.mkdir(parents=True, exist_ok=True)
    progress = read_progress(directory, settings)
    dtype = token_dtype(vocab_size)
    for split in ("validation", "train"):  # the small split first
        state = progress["splits"][split]
        if state["done"]:
            continue
        writer = ShardWriter(directory, split, dtype, shard_tokens, [Shard(**s) for s in state["shards"]])
        limit = (limits or {}).get(split)
        chosen = ((number, document) for number, document in records(split) if number >= state["records"])
        for chunk in encode(chosen):
            for number, ids, loss in chunk:
                if writer.add(ids, loss):
                    state.update(records=number + 1, shards=as_jsonable(writer.shards))
                    write_progress(directory, progress)
            if limit is not None and writer.tokens >= limit:
                break
        writer.close_shard()
        state.update(shards=as_jsonable(writer.shards), done=True)
        write_progress(directory, progress)
    return {split: [Shard(**s) for s in progress["splits"][split]["shards"]] for split in SPLITS}


def as_jsonable(shards: list[Shard]) -> list[dict[str, Any]]:
    return [{"stem": s.stem, "tokens": s.tokens, "documents": s.documents} for s in shards]


def read_progress(directory: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The progress of an interrupted tokenization with the same settings, or a new one; another run's
    (other inputs or options) is refused rather than mixed in."""
    path = directory / PROGRESS
    if not path.is_file():
        fresh = {"records": 0, "shards": [], "done": False}
        return {"settings": settings, "splits": {split: dict(fresh) for split in SPLITS}}
    progress = json.loads(path.read_text())
    if progress.get("settings") != settings:
        raise DataError(
            f"{path}: an interrupted tokenization of other inputs or options is here; choose another --out or remove it"
        )
    return progress


def write_progress(directory: Path, progress: dict[str, Any]) -> None:
    from geolm.files import write_text_atomic

    write_text_atomic(directory / PROGRESS, json.dumps(progress))


def write_index(
    directory: Path, tokenizer: Any, shards: dict[str, list[Shard]], sources: list[str], **split_settings: Any
) -> dict[str, Any]:
    """Save the tokenizer beside the shards, then the index (last, atomically: a directory with an index is
    whole); `split_settings` are how the records were split (seed, validation_fraction)."""
    from geolm.data.cache import tokenizer_fingerprint
    from geolm.files import write_text_atomic

    tokenizer.save_pretrained(directory / TOKENIZER_DIR)
    index = {
        "format": FORMAT,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "vocab_size": len(tokenizer),
        "dtype": token_dtype(len(tokenizer)).name,
        "sources": sources,
        **split_settings,
        "splits": {split: as_jsonable(written) for split, written in shards.items()},
    }
    write_text_atomic(directory / INDEX, json.dumps(index, indent=1))
    return index
