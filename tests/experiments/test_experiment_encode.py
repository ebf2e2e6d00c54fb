"""Encoding: tag labels on each word's first token, pairs through the tokenizer's pair template, trimming."""

from __future__ import annotations

import pytest
import torch

from geolm.data.packing import IGNORE
from geolm.data.tokenizer import train_tokenizer
from geolm.experiments.encode import encode
from geolm.experiments.tasks import Example, Task


@pytest.fixture(scope="module")
def tokenizer():
    texts = ["the heron ate a fish", "a farmer and a hammer", "this is a bird"] * 20
    return train_tokenizer(texts, 300)


def test_tags_sit_on_first_tokens(tokenizer):
    words = ["the", "unfamiliarword", "heron"]
    task = Task("t", "tag", ["O", "B-x"], [Example(words, label=[0, 1, 1])], [])
    data = encode(task, task.train, tokenizer, max_length=64)
    core = tokenizer.backend_tokenizer
    pieces = [len(core.encode(w if i == 0 else f" {w}", add_special_tokens=False).ids) for i, w in enumerate(words)]
    assert pieces[1] > 1  # the made-up word is split, so the test sees the non-first tokens
    expected = [IGNORE]
    for count, tag in zip(pieces, [0, 1, 1], strict=True):
        expected += [tag] + [IGNORE] * (count - 1)
    assert data.labels[0].tolist() == expected
    assert data.input_ids[0, 0].item() == tokenizer.bos_token_id
    assert tokenizer.decode(data.input_ids[0, 1:]) == "the unfamiliarword heron"


def test_pairs_and_batch_trimming(tokenizer):
    examples = [Example("this is a bird", "a heron", 1), Example("a fish", "the farmer", 0)]
    task = Task("p", "classify", ["no", "yes"], examples, [])
    data = encode(task, examples, tokenizer, max_length=64)
    first = tokenizer("this is a bird", "a heron")["input_ids"]
    assert data.input_ids[0, : len(first)].tolist() == first
    assert data.labels.tolist() == [1, 0]
    short = data.batch(torch.tensor([1]))
    width = len(tokenizer("a fish", "the farmer")["input_ids"])
    assert short["input_ids"].shape == (1, width)
    assert short["attention_mask"].all()
    assert short["input_ids"].is_contiguous()


def test_lm_blocks_pack_documents(tokenizer):
    task = Task("g", "lm", [], [Example("the heron ate a fish")] * 3, [])
    data = encode(task, task.train, tokenizer, max_length=8)
    assert data.input_ids.shape[1] == 8
    per_document = len(tokenizer("the heron ate a fish")["input_ids"]) + 1  # <s> ... </s>
    assert int(data.attention_mask.sum()) == 3 * per_document
