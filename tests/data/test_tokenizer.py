from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from geolm.data.tokenizer import SPECIAL_TOKENS, save_tokenizer, train_tokenizer
from geolm.errors import DataError

MESSAGES = [{"role": "user", "content": "What is a heron?"}, {"role": "assistant", "content": "A wading bird."}]


def test_special_token_ids_are_fixed(tokenizer):
    assert tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS) == list(range(8))
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (
        0,
        1,
        2,
        3,
    )
    assert 264 < len(tokenizer) <= 400  # a tiny corpus runs out of merges before the asked size


def test_round_trip_and_bos(tokenizer):
    text = "Hello world, a heron! Ünïcödé → 42"
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_chat_template_with_generation_prompt(tokenizer):
    text = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert text == "<s><|user|>\nWhat is a heron?<|end|>\n<|assistant|>\nA wading bird.<|end|>\n<|assistant|>\n"
    ids = tokenizer.apply_chat_template(MESSAGES[:1], add_generation_prompt=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert ids[:2] == [1, 5] and ids[-2:] == [6, tokenizer.convert_tokens_to_ids("Ċ")]


def test_training_is_deterministic(texts):
    first = train_tokenizer(texts, vocab_size=350, min_frequency=1)
    second = train_tokenizer(texts, vocab_size=350, min_frequency=1)
    assert first.get_vocab() == second.get_vocab()
    assert first.backend_tokenizer.to_str() == second.backend_tokenizer.to_str()


def test_too_small_vocab_is_refused(texts):
    with pytest.raises(DataError, match="at least 264"):
        train_tokenizer(texts, vocab_size=100)


def test_save_and_reload(tokenizer, tmp_path):
    path = save_tokenizer(tokenizer, tmp_path / "tok")
    loaded = AutoTokenizer.from_pretrained(path)
    assert loaded("a heron")["input_ids"] == tokenizer("a heron")["input_ids"]
    assert loaded.apply_chat_template(MESSAGES, tokenize=False) == tokenizer.apply_chat_template(
        MESSAGES, tokenize=False
    )
    assert [p.name for p in tmp_path.iterdir()] == ["tok"]
