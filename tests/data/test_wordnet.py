from __future__ import annotations

import gzip

import pytest

from geolm.data.wordnet import parse_wordnet, read_synsets, write_synsets
from geolm.errors import DataError


def test_parser_reads_every_field(wordnet_dir):
    synsets = {s.id: s for s in parse_wordnet(wordnet_dir)}
    assert sorted(synsets) == [
        "00001740-n",
        "00002000-n",
        "00003000-n",
        "00004000-n",
        "00005000-n",
        "00006000-v",
        "00007000-v",
    ]
    heron = synsets["00004000-n"]
    assert heron.lemmas == ["heron"]
    assert heron.pos == "noun" and heron.lexname == "noun.animal"
    assert heron.gloss == "grey or white wading bird with long neck"
    assert heron.examples == ["the heron stood still", "herons fish"]
    assert heron.hypernyms == ["00003000-n"]
    assert heron.senses == [1] and heron.count == 4
    wader = synsets["00003000-n"]
    assert wader.lemmas == ["wading bird", "wader"] and wader.senses == [1, 2]
    assert synsets["00001740-n"].lexname == "noun.Tops"
    assert synsets["00005000-n"].exceptions == {"goose": ["geese"]}
    walk, stop = synsets["00006000-v"], synsets["00007000-v"]
    assert walk.lexname == "verb.motion" and walk.frames == [2] and walk.antonyms == ["00007000-v"]
    assert stop.frames == [1, 2] and stop.exceptions == {"stop": ["stopped", "stopping"]}


def test_write_is_deterministic_and_round_trips(wordnet_dir, tmp_path):
    synsets = parse_wordnet(wordnet_dir)
    first, second = write_synsets(synsets, tmp_path / "a.jsonl.gz"), write_synsets(synsets, tmp_path / "b.jsonl.gz")
    assert first.read_bytes() == second.read_bytes()
    assert read_synsets(first) == synsets
    assert len(gzip.decompress(first.read_bytes()).splitlines()) == 7


def test_malformed_data_line_names_file_and_line(wordnet_dir):
    path = wordnet_dir / "data.noun"
    path.write_text(path.read_text() + "00008000 05 n zz broken | gloss\n")
    with pytest.raises(DataError, match=r"data\.noun:7: malformed synset line"):
        parse_wordnet(wordnet_dir)


def test_missing_directory_and_empty_directory(tmp_path):
    with pytest.raises(DataError, match="not a directory"):
        parse_wordnet(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no data\.noun"):
        parse_wordnet(tmp_path)


def test_cli_build_wordnet_writes_the_file(wordnet_dir, tmp_path):
    from typer.testing import CliRunner

    from geolm.cli.data import app

    out = tmp_path / "out" / "wn.jsonl.gz"
    result = CliRunner().invoke(app, ["build-wordnet", str(wordnet_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 7 synsets" in result.output
    assert [s.id for s in read_synsets(out)][:2] == ["00001740-n", "00002000-n"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
