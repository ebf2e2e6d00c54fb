"""The relational-claim run on a tiny geolm model and a hand-made taxonomy: items, conditions, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.data.tokenizer import train_tokenizer
from geolm.experiments.modulator_claim import ClaimSettings, measure_relational_claim
from geolm.terrain.loading import wrap_model
from geolm.terrain.modulators import select_items, shuffled_pairs
from geolm.terrain.sampling import word_token_ids


@pytest.fixture(scope="module")
def loaded(taxonomy_records):
    words = [lemma.replace("_", " ") for _, lemmas, *_ in taxonomy_records for lemma in lemmas]
    tokenizer = train_tokenizer([" ".join(words)] * 3, vocab_size=320, min_frequency=1)
    torch.manual_seed(0)
    return wrap_model(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")), tokenizer)


def test_items_follow_hypernym_chains_and_split_by_synset(loaded, taxonomy):
    items = select_items(taxonomy, loaded.tokenizer, 40, np.random.default_rng(0), heldout_fraction=0.4)
    spelled = {
        sid
        for sid, rec in taxonomy.synsets.items()
        if any(len(ids) <= 3 for _, ids in word_token_ids(loaded.tokenizer, list(rec.lemmas)))
    }
    assert len(items.synsets) == len(set(items.synsets)) and set(items.synsets) == spelled
    assert all(len(ids) <= 3 for ids in items.ids)
    heldout = set(items.side(True))
    assert heldout and not heldout & {i for pair in items.pairs for i in pair}
    for a, b in items.pairs:
        assert items.synsets[b] in taxonomy.chain(items.synsets[a], 2)
    control = shuffled_pairs(items.pairs, np.random.default_rng(1))
    assert (control[:, 0] == items.pairs[:, 0]).all()
    assert sorted(control[:, 1]) == sorted(items.pairs[:, 1]) and not (control == items.pairs).all()


def test_claim_run_scores_every_condition_and_writes_its_report(loaded, taxonomy, tmp_path):
    settings = ClaimSettings(n_items=40, heldout_fraction=0.4, steps=2, batch_size=4, n_pairs=300, n_simplices=20)
    result = measure_relational_claim(loaded, taxonomy, settings, progress=False)
    rel = result.frames["relational"]
    assert rel["condition"].tolist() == [
        c
        for c in ("base", "fixed 0.29154, untrained", "trained", "shuffled-pair control")
        for _ in ("train", "heldout")
    ]
    base = rel[rel["condition"] == "base"]
    assert (base["pearson_change_pct"] == 0).all()
    assert base["preservation"].tolist() == pytest.approx([1.0, 1.0])
    modulated = rel[rel["condition"] != "base"]
    assert (modulated["preservation"] < 1.0).all()
    assert rel["pearson"].between(-1, 1).all() and (rel["pairs"] > 0).all()
    assert result.frames["alpha"].groupby("condition").size().to_dict() == {
        "trained": 2 * 2,
        "shuffled-pair control": 2 * 2,
    }
    out = result.save(tmp_path / "claim")
    assert sorted(p.name for p in out.iterdir()) == [
        "alpha.csv",
        "alpha.png",
        "loss.csv",
        "relational.csv",
        "report.md",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_items"] + summary["heldout_items"] == summary["items"] > 20
    assert "| trained | heldout |" in (out / "report.md").read_text()
