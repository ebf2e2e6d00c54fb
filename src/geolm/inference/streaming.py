"""Print a continuation as it is generated, showing exactly the text `generate_text` returns.

HF stops after the token that completes a stop string, so the raw stream would show the stop string (and
whatever else that token holds). This streamer holds back any tail that could still become a stop string.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from transformers import PreTrainedTokenizerBase, TextStreamer


class StopTrimmingStreamer(TextStreamer):
    """`TextStreamer` (prompt and special tokens hidden) that never prints a stop string or what follows."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str] = (), out: TextIO | None = None):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.stop = tuple(stop)
        self.out = out
        self._held = ""
        self._stopped = False

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        out = self.out or sys.stdout  # looked up per call so redirected stdout (tests, pipes) is honoured
        if not self._stopped:
            held = self._held + text
            cuts = [i for i in (held.find(s) for s in self.stop) if i >= 0]
            if cuts:
                shown, held, self._stopped = held[: min(cuts)], "", True
            elif stream_end:
                shown, held = held, ""
            else:
                keep = _partial_stop_length(held, self.stop)
                shown, held = held[: len(held) - keep], held[len(held) - keep :]
            out.write(shown)
            self._held = held
        if stream_end:
            out.write("\n")
            self._held, self._stopped = "", False
        out.flush()


def _partial_stop_length(text: str, stop: Sequence[str]) -> int:
    """Length of the longest end of `text` that is the beginning of some stop string."""
    longest = 0
    for s in stop:
        for k in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:k]):
                longest = k
                break
    return longest
