"""The sampling settings of generation, apart from the generation code so that the CLI can show their defaults
without importing torch or transformers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from geolm.errors import InputError

if TYPE_CHECKING:
    from transformers import GenerationConfig, PreTrainedTokenizerBase


@dataclass(frozen=True)
class SamplingOptions:
    """How to pick each new token; `greedy` ignores temperature, top-k and top-p."""

    max_new_tokens: int = 128
    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    stop: tuple[str, ...] = ()
    greedy: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = (
            ("max_new_tokens", self.max_new_tokens >= 1, "at least 1"),
            ("temperature", self.temperature > 0, "positive"),
            ("top_k", self.top_k >= 0, "0 (off) or more"),
            ("top_p", 0 < self.top_p <= 1, "in (0, 1]"),
            ("repetition_penalty", self.repetition_penalty > 0, "positive (1.0 is off)"),
            ("stop", all(self.stop), "non-empty strings"),
        )
        for name, ok, allowed in checks:
            if not ok:
                raise InputError(f"{name} must be {allowed}, got {getattr(self, name)!r}")

    def generation_config(
        self, tokenizer: PreTrainedTokenizerBase, extra_eos_ids: Sequence[int] = ()
    ) -> GenerationConfig:
        """The HF config: the tokenizer's end-of-sequence plus `extra_eos_ids` end generation."""
        from transformers import GenerationConfig

        eos = list(dict.fromkeys(i for i in (tokenizer.eos_token_id, *extra_eos_ids) if i is not None))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos[0] if eos else None)
        sampling = (
            {"do_sample": False}
            if self.greedy
            else {
                "do_sample": True,
                "temperature": self.temperature,
                "top_k": self.top_k,
                "top_p": self.top_p,
            }
        )
        return GenerationConfig(
            max_new_tokens=self.max_new_tokens,
            repetition_penalty=self.repetition_penalty,
            stop_strings=list(self.stop) or None,
            eos_token_id=eos or None,
            pad_token_id=pad,
            **sampling,
        )
