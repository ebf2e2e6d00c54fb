"""Scores of the suite: accuracy, entity-level F1 over BIO tags, perplexity; and which direction is better."""

from __future__ import annotations

import math
from collections.abc import Sequence

HIGHER_IS_BETTER = {"accuracy": True, "entity_f1": True, "perplexity": False}


def accuracy(gold: Sequence[int], predicted: Sequence[int]) -> float:
    if len(gold) != len(predicted) or not gold:
        raise ValueError(f"accuracy needs two equal, non-empty sequences, got {len(gold)} and {len(predicted)}")
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) entities of a tag sequence: B-T opens, I-T continues the same type (an I-T after
    anything else opens, as conlleval does), O is outside, and a bare tag T is a one-word entity."""
    found, current = set(), None
    for position, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-") if tag[:2] in ("B-", "I-") else ("", "", tag)
        continues = prefix == "I" and current is not None and current[0] == kind
        if current is not None and not continues:
            found.add((current[0], current[1], position))
            current = None
        if tag != "O" and not continues:
            current = (kind, position)
    return found


def entity_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """Micro F1 of exact entity matches over all sentences (1.0 when neither side has an entity)."""
    true = positives = relevant = 0
    for index, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        gold_spans = {(index, *s) for s in spans(g)}
        predicted_spans = {(index, *s) for s in spans(p)}
        true += len(gold_spans & predicted_spans)
        positives += len(predicted_spans)
        relevant += len(gold_spans)
    if positives == relevant == 0:
        return 1.0
    return 2 * true / (positives + relevant)


def perplexity(total_loss: float, tokens: int) -> float:
    """exp of the token-weighted mean cross-entropy."""
    return math.exp(total_loss / max(tokens, 1))


def delta(metric: str, geometric: float, standard: float) -> float:
    """Geometric minus standard, signed so that positive always means the geometric model did better."""
    difference = geometric - standard
    return difference if HIGHER_IS_BETTER[metric] else -difference
