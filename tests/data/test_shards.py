"""Token shards: the blocks read from disk are the blocks `pack` makes, written deterministically and whole."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from geolm.data.chat import Document
from geolm.data.formats import load_source, row_to_document
from geolm.data.mixing import in_validation
from geolm.data.packing import encode_documents, pack
from geolm.data.shards import INDEX, PROGRESS, ShardBlocks, check_tokenizer, write_shards
from geolm.data.tokenize import encode_numbered, tokenize_sources
from geolm.errors import DataError

TURNS = [{"role": "user", "content": "What is a heron?"}, {"role": "assistant", "content": "A wading bird."}]


@pytest.fixture
def corpus(tmp_path: Path, texts: list[str]) -> Path:
    """Text records and conversations (loss on the assistant's turns only) in one JSONL file."""
    rows = [{"text": text} for text in texts[:30]] + [{"messages": TURNS}] * 10 + [{"text": t} for t in texts[30:60]]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def tokenize(corpus: Path, tokenizer, out: Path, **options) -> dict:
    tokenizer.save_pretrained(out.parent / "tok")
    options = {"validation_fraction": 0.2, "shard_tokens": 64, "progress": False, **options}
    return tokenize_sources([corpus], tokenizer, out.parent / "tok", out, **options)


def split_documents(corpus: Path, held_out: bool) -> list[Document]:
    rows = enumerate(load_source(corpus))
    return [row_to_document(row) for i, row in rows if in_validation(0, 0, i, 0.2) == held_out]


@pytest.mark.parametrize("block_size", [7, 64])
def test_shard_blocks_are_the_blocks_pack_makes(corpus: Path, tokenizer, tmp_path: Path, block_size: int) -> None:
    index = tokenize(corpus, tokenizer, tmp_path / "shards")
    assert len(index["splits"]["train"]) > 3  # several shards, so blocks cross shard boundaries
    for split, held_out in (("train", False), ("validation", True)):
        expected = pack(encode_documents(tokenizer, split_documents(corpus, held_out)), block_size, 0)
        blocks = ShardBlocks(tmp_path / "shards", split, block_size, 0)
        ids, labels = blocks.rows(torch.arange(len(blocks)))
        assert len(blocks) == len(expected) and blocks.block_size == block_size
        assert torch.equal(ids, expected.input_ids) and torch.equal(labels, expected.labels)
    assert (labels == -100).any() and (labels != -100).any()
    cut = ShardBlocks(tmp_path / "shards", "train", block_size, 0, max_tokens=50)
    assert cut.tokens == 50 and len(cut) == -(-50 // block_size)


def test_the_same_inputs_give_the_same_bytes_with_any_number_of_workers(corpus: Path, tokenizer, tmp_path) -> None:
    tokenize(corpus, tokenizer, tmp_path / "one", workers=1)
    tokenize(corpus, tokenizer, tmp_path / "two", workers=2)
    names = sorted(p.name for p in (tmp_path / "one").glob("*-*"))
    assert names and names == sorted(p.name for p in (tmp_path / "two").glob("*-*"))
    for name in [*names, INDEX]:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    stored = np.load(tmp_path / "one" / "train-00000.starts.npy")
    assert stored[0] == 0 and np.all(np.diff(stored) > 0)  # document boundaries


def test_an_interrupted_tokenization_goes_on_after_its_last_whole_shard(tokenizer, tmp_path: Path, texts) -> None:
    def records(split: str):
        return ((i, text) for i, text in enumerate(texts) if (i % 5 == 0) == (split == "validation"))

    encoded: list[int] = []

    def encode(numbered, stop_after=None):
        for number, document in numbered:
            if stop_after is not None and len(encoded) == stop_after:
                raise KeyboardInterrupt
            encoded.append(number)
            yield encode_numbered(tokenizer, [(number, document)])

    settings = {"inputs": "texts"}
    straight = write_shards(records, encode, tmp_path / "straight", settings, len(tokenizer), 40)
    encoded.clear()
    with pytest.raises(KeyboardInterrupt):
        write_shards(records, lambda n: encode(n, 40), tmp_path / "cut", settings, len(tokenizer), 40)
    progress = json.loads((tmp_path / "cut" / PROGRESS).read_text())
    assert progress["splits"]["validation"]["done"] and progress["splits"]["train"]["shards"]
    whole = {p.name for p in (tmp_path / "cut").glob("train-*.tokens")}
    assert len(whole) == len(progress["splits"]["train"]["shards"])  # no half shard lies there
    encoded.clear()
    resumed = write_shards(records, encode, tmp_path / "cut", settings, len(tokenizer), 40)
    assert resumed == straight and min(encoded) >= progress["splits"]["train"]["records"]  # not read again
    for path in (tmp_path / "straight").glob("*-*"):
        assert path.read_bytes() == (tmp_path / "cut" / path.name).read_bytes(), path.name
    with pytest.raises(DataError, match="interrupted tokenization of other inputs"):
        write_shards(records, encode, tmp_path / "cut", {"inputs": "other"}, len(tokenizer), 40)


def test_damaged_shards_and_another_tokenizer_are_named(corpus: Path, tokenizer, tmp_path: Path) -> None:
    from geolm.data.tokenizer import train_tokenizer

    shards = tmp_path / "shards"
    tokenize(corpus, tokenizer, shards)
    with pytest.raises(DataError, match="tokenized with another tokenizer"):
        check_tokenizer(shards, "0" * 64, "the checkpoint's")
    other = train_tokenizer(["a different corpus entirely"] * 20, vocab_size=300, min_frequency=1)
    with pytest.raises(DataError, match="already holds tokenized shards"):
        tokenize(corpus, other, shards)
    tokens = shards / "train-00001.tokens"
    tokens.write_bytes(tokens.read_bytes()[:-2])
    with pytest.raises(DataError, match=r"train-00001.tokens: \d+ bytes where the index says \d+ \(truncated\?\)"):
        ShardBlocks(shards, "train", 16, 0)
    (shards / INDEX).unlink()
    with pytest.raises(DataError, match="no shards index"):
        ShardBlocks(shards, "train", 16, 0)


def test_training_on_shards_resumes_exactly_and_refuses_another_tokenizer(corpus: Path, tokenizer, tmp_path) -> None:
    from geolm import api
    from geolm.errors import ConfigError

    tokenize(corpus, tokenizer, tmp_path / "shards")

    def run(out: str, resume: str | None = None, **settings) -> list[float]:
        args = api.TrainArgs(steps=6, batch_size=2, eval_every=0, save_every=0, log_every=1, **settings)
        data = (tmp_path / "shards",)
        api.train(
            api.RunSpec(preset="llama-tiny", data=data, out=tmp_path / out, block_size=16, args=args, resume=resume)
        )
        rows = [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]
        return [row["loss"] for row in rows if "loss" in row and "event" not in row]

    straight = run("straight")
    run("split", stop_after=3)
    assert run("split", resume="auto") == straight and len(straight) == 6  # N + resume + N == 2N, read from disk
    assert json.loads((tmp_path / "straight" / "last" / "trainer_state" / "state.json").read_text())["step"] == 6
    with pytest.raises(ConfigError, match="--vocab-size trains a new tokenizer, but the shards"):
        api.prepare(api.RunSpec(preset="llama-tiny", data=(tmp_path / "shards",), out=tmp_path / "v", vocab_size=300))
    other = tmp_path / "other"
    from geolm.data.tokenizer import train_tokenizer

    train_tokenizer(["a different corpus entirely"] * 20, vocab_size=300, min_frequency=1).save_pretrained(other)
    with pytest.raises(DataError, match="tokenized with another tokenizer than the run's"):
        api.prepare(api.RunSpec(preset="llama-tiny", data=(tmp_path / "shards",), out=tmp_path / "o", tokenizer=other))
    short = tmp_path / "short.txt"
    short.write_text("A heron is a bird.\n")
    tokenize(short, tokenizer, tmp_path / "short", validation_fraction=0.0)
    spec = api.RunSpec(preset="llama-tiny", data=(tmp_path / "short",), out=tmp_path / "s", block_size=64)
    with pytest.raises(DataError, match=r"short: the training split holds \d+ tokens, fewer than one block of 64"):
        api.prepare(spec)
    assert not (tmp_path / "s").exists()


def test_geolm_data_tokenize_writes_shards_geolm_train_reads(corpus: Path, tokenizer, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from geolm.cli.data import app
    from geolm.errors import ConfigError

    tokenizer.save_pretrained(tmp_path / "tok")
    out = tmp_path / "shards"
    args = [str(corpus), "--tokenizer", str(tmp_path / "tok"), "--out", str(out), "--workers", "1"]
    done = CliRunner().invoke(app, ["tokenize", *args])
    assert done.exit_code == 0, done.output
    assert f"geolm train --data {out}" in done.output and (out / "tokenizer" / "tokenizer.json").is_file()
    assert ShardBlocks(out, "train", 32, 0).tokens > 0
    both = CliRunner().invoke(app, ["tokenize", str(corpus), "--out", str(tmp_path / "x")])
    assert isinstance(both.exception, ConfigError) and "give one of --tokenizer DIR" in str(both.exception)
    assert not (tmp_path / "x").exists()


MEASURE = """
import resource, sys
from geolm import api
args = api.TrainArgs(steps=3, batch_size=4, eval_every=0, save_every=0, log_every=1)
api.train(api.RunSpec(preset="llama-tiny", data=(sys.argv[1],), out=sys.argv[2], block_size=64, args=args))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_a_runs_memory_does_not_grow_with_the_corpus(tokenizer, tmp_path: Path) -> None:
    """Peak resident memory of a short run on 1M and on 50M tokens of shards: the corpus stays on disk."""
    import subprocess
    import sys

    from geolm.data.shards import ShardWriter, write_index

    def synthetic(out: Path, tokens: int) -> None:
        writer = ShardWriter(out, "train", np.dtype(np.uint16), 1 << 22, [])
        rng = np.random.default_rng(0)
        for _ in range(tokens // 1000):
            writer.add(rng.integers(8, len(tokenizer), 1000, dtype=np.uint16), np.ones(1000, dtype=bool))
        writer.close_shard()
        write_index(out, tokenizer, {"train": writer.shards, "validation": []}, ["synthetic"], seed=0)

    peaks = {}
    for tokens in (1_000_000, 50_000_000):
        shards = tmp_path / f"shards-{tokens}"
        synthetic(shards, tokens)
        assert ShardBlocks(shards, "train", 64, 0).tokens == tokens
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(shards), str(tmp_path / f"run-{tokens}")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        peaks[tokens] = int(done.stdout.split()[-1]) / 1024  # MiB (ru_maxrss is in KiB on Linux)
    assert abs(peaks[50_000_000] - peaks[1_000_000]) < 50, peaks  # the 50M-token corpus alone is 95 MiB of ids


@pytest.mark.parametrize(
    ("data", "weights", "max_train_tokens"),
    [("one file", None, None), ("one file", None, 300), ("two files", (3, 1), None), ("embedded", None, 2_000)],
)
def test_a_runs_own_data_is_tokenized_into_the_cache_as_prepare_lm_data_packs_it(
    corpus: Path, tokenizer, tmp_path: Path, monkeypatch, capsys, data: str, weights, max_train_tokens: int | None
) -> None:
    from geolm import api
    from geolm.data.prepare import prepare_lm_data

    monkeypatch.setenv("GEOLM_CACHE", str(tmp_path / "cache"))
    other = tmp_path / "other.jsonl"
    other.write_text(corpus.read_text())
    sources = {"one file": [corpus], "two files": [corpus, other], "embedded": None}[data]
    spec = api.RunSpec(data=sources or (), weights=weights, block_size=16, max_train_tokens=max_train_tokens)
    train, validation = api.token_blocks(spec, tokenizer)
    mixture = list(weights) if weights else None
    expected = prepare_lm_data(sources, tokenizer, 16, weights=mixture, max_train_tokens=max_train_tokens)
    for blocks, packed in ((train, expected[0]), (validation, expected[1])):
        ids, labels = blocks.rows(torch.arange(len(blocks)))
        assert torch.equal(ids, packed.input_ids) and torch.equal(labels, packed.labels)
    entries = list((tmp_path / "cache").iterdir())
    assert len(entries) == 1 and (entries[0] / INDEX).is_file()
    capsys.readouterr()
    again, _ = api.token_blocks(spec, tokenizer)  # read back from the cache, not tokenized again
    assert f"data: cached in {entries[0]}" in capsys.readouterr().err
    assert torch.equal(again.rows(torch.arange(len(again)))[0], train.rows(torch.arange(len(train)))[0])


def test_several_shards_directories_are_mixed_by_weights_and_resume_exactly(corpus: Path, tokenizer, tmp_path) -> None:
    from geolm import api
    from geolm.errors import ConfigError

    lines = corpus.read_text().splitlines(keepends=True)
    for name, part in (("a", lines[:40]), ("b", lines[40:])):
        (tmp_path / f"{name}.jsonl").write_text("".join(part))
        tokenize(tmp_path / f"{name}.jsonl", tokenizer, tmp_path / name)
    both = (tmp_path / "a", tmp_path / "b")
    a, b = (ShardBlocks(directory, "train", 16, 0) for directory in both)
    train, validation = api.token_blocks(api.RunSpec(data=both, block_size=16), tokenizer)
    assert len(train) == len(a) + len(b) and len(validation) > 0  # without weights: concatenated
    mixed, _ = api.token_blocks(api.RunSpec(data=both, weights=(1, 1), block_size=16), tokenizer)
    assert len(mixed) == 2 * min(len(a), len(b))

    def run(out: str, resume: str | None = None, **settings) -> list[float]:
        args = api.TrainArgs(steps=6, batch_size=2, eval_every=0, save_every=0, log_every=1, **settings)
        spec = api.RunSpec("llama-tiny", data=both, weights=(3, 1), out=tmp_path / out, block_size=16, args=args)
        api.train(replace(spec, resume=resume))
        rows = [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]
        return [row["loss"] for row in rows if "loss" in row and "event" not in row]

    straight = run("straight")
    run("split", stop_after=3)
    assert run("split", resume="auto") == straight and len(straight) == 6
    with pytest.raises(ConfigError, match="is not a shards directory; give shards directories alone or files alone"):
        api.token_blocks(api.RunSpec(data=(*both, corpus), block_size=16), tokenizer)
    with pytest.raises(DataError, match="weights has 3 entries for 2 sources"):
        api.token_blocks(api.RunSpec(data=both, weights=(1, 1, 1), block_size=16), tokenizer)
