"""User task files: GLUE TSV/JSONL and CoNLL, with errors that name file and line."""

from __future__ import annotations

import pytest

from geolm.errors import DataError
from geolm.experiments.taskfiles import load_task_file


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_single_sentence(tmp_path):
    rows = "".join(f"sentence {i} is {'good' if i % 2 else 'bad'}\t{i % 2}\n" for i in range(10))
    task = load_task_file(write(tmp_path, "sst.tsv", "sentence\tlabel\n" + rows), seed=0)
    assert (task.name, task.kind, task.labels) == ("sst", "classify", ["0", "1"])
    assert (len(task.train), len(task.test)) == (8, 2)
    for example in task.train + task.test:
        assert example.pair is None
        assert example.label == int(example.text.endswith("good"))


def test_tsv_pairs_with_mnli_column_names(tmp_path):
    text = "index\tsentence1\tsentence2\tgold_label\n1\tA b.\tC d.\tneutral\n2\tE f.\tG h.\tentailment\n"
    task = load_task_file(write(tmp_path, "mnli.tsv", text), seed=0)
    assert task.labels == ["entailment", "neutral"]
    pairs = {(e.text, e.pair, task.labels[e.label]) for e in task.train + task.test}
    assert pairs == {("A b.", "C d.", "neutral"), ("E f.", "G h.", "entailment")}


def test_jsonl_rows(tmp_path):
    lines = [
        '{"sentence": "x", "sentence2": "y", "label": 1}',
        "",
        '{"sentence": "z", "sentence2": "w", "label": 0}',
    ]
    task = load_task_file(write(tmp_path, "t.jsonl", "\n".join(lines)), seed=0)
    assert sorted((e.text, e.pair, e.label) for e in task.train + task.test) == [("x", "y", 1), ("z", "w", 0)]


def test_conll_sentences_and_tags(tmp_path):
    text = "-DOCSTART- O\n\nJohn B-PER\nlives O\nin O\nParis B-LOC\n\nMary NNP I-PER\n\n"
    task = load_task_file(write(tmp_path, "ner.conll", text), seed=0)
    assert task.kind == "tag"
    assert task.labels == ["O", "B-LOC", "B-PER", "I-PER"]
    words = {tuple(e.text): [task.labels[t] for t in e.label] for e in task.train + task.test}
    assert words == {("John", "lives", "in", "Paris"): ["B-PER", "O", "O", "B-LOC"], ("Mary",): ["I-PER"]}


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("a.tsv", "sentence\tlabel\nok\t1\ntoo\tmany\tcells\n", "a.tsv:3:"),
        ("b.tsv", "words\tlabel\nx\t1\n", "b.tsv:1:"),
        ("c.jsonl", '{"sentence": "x", "label": 1}\n{not json\n', "c.jsonl:2:"),
        ("d.jsonl", '{"sentence": "x", "label": 1}\n{"sentence": "y"}\n', "d.jsonl:2:"),
        ("e.conll", "John B-PER\nlonely\n", "e.conll:2:"),
        ("f.jsonl", '{"sentence": "x", "sentence2": "y", "label": 1}\n{"sentence": "z", "label": 0}\n', "f.jsonl:2:"),
        ("g.csv", "x", "unknown task file type .csv"),
        ("h.tsv", "sentence\tlabel\nonly one\t1\n", "needs at least 2 examples"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, name, text, where):
    with pytest.raises(DataError, match=where):
        load_task_file(write(tmp_path, name, text), seed=0)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="task file not found"):
        load_task_file(tmp_path / "none.tsv", seed=0)
