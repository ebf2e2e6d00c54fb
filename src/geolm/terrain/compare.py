"""`compare()`: align two models' representations of a shared vocabulary with orthogonal Procrustes.

Words come from model A's vocabulary (whole-word alphabetic tokens, seeded sample) and are spelled by each
model's own tokenizer (mean-pooled when several tokens). Without tokenizers on both sides, rows are paired by
token id, which is only meaningful for models that share a vocabulary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from transformers import PreTrainedModel

from geolm.errors import InputError
from geolm.terrain.alignment import linear_cka, procrustes_alignment
from geolm.terrain.analyze import versions
from geolm.terrain.loading import LoadedModel, resolve
from geolm.terrain.report import TerrainReport
from geolm.terrain.represent import contextual_vectors, pooled_rows
from geolm.terrain.sampling import eligible_rows, word_token_ids

REPRESENTATIONS = ("embedding", "hidden")
_WORD_PREFIXES = ("▁", "Ġ")


def vocabulary_words(loaded: LoadedModel) -> list[str]:
    """Whole-word alphabetic tokens of a model's vocabulary, prefix markers stripped, lower-cased, unique."""
    weight = loaded.model.get_input_embeddings().weight.detach().float().cpu().numpy()
    ids = eligible_rows(weight, loaded.tokenizer, loaded.config).ids
    words = []
    for token in loaded.tokenizer.convert_ids_to_tokens([int(i) for i in ids]):
        word = token.lstrip("".join(_WORD_PREFIXES))
        if len(word) >= 2 and word.isalpha() and word.isascii() and not token.startswith("##"):
            words.append(word.lower())
    return sorted(set(words))


def word_vectors(loaded: LoadedModel, words: list[str], representation: str) -> tuple[np.ndarray, int]:
    """One vector per word and how many words needed several tokens."""
    spelled = word_token_ids(loaded.tokenizer, words)
    multi = sum(len(ids) > 1 for _, ids in spelled)
    if representation == "hidden":
        return contextual_vectors(loaded, [text for text, _ in spelled]), multi
    weight = loaded.model.get_input_embeddings().weight.detach().double().cpu().numpy()
    return pooled_rows(weight, [ids for _, ids in spelled]), multi


def paired_rows(a: LoadedModel, b: LoadedModel, representation: str, max_words: int, rng: np.random.Generator):
    """(rows of A, rows of B, description of the pairing)."""
    if a.tokenizer is None and b.tokenizer is None:
        if representation != "embedding":
            raise InputError("comparing models without tokenizers supports only representation='embedding'")
        wa = a.model.get_input_embeddings().weight.detach().double().cpu().numpy()
        wb = b.model.get_input_embeddings().weight.detach().double().cpu().numpy()
        shared = np.intersect1d(eligible_rows(wa, None, a.config).ids, eligible_rows(wb, None, b.config).ids)
        ids = np.sort(rng.choice(shared, size=min(max_words, shared.size), replace=False))
        return wa[ids], wb[ids], {"pairing": "token ids (no tokenizers)", "pairs": int(ids.size)}
    if a.tokenizer is None or b.tokenizer is None:
        raise InputError(
            f"compare needs a tokenizer for both models or for neither (A: {a.tokenizer_note}; B: {b.tokenizer_note})"
        )
    words = [w for w in vocabulary_words(a) if w]
    if len(words) > max_words:
        words = sorted(rng.choice(words, size=max_words, replace=False).tolist())
    rows_a, multi_a = word_vectors(a, words, representation)
    rows_b, multi_b = word_vectors(b, words, representation)
    return (
        rows_a,
        rows_b,
        {"pairing": "shared words", "pairs": len(words), "multi_token_a": multi_a, "multi_token_b": multi_b},
    )


def compare(
    model_a: str | Path | PreTrainedModel | LoadedModel,
    model_b: str | Path | PreTrainedModel | LoadedModel,
    *,
    representation: str = "embedding",
    seed: int = 0,
    width: str = "pca",
    train_fraction: float = 0.8,
    max_words: int = 5000,
    out_dir: str | Path | None = None,
) -> TerrainReport:
    """Procrustes alignment of A onto B scored on held-out words, next to its nulls, plus linear CKA."""
    if representation not in REPRESENTATIONS:
        raise InputError(f"representation must be one of {', '.join(REPRESENTATIONS)}, got {representation!r}")
    start = time.perf_counter()
    a, b = resolve(model_a), resolve(model_b)
    rng = np.random.default_rng([seed, 0xA11])
    rows_a, rows_b, pairing = paired_rows(a, b, representation, max_words, rng)
    try:
        alignment = procrustes_alignment(rows_a, rows_b, seed=seed, train_fraction=train_fraction, width=width)
    except ValueError as err:
        raise InputError(f"cannot align {a.source} with {b.source}: {err}") from None
    shuffled = rows_b[rng.permutation(rows_b.shape[0])]
    cka = pd.DataFrame(
        [
            {"pairing": "true", "linear_cka": linear_cka(rows_a, rows_b), "status": "ok"},
            {"pairing": "null_shuffled_rows", "linear_cka": linear_cka(rows_a, shuffled), "status": "ok"},
        ]
    )
    fitted = alignment[(alignment["map"] == "procrustes") & (alignment["split"] == "test")].iloc[0]
    summary: dict[str, Any] = {
        "model": f"{a.source} vs {b.source}",
        "model_a": a.source,
        "model_b": b.source,
        "representation": representation,
        "seed": seed,
        **pairing,
        "widths": [rows_a.shape[1], rows_b.shape[1]],
        "headlines": {
            "compare": {
                "test_mean_cosine": fitted["mean_cosine"],
                "test_top1": fitted["top1"],
                "linear_cka": cka["linear_cka"].iloc[0],
            }
        },
        "elapsed_s": round(time.perf_counter() - start, 2),
        "versions": versions(),
    }
    report = TerrainReport(frames={"alignment": alignment, "cka": cka}, summary=summary, title="Model alignment")
    if out_dir is not None:
        report.save(out_dir)
    return report
