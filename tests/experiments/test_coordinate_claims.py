"""The claims experiments on tiny settings: they run, return the measures, and the numbers hang together."""

from __future__ import annotations

import math

import pytest
import torch

from geolm.experiments.coordinate_claims import ClaimSettings, logistic_accuracy, run_claims, summary

TINY = ClaimSettings(steps=3, batch_size=2, documents=40, heldout_documents=12, vocab_size=300)


def test_logistic_accuracy_separates_separable_classes_and_not_noise() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 2
    separable = torch.randn(200, 8, generator=generator, dtype=torch.float64) + 3.0 * labels[:, None]
    assert logistic_accuracy(separable, labels, seed=0) == 1.0
    noise = torch.randn(200, 8, generator=generator, dtype=torch.float64)
    assert 0.3 < logistic_accuracy(noise, labels, seed=0) < 0.7


def test_claims_run_on_tiny_settings_and_return_numbers() -> None:
    frame = run_claims(TINY, seeds=1)
    assert set(frame["model"]) == {"coordinate", "baseline"}
    assert set(frame["stage"]) == {"fresh", "A then B", "3-phase curriculum"}
    assert frame["value"].map(math.isfinite).all()
    values = {(r.model, r.stage, r.measure): r.value for r in frame.itertuples()}
    for model in ("coordinate", "baseline"):
        before, after = (values[(model, "A then B", f"A loss after {task}")] for task in "AB")
        forgetting = values[(model, "A then B", "A forgetting (after B - after A)")]
        assert forgetting == pytest.approx(after - before)
        assert 0 < before < math.log(300) + 1
    routing = frame[frame["measure"].str.startswith("routing")]
    assert len(routing) == 3 * 4  # three routing sets: fresh (theta_ctx and embedding), A then B, curriculum
    assert routing["value"].between(0, 1).all()
    params = frame.groupby("model")["parameters"].first()
    assert params["coordinate"] > params["baseline"]
    assert set(summary(frame)["count"]) == {1}
