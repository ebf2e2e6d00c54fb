"""Conversation state: pruning to the context, statistics, JSON files, and replies on top of generate()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_checkpoint import SENTENCES, build_tokenizer

from geolm.errors import CheckpointError, InputError
from geolm.inference import (
    Conversation,
    ResponseGenerator,
    SamplingOptions,
    generate_text,
    read_conversation_file,
    render_chat,
)
from geolm.inference.conversation import reply_end_ids

SYSTEM = "Answer in one sentence."


def _filled(tokenizer, budget: int, turns: int = 6) -> Conversation:
    conv = Conversation(tokenizer, budget, system=SYSTEM)
    for i in range(turns):
        conv.add("user", f"Question {i}: tell me something.")
        conv.add("assistant", SENTENCES[i])
    return conv


def test_render_uses_the_chat_template(tokenizer) -> None:
    ids = render_chat(tokenizer, [{"role": "user", "content": "hi"}], add_generation_prompt=True)
    assert tokenizer.decode(ids) == "<s><|user|>\nhi<|end|>\n<|assistant|>\n"
    assert reply_end_ids(tokenizer) == [7, 5, 4]


def test_pruning_keeps_the_newest_turns_and_fits(tokenizer) -> None:
    budget = 120
    conv = _filled(tokenizer, budget)
    conv.add("user", "And the last question?")
    original = [m for m in conv.messages if m["role"] != "system"]
    assert len(conv.prompt_ids()) > budget

    dropped = conv.fit()

    kept = conv.messages[1:]
    assert conv.messages[0] == {"role": "system", "content": SYSTEM}
    assert len(conv.prompt_ids()) <= budget
    assert kept == original[-len(kept) :] and kept[0]["role"] == "user"
    assert dropped == (len(original) - len(kept)) // 2 and dropped >= 1
    one_more = original[-len(kept) - 2 :]  # the newest dropped turn back in: it must not have fit
    assert len(render_chat(tokenizer, [conv.messages[0], *one_more], True)) > budget
    stats = conv.stats()
    assert (stats.turns, stats.messages, stats.pruned_turns) == (len(kept) // 2 + 1, len(kept) + 1, dropped)
    assert stats.tokens == len(conv.prompt_ids()) and stats.max_prompt_tokens == budget
    assert conv.fit() == 0 and conv.stats().pruned_turns == dropped


def test_message_too_long_for_the_budget(tokenizer) -> None:
    conv = Conversation(tokenizer, 30, system=SYSTEM)
    conv.add("user", SENTENCES[0] * 3)
    with pytest.raises(InputError, match=r"newest message needs \d+ prompt tokens but at most 30 fit"):
        conv.fit()


def test_reset_keeps_the_system_message(tokenizer) -> None:
    conv = _filled(tokenizer, 1000)
    conv.pruned_turns = 3
    conv.reset()
    assert conv.messages == [{"role": "system", "content": SYSTEM}] and conv.pruned_turns == 0
    assert conv.stats().tokens == len(render_chat(tokenizer, conv.messages, False))


def test_save_load_round_trip(tokenizer, tmp_path: Path) -> None:
    conv = _filled(tokenizer, 1000, turns=3)
    conv.pruned_turns = 2
    path = conv.save(tmp_path / "chat.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.json"]  # no temporary file left
    data = json.loads(path.read_text())
    assert data["format"] == "geolm-conversation" and data["version"] == 1 and len(data["messages"]) == 7

    other = Conversation(tokenizer, 1000, system="another system")
    other.load(path)
    assert other.messages == conv.messages and other.pruned_turns == 2 and other.system == SYSTEM


def test_bare_list_file_keeps_current_system(tokenizer, tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]))
    conv = Conversation(tokenizer, 1000, system=SYSTEM)
    conv.load(path)
    assert [m["role"] for m in conv.messages] == ["system", "user", "assistant"]
    assert conv.pruned_turns == 0
    path.write_text("[]")
    conv.load(path)
    assert conv.messages == [{"role": "system", "content": SYSTEM}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "geolm-conversation",\n  "messages": [}', r":2:16: not valid JSON"),
        ('{"format": "other", "version": 1, "messages": []}', "key 'format' must be 'geolm-conversation'"),
        ('{"format": "geolm-conversation", "version": 9, "messages": []}', "unsupported version 9"),
        ('{"format": "geolm-conversation", "version": 1, "messages": {}}', "expected a list of messages"),
        ('[{"role": "robot", "content": "x"}]', "message 0: role must be one of system, user, assistant"),
        ('[{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]', "message 1: a system message"),
        ('[{"role": "user"}]', "message 0: must be an object with exactly the keys"),
        ('[{"role": "user", "content": 3}]', "message 0: content must be a string"),
    ],
)
def test_malformed_files(tokenizer, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    conv = _filled(tokenizer, 1000, turns=1)
    before = list(conv.messages)
    with pytest.raises(InputError, match=message) as err:
        conv.load(path)
    assert str(err.value).startswith(str(path))
    assert conv.messages == before  # a failed load changes nothing


def test_missing_file_and_folder(tokenizer, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="conversation file not found"):
        read_conversation_file(tmp_path / "nope.json")
    with pytest.raises(InputError, match=r"folder .* does not exist"):
        Conversation(tokenizer, 10).save(tmp_path / "no" / "chat.json")
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match=r"cannot save the conversation to .*taken"):
        Conversation(tokenizer, 10).save(tmp_path / "taken")
    with pytest.raises(InputError, match="is a directory, not a conversation file"):
        read_conversation_file(tmp_path / "taken")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no temporary file left behind


def test_no_chat_template() -> None:
    conv = Conversation(build_tokenizer(chat_template=None), 100)
    conv.add("user", "x")
    with pytest.raises(CheckpointError, match="has no chat template"):
        conv.prompt_ids()


def test_reply_appends_the_generated_turn(loaded) -> None:
    model, tok = loaded
    options = SamplingOptions(max_new_tokens=12, greedy=True)
    responder = ResponseGenerator(model, tok, options)
    conv = responder.new_conversation(SYSTEM)
    assert conv.max_prompt_tokens == 256 - 12
    question = {"role": "user", "content": "What is a cat?"}
    prompt = render_chat(tok, [*conv.messages, question], add_generation_prompt=True)
    expected = generate_text(model, tok, prompt, options, extra_eos_ids=[7, 5, 4]).text.strip()
    reply = responder.reply(conv, "What is a cat?")
    assert reply == expected and len(reply) > 0
    assert conv.messages[1:] == [
        {"role": "user", "content": "What is a cat?"},
        {"role": "assistant", "content": reply},
    ]


def test_reply_refused_leaves_no_unanswered_turn(loaded) -> None:
    model, tok = loaded
    responder = ResponseGenerator(model, tok, SamplingOptions(max_new_tokens=200, greedy=True))
    conv = responder.new_conversation(SYSTEM)
    with pytest.raises(InputError, match="at most 56 fit"):
        responder.reply(conv, " ".join(SENTENCES))
    assert conv.messages == [{"role": "system", "content": SYSTEM}]
    with pytest.raises(InputError, match=r"max_new_tokens \(300\) must be smaller than the context \(256\)"):
        ResponseGenerator(model, tok, SamplingOptions(max_new_tokens=300)).new_conversation()
