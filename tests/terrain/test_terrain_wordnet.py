import numpy as np

from geolm.terrain import TerrainOptions
from geolm.terrain.batteries.wordnet import match_lemmas


def test_lemma_matching_counts_every_lemma(minilm, taxonomy):
    opts = TerrainOptions(n_wordnet_items=1000)
    matched = match_lemmas(taxonomy, minilm.tokenizer, opts, np.random.default_rng(0))
    c = matched.counts
    assert c["lemmas"] == c["examined"] == 40
    assert c["used"] == c["single_token"] + c["multi_token"] == len(matched.synsets)
    assert c["used"] + c["unknown"] + c["too_long"] <= c["examined"]  # the rest repeat a token sequence
    assert "domestic dog" in matched.texts and c["multi_token"] >= 1
    assert len({tuple(ids) for ids in matched.ids}) == len(matched.ids)


def test_lemma_matching_limits_and_is_seeded(minilm, taxonomy):
    single = match_lemmas(taxonomy, minilm.tokenizer, TerrainOptions(wordnet_max_tokens=1), np.random.default_rng(0))
    assert single.counts["multi_token"] == 0 and single.counts["too_long"] >= 1
    few = TerrainOptions(n_wordnet_items=5)
    a = match_lemmas(taxonomy, minilm.tokenizer, few, np.random.default_rng(1))
    b = match_lemmas(taxonomy, minilm.tokenizer, few, np.random.default_rng(1))
    assert a.counts["used"] == 5 and a.texts == b.texts
