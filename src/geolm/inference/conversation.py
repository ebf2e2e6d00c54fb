"""Multi-turn chat state: messages, pruning to the context, statistics, and JSON files.

A conversation is a list of `{"role", "content"}` messages, optionally opened by one system message. The
prompt is the tokenizer's own chat template rendered over that list, so pruning counts exactly the tokens
the model will see. Pruning drops whole turns (a user message and the replies to it), oldest first, and
never the system message, so the template always sees a well-formed dialogue.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateError
from transformers import PreTrainedTokenizerBase

from geolm.errors import CheckpointError, InputError
from geolm.files import usual_permissions

ROLES = ("system", "user", "assistant")
FILE_FORMAT = "geolm-conversation"
FILE_VERSION = 1
# Special tokens that end an assistant reply when the tokenizer has them (besides its end-of-sequence token).
REPLY_END_TOKENS = ("<|end|>", "<|user|>", "<|system|>")

Message = dict[str, str]


def render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[Message], add_generation_prompt: bool) -> list[int]:
    """Token ids of `messages` through the tokenizer's chat template (which adds any `<s>` itself)."""
    require_chat_template(tokenizer)
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except TemplateError as err:
        raise InputError(f"the chat template refused the conversation: {err}") from None
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def require_chat_template(tokenizer: PreTrainedTokenizerBase) -> None:
    """Chat needs the template the checkpoint was trained with; there is no sensible default."""
    if not tokenizer.chat_template:
        raise CheckpointError(f"the tokenizer of {tokenizer.name_or_path or 'this model'} has no chat template")


def reply_end_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Ids of the chat tokens that end a reply, among those the tokenizer knows."""
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in REPLY_END_TOKENS if t in vocab]


@dataclass(frozen=True)
class ConversationStats:
    """What `/stats` shows: turns and messages kept, their rendered tokens, and turns pruned so far.

    `tokens` may exceed `max_prompt_tokens` after a long reply: the budget bounds the next prompt, and
    pruning happens when the next message arrives.
    """

    turns: int
    messages: int
    tokens: int
    max_prompt_tokens: int
    pruned_turns: int

    def __str__(self) -> str:
        return (
            f"turns {self.turns}, messages {self.messages}, tokens {self.tokens}, "
            f"prompt budget {self.max_prompt_tokens}, pruned turns {self.pruned_turns}"
        )


class Conversation:
    """Messages of one chat, kept within `max_prompt_tokens` rendered tokens by `fit()`."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_prompt_tokens: int, system: str | None = None):
        if max_prompt_tokens < 1:
            raise InputError(f"max_prompt_tokens must be at least 1, got {max_prompt_tokens}")
        self.tokenizer = tokenizer
        self.max_prompt_tokens = max_prompt_tokens
        self.messages: list[Message] = [{"role": "system", "content": system}] if system else []
        self.pruned_turns = 0

    @property
    def system(self) -> str | None:
        return self.messages[0]["content"] if self.messages and self.messages[0]["role"] == "system" else None

    def add(self, role: str, content: str) -> None:
        """Append a user or assistant message (the system message is set at creation or by `load`)."""
        if role not in ("user", "assistant"):
            raise InputError(f"cannot add a message with role {role!r}; allowed: 'user', 'assistant'")
        self.messages.append({"role": role, "content": content})

    def pop(self) -> Message:
        """Remove and return the newest message (undoes an `add` whose reply failed)."""
        return self.messages.pop()

    def reset(self) -> None:
        """Forget every turn, keeping the system message."""
        system = self.system
        self.messages = [{"role": "system", "content": system}] if system else []
        self.pruned_turns = 0

    def prompt_ids(self) -> list[int]:
        """The rendered conversation, with the assistant prompt when the newest message is the user's."""
        wants_reply = bool(self.messages) and self.messages[-1]["role"] == "user"
        return render_chat(self.tokenizer, self.messages, add_generation_prompt=wants_reply)

    def fit(self) -> int:
        """Drop the oldest turns until the prompt fits; returns how many were dropped.

        Raises `InputError` when even the system message and the newest turn alone are too long.
        """
        dropped = 0
        first = 1 if self.system is not None else 0
        while (tokens := len(self.prompt_ids())) > self.max_prompt_tokens:
            next_user = next(
                (i for i in range(first + 1, len(self.messages)) if self.messages[i]["role"] == "user"), None
            )
            if next_user is None:
                self.pruned_turns += dropped
                raise InputError(
                    f"the newest message needs {tokens} prompt tokens but at most {self.max_prompt_tokens} "
                    "fit (context minus room for the reply); send a shorter message"
                )
            del self.messages[first:next_user]
            dropped += 1
        self.pruned_turns += dropped
        return dropped

    def stats(self) -> ConversationStats:
        return ConversationStats(
            turns=sum(m["role"] == "user" for m in self.messages),
            messages=len(self.messages),
            tokens=len(self.prompt_ids()) if self.messages else 0,
            max_prompt_tokens=self.max_prompt_tokens,
            pruned_turns=self.pruned_turns,
        )

    def save(self, path: str | Path) -> Path:
        """Write the conversation as JSON, atomically (a temporary file renamed into place)."""
        path = Path(path)
        if not path.parent.is_dir():
            raise InputError(f"cannot save the conversation to {path}: folder {path.parent} does not exist")
        data = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "messages": self.messages,
            "pruned_turns": self.pruned_turns,
        }
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as err:
            raise InputError(f"cannot save the conversation to {path}: {err.strerror}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=2)
                handle.write("\n")
            usual_permissions(Path(tmp))
            os.replace(tmp, path)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise InputError(f"cannot save the conversation to {path}: {err.strerror}") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def load(self, path: str | Path) -> None:
        """Replace the messages with those of a saved file; its system message, if any, replaces ours."""
        messages, pruned = read_conversation_file(path)
        if (not messages or messages[0]["role"] != "system") and self.system is not None:
            messages.insert(0, {"role": "system", "content": self.system})
        self.messages = messages
        self.pruned_turns = pruned


def read_conversation_file(path: str | Path) -> tuple[list[Message], int]:
    """Messages and pruned-turn count of a conversation file: a saved object, or a bare list of messages."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"conversation file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a conversation file") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read the conversation file ({err.strerror})") from None
    pruned = 0
    if isinstance(data, dict):
        if data.get("format") != FILE_FORMAT:
            raise InputError(f"{path}: key 'format' must be {FILE_FORMAT!r}, got {data.get('format')!r}")
        if data.get("version") != FILE_VERSION:
            raise InputError(f"{path}: unsupported version {data.get('version')!r}; this geolm reads {FILE_VERSION}")
        pruned = data.get("pruned_turns", 0)
        if not isinstance(pruned, int) or isinstance(pruned, bool) or pruned < 0:
            raise InputError(f"{path}: key 'pruned_turns' must be a non-negative integer, got {pruned!r}")
        data = data.get("messages")
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of messages (or an object with key 'messages')")
    return [_checked_message(path, i, m) for i, m in enumerate(data)], pruned


def _checked_message(path: Path, index: int, message: object) -> Message:
    where = f"{path}: message {index}"
    if not isinstance(message, dict) or set(message) != {"role", "content"}:
        raise InputError(f"{where}: must be an object with exactly the keys 'role' and 'content'")
    role, content = message["role"], message["content"]
    if role not in ROLES:
        raise InputError(f"{where}: role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "system" and index != 0:
        raise InputError(f"{where}: a system message may only come first")
    if not isinstance(content, str):
        raise InputError(f"{where}: content must be a string")
    return {"role": role, "content": content}
