"""Local data files -> HF `datasets` of documents, with errors that name the file, line and field.

Text files are checked line by line before `datasets` reads them (one extra pass), because `datasets` and
pyarrow report bad JSON or bad bytes without a usable line number. Every source becomes a dataset with
the same two columns: `text` (a plain document) or `messages` (a conversation), the other one null.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow.parquet as pq

from geolm.data.chat import Document, to_document
from geolm.errors import DataError

BUILDERS = {".jsonl": "json", ".json": "json", ".txt": "text", ".csv": "csv", ".parquet": "parquet"}
FEATURES = datasets.Features(
    {
        "text": datasets.Value("string"),
        "messages": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
    }
)

AnyDataset = datasets.Dataset | datasets.IterableDataset


def source_files(path: str | Path) -> list[Path]:
    """The data files of a source: the file itself, or every supported file under a directory (sorted)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix in BUILDERS and not p.name.startswith(".")
        )
        if not files:
            raise DataError(f"{path}: directory has no {', '.join(BUILDERS)} files")
        return files
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.suffix not in BUILDERS:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; expected one of {', '.join(BUILDERS)}")
    return [path]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) with a precise error for bytes that are not UTF-8."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}:{number}: not valid UTF-8 (byte 0x{raw[err.start]:02x} at file offset "
                    f"{offset + err.start})"
                ) from None
            offset += len(raw)


def check_file(path: Path) -> int:
    """Validate a file before loading; returns its number of records (0 raises: an empty file is an error)."""
    suffix = path.suffix
    if suffix == ".parquet":
        try:
            count = pq.ParquetFile(path).metadata.num_rows
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path}: not a readable parquet file ({err})") from None
    elif suffix == ".jsonl":
        count = 0
        for number, line in _lines(path):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{number}: invalid JSON ({err.msg} at column {err.colno})") from None
                to_document(record, f"{path}:{number}")
                count += 1
    elif suffix == ".json":
        text = "".join(line for _, line in _lines(path))
        try:
            records = json.loads(text) if text.strip() else []
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(records, list):
            raise DataError(f"{path}: a .json file must hold an array of records (use .jsonl for one per line)")
        for index, record in enumerate(records):
            to_document(record, f"{path}: item {index}")
        count = len(records)
    else:  # .txt: one sample per line; .csv: a header then rows
        count = sum(1 for _, line in _lines(path) if line.strip()) - (suffix == ".csv")
    if count <= 0:
        raise DataError(f"{path}: no records (empty file)")
    return count


def _row_document(row: dict, index: int, path: Path) -> dict:
    """Map a raw row to the shared {text, messages} columns; rows count from 1 as people do."""
    document = to_document(dict(row), f"{path}: row {index + 1}")
    if isinstance(document, str):
        return {"text": document, "messages": None}
    return {"text": None, "messages": document}


def load_file(path: Path, *, streaming: bool = False) -> AnyDataset:
    """One checked file as a dataset of documents."""
    check_file(path)
    try:
        raw = datasets.load_dataset(BUILDERS[path.suffix], data_files=str(path), split="train", streaming=streaming)
    except (datasets.exceptions.DatasetGenerationError, ValueError, OSError) as err:
        raise DataError(f"{path}: cannot be read as {BUILDERS[path.suffix]} ({err})") from None
    if raw.column_names is None:  # a stream whose columns are known only once read
        mapped = raw.map(_row_document, with_indices=True, fn_kwargs={"path": path}).select_columns(list(FEATURES))
    else:
        mapped = raw.map(
            _row_document,
            with_indices=True,
            fn_kwargs={"path": path},
            remove_columns=raw.column_names,
            features=FEATURES,
        )
    return mapped.filter(_not_blank)


def _not_blank(row: dict) -> bool:
    """Blank lines of a .txt file (and empty texts anywhere) are not documents."""
    return row["messages"] is not None or bool(row["text"].strip())


def load_source(source: str | Path, *, streaming: bool = False) -> AnyDataset:
    """A file or a directory of files as one dataset of documents (files in sorted order)."""
    parts = [load_file(path, streaming=streaming) for path in source_files(source)]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def row_to_document(row: dict) -> Document:
    """Back from the shared columns to a document."""
    return row["messages"] if row["messages"] is not None else row["text"]
