from __future__ import annotations

import json

import pandas as pd
import pytest

from geolm.data.formats import load_source, row_to_document
from geolm.errors import DataError

CONVERSATION = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def documents(source, streaming=False):
    return [row_to_document(row) for row in load_source(source, streaming=streaming)]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("streaming", [False, True])
def test_each_format_loads(tmp_path, streaming):
    jsonl = write_jsonl(tmp_path / "a.jsonl", [{"text": "one"}, {"messages": CONVERSATION}])
    array = tmp_path / "b.json"
    array.write_text(json.dumps([{"text": "two"}, {"instruction": "say hi", "output": "hello"}]))
    txt = tmp_path / "c.txt"
    txt.write_text("three\n\nfour\n")
    csv = tmp_path / "d.csv"
    csv.write_text('text,score\nfive,1\n"six, with comma",2\n')
    parquet = tmp_path / "e.parquet"
    pd.DataFrame({"text": ["seven"]}).to_parquet(parquet)
    assert documents(jsonl, streaming) == ["one", CONVERSATION]
    assert documents(array, streaming) == ["two", [{"role": "user", "content": "say hi"}, CONVERSATION[1]]]
    assert documents(txt, streaming) == ["three", "four"]
    assert documents(csv, streaming) == ["five", "six, with comma"]
    assert documents(parquet, streaming) == ["seven"]
    assert documents(tmp_path, streaming) == [
        "one",
        CONVERSATION,
        "two",
        documents(array)[1],
        "three",
        "four",
        "five",
        "six, with comma",
        "seven",
    ]


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": "broken"\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:3: invalid JSON"):
        load_source(path)


def test_wrong_field_type_names_line_and_field(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"text": "ok"}, {"text": 5}])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: field 'text' must be a string"):
        load_source(path)
    path = write_jsonl(tmp_path / "roles.jsonl", [{"messages": [{"role": "robot", "content": "x"}]}])
    with pytest.raises(DataError, match=r"roles\.jsonl:1: field 'messages'\[0\]\.role: unknown role 'robot'"):
        load_source(path)
    path = write_jsonl(tmp_path / "keys.jsonl", [{"body": "x"}])
    with pytest.raises(DataError, match=r"keys\.jsonl:1: no usable field.*found: body"):
        load_source(path)


def test_csv_row_error_names_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("body\nx\n")
    with pytest.raises(DataError, match=r"bad\.csv: row 1: no usable field"):
        load_source(path)


def test_invalid_json_array_names_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n{"text": "a"},\n{"text": }\n]')
    with pytest.raises(DataError, match=r"bad\.json:3: invalid JSON"):
        load_source(path)
    path.write_text('{"text": "a"}')
    with pytest.raises(DataError, match="must hold an array"):
        load_source(path)


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.txt", "empty.json", "empty.csv"])
def test_empty_file_errors(tmp_path, name):
    path = tmp_path / name
    path.write_text("\n\n" if name != "empty.csv" else "text\n")
    with pytest.raises(DataError, match="no records"):
        load_source(path)


def test_empty_or_missing_directory_and_bad_suffix(tmp_path):
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(DataError, match="directory has no"):
        load_source(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        load_source(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match=r"unsupported file type '\.md'"):
        load_source(tmp_path / "notes.md")


@pytest.mark.parametrize("name", ["latin1.txt", "latin1.jsonl", "latin1.csv"])
def test_non_utf8_names_file_line_and_offset(tmp_path, name):
    path = tmp_path / name
    good = b'{"text": "ok"}\n' if name.endswith("jsonl") else b"text\n"
    path.write_bytes(good + b"caf\xe9\n")
    with pytest.raises(DataError, match=rf"{name}:2: not valid UTF-8 \(byte 0xe9 at file offset {len(good) + 3}\)"):
        load_source(path)
