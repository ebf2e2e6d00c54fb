from __future__ import annotations

import torch

from geolm.data.packing import IGNORE, encode_documents, pack

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is a heron?"},
    {"role": "assistant", "content": "A wading bird."},
    {"role": "user", "content": "Hello again"},
    {"role": "assistant", "content": "Hello world!"},
]


def test_conversation_ids_match_the_chat_template(tokenizer):
    ((ids, _),) = encode_documents(tokenizer, [CONVERSATION])
    expected = tokenizer.apply_chat_template(CONVERSATION, tokenize=True)
    expected = expected["input_ids"] if hasattr(expected, "keys") else expected
    assert ids == [*expected, tokenizer.eos_token_id]


def test_only_assistant_tokens_carry_loss(tokenizer):
    ((ids, labels),) = encode_documents(tokenizer, [CONVERSATION])
    end = tokenizer.convert_tokens_to_ids("<|end|>")
    expected = [IGNORE] * len(ids)
    for reply in ("A wading bird.", "Hello world!"):
        reply_ids = [*tokenizer(reply, add_special_tokens=False)["input_ids"], end]
        start = next(i for i in range(len(ids)) if ids[i : i + len(reply_ids)] == reply_ids)
        expected[start : start + len(reply_ids)] = reply_ids
    assert labels == expected
    trained = [i for i, label in zip(ids, labels, strict=True) if label != IGNORE]
    assert tokenizer.decode(trained) == "A wading bird.<|end|>Hello world!<|end|>"


def test_text_documents_train_on_everything_but_bos(tokenizer):
    ((ids, labels),) = encode_documents(tokenizer, ["Hello world."])
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert labels == [IGNORE, *ids[1:]]


def test_packing_is_exact():
    docs = [
        ([1, 10, 11, 2], [-100, 10, 11, 2]),
        ([1, 12, 2], [-100, 12, 2]),
        ([1, 13, 14, 15, 2], [-100, 13, 14, 15, 2]),
    ]
    blocks = pack(docs, block_size=5, pad_id=0)
    assert blocks.input_ids.tolist() == [[1, 10, 11, 2, 1], [12, 2, 1, 13, 14], [15, 2, 0, 0, 0]]
    assert blocks.labels.tolist() == [[-100, 10, 11, 2, -100], [12, 2, -100, 13, 14], [15, 2, -100, -100, -100]]
    assert blocks.input_ids.dtype == torch.int64


def test_packing_stops_at_max_tokens():
    docs = [([1, 10, 11, 2], [-100, 10, 11, 2])] * 10
    blocks = pack(docs, block_size=4, pad_id=0, max_tokens=6)
    assert blocks.input_ids.tolist() == [[1, 10, 11, 2], [1, 10, 0, 0]]
    assert blocks.labels.tolist() == [[-100, 10, 11, 2], [-100, 10, -100, -100]]
