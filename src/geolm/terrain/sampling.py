"""Which embedding rows count as real tokens, and seeded samples drawn from all of them.

Statistics of an embedding matrix are only about the vocabulary if rows that are not ordinary tokens are left
out: special tokens, byte-fallback and placeholder tokens ([unused7], <0x0A>, reserved ids), rows past the end
of the tokenizer (padding to a round vocab size), all-zero rows and exact duplicates (untrained rows often
share one initial value). Every exclusion is counted so the report says what the sample was drawn from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_PLACEHOLDER = re.compile(
    r"^\[unused\d+\]$|^<unused\d+>$|^<0x[0-9a-f]{2}>$|reserved|^<extra_id_\d+>$|^<\|[^|]*\|>$",
    re.IGNORECASE,
)
_CONFIG_SPECIAL_KEYS = (
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "sep_token_id",
    "cls_token_id",
    "unk_token_id",
    "mask_token_id",
    "decoder_start_token_id",
)


@dataclass(frozen=True)
class EligibleRows:
    """Row ids that are ordinary tokens, and how many rows each rule excluded."""

    ids: np.ndarray
    rows: int
    special: int
    placeholder: int
    unmapped: int
    zero: int
    duplicate: int

    def counts(self) -> dict[str, int]:
        """The counts for the report (without the id array)."""
        data = asdict(self)
        data.pop("ids")
        data["eligible"] = int(self.ids.size)
        return data


def special_ids(tokenizer: Any | None, config: Any) -> set[int]:
    """Ids of special tokens known to the tokenizer (special added tokens too) or named in the config."""
    ids: set[int] = set()
    for key in _CONFIG_SPECIAL_KEYS:
        value = getattr(config, key, None)
        values = value if isinstance(value, (list, tuple)) else [value]
        ids.update(int(v) for v in values if isinstance(v, int))
    if tokenizer is not None:
        ids.update(int(i) for i in tokenizer.all_special_ids if i is not None)
        for idx, token in getattr(tokenizer, "added_tokens_decoder", {}).items():
            if getattr(token, "special", False):
                ids.add(int(idx))
    return ids


def placeholder_ids(tokenizer: Any | None) -> set[int]:
    """Ids whose token string is a byte-fallback, unused, reserved or sentinel placeholder."""
    if tokenizer is None:
        return set()
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return {i for i, tok in enumerate(tokens) if tok is not None and _PLACEHOLDER.search(tok)}


def eligible_rows(weight: np.ndarray, tokenizer: Any | None, config: Any) -> EligibleRows:
    """Apply the exclusion rules to an embedding matrix of shape (rows, dim)."""
    rows = weight.shape[0]
    keep = np.ones(rows, dtype=bool)
    special = [i for i in special_ids(tokenizer, config) if 0 <= i < rows]
    keep[special] = False
    placeholder = [i for i in placeholder_ids(tokenizer) if i < rows and keep[i]]
    keep[placeholder] = False
    unmapped = 0
    if tokenizer is not None and len(tokenizer) < rows:
        unmapped = int(keep[len(tokenizer) :].sum())
        keep[len(tokenizer) :] = False
    zero_mask = keep & ~np.any(weight != 0, axis=1)
    keep &= ~zero_mask
    ids = np.flatnonzero(keep)
    block = np.ascontiguousarray(weight[ids])
    keys = block.view(np.dtype((np.void, block.dtype.itemsize * block.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)
    unique_ids = ids[np.sort(first)]
    return EligibleRows(
        ids=unique_ids,
        rows=rows,
        special=len(special),
        placeholder=len(placeholder),
        unmapped=unmapped,
        zero=int(zero_mask.sum()),
        duplicate=int(ids.size - unique_ids.size),
    )


def sample_ids(ids: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to n distinct ids drawn uniformly from `ids` (the whole eligible vocabulary, not a prefix of it)."""
    return rng.choice(ids, size=min(n, ids.size), replace=False)


def word_token_ids(tokenizer: Any, words: Sequence[str]) -> list[tuple[str, list[int]]]:
    """For each word, the text form and token ids that spell it in the fewest tokens.

    Byte-level BPE vocabularies store word-initial tokens with a leading space, sentencepiece and WordPiece
    ones do not, so both "word" and " word" are tried.
    """
    plain = tokenizer(list(words), add_special_tokens=False)["input_ids"]
    spaced = tokenizer([" " + w for w in words], add_special_tokens=False)["input_ids"]
    out = []
    for word, a, b in zip(words, plain, spaced, strict=True):
        out.append((" " + word, list(b)) if 0 < len(b) < len(a) else (word, list(a)))
    return out
