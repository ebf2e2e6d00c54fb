"""User task files for the suite: GLUE-style TSV or JSONL (sentence[, sentence2], label) and CoNLL tagging.

TSV needs a header row; the text column may be called sentence, sentence1, text or premise, the second
sentence sentence2 or hypothesis, the label label or gold_label (MNLI's name). CoNLL has one token per
line with its tag in the last column and a blank line between sentences (-DOCSTART- lines are skipped).
Each file becomes one task, split 80/20 by a seeded shuffle.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from geolm.errors import DataError
from geolm.experiments.tasks import Example, Task, split

TEXT_KEYS = ("sentence", "sentence1", "text", "premise")
PAIR_KEYS = ("sentence2", "hypothesis")
LABEL_KEYS = ("label", "gold_label")
SUFFIXES = (".tsv", ".jsonl", ".conll")
TEST_FRACTION = 0.2
Row = tuple[int, "str | list[str]", "str | None", "str | list[str]"]  # (line, text, pair, label or tags)


def load_task_file(path: Path, seed: int) -> Task:
    """The task a file holds, chosen by its suffix (.tsv, .jsonl or .conll)."""
    if not path.is_file():
        raise DataError(f"task file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unknown task file type {suffix or '(none)'}; expected one of {', '.join(SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    if suffix == ".conll":
        return _task(path, "tag", read_conll(path, text), seed)
    rows = read_tsv(path, text) if suffix == ".tsv" else read_jsonl(path, text)
    return _task(path, "classify", rows, seed)


def _task(path: Path, kind: str, rows: list[Row], seed: int) -> Task:
    """Label names in sorted order, examples with label ids, and the seeded split."""
    if len(rows) < 2:
        raise DataError(f"{path}: needs at least 2 examples, found {len(rows)}")
    if kind == "tag":
        names = sorted({tag for *_, tags in rows for tag in tags}, key=lambda t: (t != "O", t))
        index = {name: i for i, name in enumerate(names)}
        examples = [Example(words, label=[index[t] for t in tags]) for _, words, _, tags in rows]
    else:
        names = sorted({label for *_, label in rows})
        index = {name: i for i, name in enumerate(names)}
        examples = [Example(text, pair, index[label]) for _, text, pair, label in rows]
    train, test = split(examples, max(1, round(len(examples) * TEST_FRACTION)), seed)
    return Task(path.stem, kind, names, train, test, f"user file {path.name}", source=str(path))


def _pick(record: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if record.get(key) not in (None, ""):
            return str(record[key])
    return None


def _row(path: Path, number: int, record: dict, has_pair: bool) -> tuple[int, str, str | None, str]:
    text, label = _pick(record, TEXT_KEYS), _pick(record, LABEL_KEYS)
    if text is None or label is None:
        raise DataError(
            f"{path}:{number}: needs a text ({' or '.join(TEXT_KEYS)}) and a label ({' or '.join(LABEL_KEYS)})"
        )
    pair = _pick(record, PAIR_KEYS)
    if has_pair and pair is None:
        raise DataError(f"{path}:{number}: the file has sentence pairs but this row has no {' or '.join(PAIR_KEYS)}")
    return number, text, pair, label


def read_tsv(path: Path, text: str) -> list[tuple[int, str, str | None, str]]:
    lines = text.splitlines()
    if not lines:
        raise DataError(f"{path}: empty file")
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader)
    if not set(header) & set(TEXT_KEYS) or not set(header) & set(LABEL_KEYS):
        raise DataError(
            f"{path}:1: the header must name a text column ({', '.join(TEXT_KEYS)}) "
            f"and a label column ({', '.join(LABEL_KEYS)}), got {header}"
        )
    has_pair = bool(set(header) & set(PAIR_KEYS))
    rows = []
    for number, cells in enumerate(reader, 2):
        if not any(cells):
            continue
        if len(cells) != len(header):
            raise DataError(f"{path}:{number}: {len(cells)} columns, the header has {len(header)}")
        rows.append(_row(path, number, dict(zip(header, cells, strict=True)), has_pair))
    return rows


def read_jsonl(path: Path, text: str) -> list[tuple[int, str, str | None, str]]:
    rows, has_pair = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: each line must be a JSON object")
        if has_pair is None:
            has_pair = _pick(record, PAIR_KEYS) is not None
        rows.append(_row(path, number, record, has_pair))
    return rows


def read_conll(path: Path, text: str) -> list[tuple[int, list[str], None, list[str]]]:
    sentences, words, tags, start = [], [], [], 1
    for number, line in enumerate([*text.splitlines(), ""], 1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if words:
                sentences.append((start, words, None, tags))
            words, tags, start = [], [], number + 1
            continue
        if len(fields) < 2:
            raise DataError(f"{path}:{number}: expected 'token tag', got {line.strip()!r}")
        words.append(fields[0])
        tags.append(fields[-1])
    return sentences
