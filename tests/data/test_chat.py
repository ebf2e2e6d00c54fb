from __future__ import annotations

import pytest

from geolm.data.chat import to_document
from geolm.errors import DataError

EXPECTED = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is a heron?"},
    {"role": "assistant", "content": "A wading bird."},
]


def test_openai_messages():
    assert to_document({"messages": EXPECTED}, "f:1") == EXPECTED
    parts = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in EXPECTED]
    assert to_document({"messages": parts}, "f:1") == EXPECTED


def test_sharegpt_conversations():
    turns = [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "What is a heron?"},
        {"from": "gpt", "value": "A wading bird."},
    ]
    assert to_document({"conversations": turns}, "f:1") == EXPECTED


def test_chatml_text():
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in EXPECTED)
    assert to_document({"text": text}, "f:1") == EXPECTED


def test_plain_user_assistant_text():
    text = "System: Be brief.\nUser: What is a heron?\nAssistant: A wading bird."
    assert to_document({"text": text}, "f:1") == EXPECTED
    multi = "User: line one\nline two\nassistant: ok"
    assert to_document({"text": multi}, "f:1") == [
        {"role": "user", "content": "line one\nline two"},
        {"role": "assistant", "content": "ok"},
    ]


def test_alpaca():
    record = {"instruction": "Translate.", "input": "bonjour", "output": "hello"}
    assert to_document(record, "f:1") == [
        {"role": "user", "content": "Translate.\n\nbonjour"},
        {"role": "assistant", "content": "hello"},
    ]
    assert to_document({"instruction": "Say hi.", "input": "", "output": "hi"}, "f:1")[0]["content"] == "Say hi."


def test_plain_text_stays_text():
    assert to_document({"text": "User: but no reply here"}, "f:1") == "User: but no reply here"
    assert to_document({"text": "An ordinary sentence."}, "f:1") == "An ordinary sentence."


def test_errors_name_where_and_field():
    with pytest.raises(DataError, match=r"f:4: field 'output' is missing"):
        to_document({"instruction": "x"}, "f:4")
    with pytest.raises(DataError, match=r"f:2: field 'text': unclosed or malformed ChatML"):
        to_document({"text": "<|im_start|>user\nhi"}, "f:2")
    with pytest.raises(DataError, match="no assistant turn"):
        to_document({"messages": [{"role": "user", "content": "hi"}]}, "f:3")
    with pytest.raises(DataError, match=r"f:5: expected a JSON object, got list"):
        to_document([1, 2], "f:5")
