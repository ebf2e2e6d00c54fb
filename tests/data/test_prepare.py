from __future__ import annotations

import json

import pytest

from geolm.data.prepare import prepare_lm_data
from geolm.errors import DataError


def write(path, n, word):
    path.write_text("".join(json.dumps({"text": f"{word} {i}"}) + "\n" for i in range(n)))
    return path


def test_files_give_train_and_fixed_validation(tmp_path, tokenizer):
    path = write(tmp_path / "a.jsonl", 200, "hello")
    train, validation = prepare_lm_data([path], tokenizer, 16, seed=3, validation_fraction=0.1)
    train2, validation2 = prepare_lm_data([path], tokenizer, 16, seed=3, validation_fraction=0.1)
    assert train.input_ids.equal(train2.input_ids) and validation.input_ids.equal(validation2.input_ids)
    bos = tokenizer.bos_token_id
    n_train, n_val = int((train.input_ids == bos).sum()), int((validation.input_ids == bos).sum())
    assert n_train + n_val == 200 and 8 <= n_val <= 35
    streamed, streamed_val = prepare_lm_data([path], tokenizer, 16, seed=3, validation_fraction=0.1, streaming=True)
    assert streamed_val.input_ids.equal(validation.input_ids)
    assert int((streamed.input_ids == bos).sum()) == n_train


def test_weighted_sources_and_token_budget(tmp_path, tokenizer):
    a, b = write(tmp_path / "a.jsonl", 300, "hello"), write(tmp_path / "b.jsonl", 300, "world")
    train, _ = prepare_lm_data([a, b], tokenizer, 32, weights=[3, 1], max_train_tokens=600)
    assert train.input_ids.numel() == 608 and int((train.input_ids != tokenizer.pad_token_id).sum()) == 600
    text = tokenizer.decode(train.input_ids.flatten())
    assert text.count("hello") > 2 * text.count("world") > 0


def test_empty_and_bad_arguments(tmp_path, tokenizer):
    (tmp_path / "e.txt").write_text("\n")
    with pytest.raises(DataError, match="no records"):
        prepare_lm_data([tmp_path / "e.txt"], tokenizer, 16)
    with pytest.raises(DataError, match="empty list"):
        prepare_lm_data([], tokenizer, 16)
    with pytest.raises(DataError, match="block_size"):
        prepare_lm_data(None, tokenizer, 1)
    with pytest.raises(DataError, match="weights"):
        prepare_lm_data(None, tokenizer, 16, weights=[1.0])
