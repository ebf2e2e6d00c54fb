"""Records in any accepted shape -> one document: plain text, or a conversation [{"role", "content"}].

Accepted: `text` (plain, or a whole conversation as `User:`/`Assistant:` turns or ChatML), OpenAI-style
`messages`, ShareGPT `conversations` (from/value), and Alpaca `instruction`/`input`/`output`.
"""

from __future__ import annotations

import re

from geolm.errors import DataError

ROLES = ("system", "user", "assistant")
_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
_PLAIN_TURN = re.compile(r"^(system|user|assistant)\s*:[ \t]?", re.IGNORECASE | re.MULTILINE)
_CHATML_TURN = re.compile(r"<\|im_start\|>([^\n]*)\n(.*?)<\|im_end\|>", re.DOTALL)

Document = str | list[dict]


def _content(value: object, where: str) -> str:
    """A message's content: a string, or OpenAI content parts [{"type": "text", "text": ...}]."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value)
    raise DataError(f"{where}: must be a string (or a list of text parts), got {type(value).__name__}")


def _checked(messages: list[dict], where: str) -> list[dict]:
    """Contents stripped (turn layout is the template's job), and an assistant turn required."""
    if not messages:
        raise DataError(f"{where}: conversation has no turns")
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError(f"{where}: conversation has no assistant turn, so nothing to learn from")
    return [{"role": m["role"], "content": m["content"].strip()} for m in messages]


def from_messages(value: object, where: str, role_key: str = "role", content_key: str = "content") -> list[dict]:
    """OpenAI `messages` (role/content) or ShareGPT `conversations` (from/value)."""
    if not isinstance(value, list):
        raise DataError(f"{where}: must be a list of turns, got {type(value).__name__}")
    roles = dict(zip(ROLES, ROLES, strict=True)) if role_key == "role" else _SHAREGPT_ROLES
    messages = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict):
            raise DataError(f"{where}[{i}]: must be an object with {role_key!r} and {content_key!r}")
        role = turn.get(role_key)
        if role not in roles:
            raise DataError(f"{where}[{i}].{role_key}: unknown role {role!r}; expected one of {', '.join(roles)}")
        messages.append(
            {"role": roles[role], "content": _content(turn.get(content_key), f"{where}[{i}].{content_key}")}
        )
    return _checked(messages, where)


def from_alpaca(record: dict, where: str) -> list[dict]:
    """instruction (+ optional input) as the user turn, output as the assistant turn."""
    fields = {}
    for key in ("instruction", "input", "output", "system"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise DataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
        fields[key] = value or ""
    if not fields["instruction"] or not fields["output"]:
        missing = "instruction" if not fields["instruction"] else "output"
        raise DataError(f"{where}: field {missing!r} is missing or empty (Alpaca records need instruction and output)")
    prompt = f"{fields['instruction']}\n\n{fields['input']}" if fields["input"] else fields["instruction"]
    messages = [{"role": "system", "content": fields["system"]}] if fields["system"] else []
    turns = [*messages, {"role": "user", "content": prompt}, {"role": "assistant", "content": fields["output"]}]
    return _checked(turns, where)


def from_chatml(text: str, where: str) -> list[dict]:
    """`<|im_start|>role\\ncontent<|im_end|>` turns; anything else between turns is an error."""
    messages, position = [], 0
    for match in _CHATML_TURN.finditer(text):
        if text[position : match.start()].strip():
            raise DataError(f"{where}: text outside <|im_start|>...<|im_end|> at character {position}")
        role = match.group(1).strip()
        if role not in ROLES:
            raise DataError(f"{where}: unknown ChatML role {role!r}; expected one of {', '.join(ROLES)}")
        messages.append({"role": role, "content": match.group(2)})
        position = match.end()
    if text[position:].strip():
        raise DataError(f"{where}: unclosed or malformed ChatML turn at character {position}")
    return _checked(messages, where)


def from_plain_chat(text: str) -> list[dict] | None:
    """`User: ...` / `Assistant: ...` turns (a turn runs until the next role line), or None if not a chat."""
    marks = list(_PLAIN_TURN.finditer(text))
    if not marks or text[: marks[0].start()].strip():
        return None
    if not any(m.group(1).lower() == "assistant" for m in marks):
        return None
    ends = [m.start() for m in marks[1:]] + [len(text)]
    turns = [{"role": m.group(1).lower(), "content": text[m.end() : end]} for m, end in zip(marks, ends, strict=True)]
    return _checked(turns, "plain chat")


def to_document(record: object, where: str) -> Document:
    """The document a record stands for; `where` (file:line or file: row N) goes into every error."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if record.get("messages") is not None:
        return from_messages(record["messages"], f"{where}: field 'messages'")
    if record.get("conversations") is not None:
        return from_messages(record["conversations"], f"{where}: field 'conversations'", "from", "value")
    if record.get("instruction") is not None or record.get("output") is not None:
        return from_alpaca(record, where)
    if record.get("text") is not None:
        text = record["text"]
        if not isinstance(text, str):
            raise DataError(f"{where}: field 'text' must be a string, got {type(text).__name__}")
        if "<|im_start|>" in text:
            return from_chatml(text, f"{where}: field 'text'")
        return from_plain_chat(text) or text
    found = ", ".join(sorted(map(str, record))) or "none"
    raise DataError(
        f"{where}: no usable field; expected 'text', 'messages', 'conversations' or 'instruction'/'output' "
        f"(found: {found})"
    )
