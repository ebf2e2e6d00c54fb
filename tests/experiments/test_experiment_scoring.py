"""Scores: accuracy, conlleval-style entity F1, perplexity and the sign of delta."""

from __future__ import annotations

import math

import pytest

from geolm.experiments.scoring import accuracy, delta, entity_f1, perplexity, spans


def test_accuracy_counts_matches():
    assert accuracy([0, 1, 2, 1], [0, 1, 1, 1]) == 0.75
    with pytest.raises(ValueError):
        accuracy([], [])


def test_spans_read_bio_and_bare_tags():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-PER", "X"]
    assert spans(tags) == {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("PER", 5, 6), ("X", 6, 7)}


def test_entity_f1_needs_exact_spans():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    predicted = [["B-PER", "O", "O", "B-LOC"], ["O", "B-ORG"]]
    # gold 3 entities, predicted 3, 2 exact matches (the cut PER span is wrong): F1 = 2*2/(3+3)
    assert entity_f1(gold, predicted) == pytest.approx(2 / 3)
    assert entity_f1([["O", "O"]], [["O", "O"]]) == 1.0
    assert entity_f1([["B-X"]], [["O"]]) == 0.0


def test_perplexity_and_delta_direction():
    assert perplexity(2 * math.log(5.0), 2) == pytest.approx(5.0)
    assert delta("accuracy", 0.8, 0.7) == pytest.approx(0.1)
    assert delta("perplexity", 10.0, 12.0) == pytest.approx(2.0)  # lower perplexity is better
    assert delta("entity_f1", 0.5, 0.6) == pytest.approx(-0.1)
