"""The chat loop behind `geolm chat`: each input line is a message to the model or a slash command.

Replies, `/stats` and `/help` go to `out` (stdout); notices and user errors go to `err` (stderr), so piping
a file of messages through the chat leaves nothing but replies on stdout. A bad command or an over-long
message is reported and the session goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from geolm.errors import InputError
from geolm.inference.conversation import Conversation
from geolm.inference.responder import ResponseGenerator
from geolm.inference.streaming import StopTrimmingStreamer
from geolm.nn.stats import InferenceStats, inference_stats

HELP = """\
/save FILE   write the conversation to a JSON file
/load FILE   replace the conversation with the one in a JSON file
/reset       forget every turn (the system message stays)
/stats       turns, prompt tokens and turns pruned to fit the context; what the model's parts reported
             over the last reply (iterations per token, expert load, ...), for models whose parts report
/help        this list
/exit        leave (so does Ctrl-D)"""


class ChatSession:
    """One conversation with one model, driven line by line."""

    def __init__(
        self,
        responder: ResponseGenerator,
        conversation: Conversation,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ):
        self.responder = responder
        self.conversation = conversation
        self._out = out
        self._err = err
        self.streamer = StopTrimmingStreamer(responder.tokenizer, responder.options.stop, out)
        self.last_reply_stats: InferenceStats | None = None
        self.commands: dict[str, Callable[[str], None]] = {
            "/save": self._save,
            "/load": self._load,
            "/reset": self._reset,
            "/stats": self._stats,
            "/help": self._help,
        }

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    def run(self, lines: Iterable[str]) -> None:
        """Handle lines until they run out or one is `/exit`."""
        for line in lines:
            if not self.handle(line):
                return

    def handle(self, line: str) -> bool:
        """Answer or execute one line; False means the session is over."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            name, _, arg = text.partition(" ")
            if name in ("/exit", "/quit"):
                return False
            command = self.commands.get(name)
            if command is None:
                self._note(f"unknown command {name}; /help lists the commands")
                return True
            return self._attempt(command, arg.strip())
        return self._attempt(self._reply, text)

    def _attempt(self, action: Callable[[str], None], arg: str) -> bool:
        try:
            action(arg)
        except InputError as err:
            self._note(f"error: {err}")
        return True

    def _reply(self, text: str) -> None:
        pruned_before = self.conversation.pruned_turns
        with inference_stats(self.responder.model) as recorded:
            self.responder.reply(self.conversation, text, self.streamer)
        self.last_reply_stats = recorded
        pruned = self.conversation.pruned_turns - pruned_before
        if pruned:
            self._note(f"(dropped the {pruned} oldest turn(s) to fit the context)")

    def _save(self, arg: str) -> None:
        path = self.conversation.save(_path_argument("/save", arg))
        self._note(f"saved {len(self.conversation.messages)} messages to {path}")

    def _load(self, arg: str) -> None:
        path = _path_argument("/load", arg)
        self.conversation.load(path)
        self._note(f"loaded {len(self.conversation.messages)} messages from {path}")

    def _reset(self, _: str) -> None:
        self.conversation.reset()
        self._note("conversation reset")

    def _stats(self, _: str) -> None:
        print(self.conversation.stats(), file=self.out, flush=True)
        recorded = self.last_reply_stats
        if recorded is not None and recorded.calls and recorded.names:
            print(part_stats_line(recorded), file=self.out, flush=True)

    def _help(self, _: str) -> None:
        print(HELP, file=self.out, flush=True)

    def _note(self, text: str) -> None:
        print(text, file=self.err, flush=True)


def part_stats_line(stats: InferenceStats) -> str:
    """ "last reply, N tokens: name mean, ..." over the tokens of the last reply (lists for per-expert values)."""
    shown = []
    for name, mean in stats.summary().items():
        value = "[" + ", ".join(f"{v:.3g}" for v in mean) + "]" if isinstance(mean, list) else f"{mean:.4g}"
        shown.append(f"{name} {value}")
    return f"last reply, {len(stats.calls)} tokens: " + ", ".join(shown)


def _path_argument(command: str, arg: str) -> Path:
    if not arg:
        raise InputError(f"usage: {command} FILE")
    return Path(arg).expanduser()
