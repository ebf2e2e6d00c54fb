import numpy as np
from transformers import PretrainedConfig

from geolm.terrain.sampling import eligible_rows, sample_ids, word_token_ids


def test_special_placeholder_zero_and_duplicate_rows_are_excluded_and_counted():
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((50, 8)).astype(np.float32)
    weight[10] = 0.0
    weight[20] = weight[21] = weight[22] = weight[30]
    config = PretrainedConfig(pad_token_id=0, bos_token_id=1, eos_token_id=2)
    rows = eligible_rows(weight, None, config)
    assert rows.counts() == {
        "rows": 50,
        "special": 3,
        "placeholder": 0,
        "unmapped": 0,
        "zero": 1,
        "duplicate": 3,
        "eligible": 43,
    }
    assert not {0, 1, 2, 10} & set(rows.ids.tolist())
    assert len({tuple(weight[i]) for i in rows.ids}) == rows.ids.size


def test_minilm_sampling_skips_special_and_unused_tokens_and_is_seeded(minilm):
    weight = minilm.model.get_input_embeddings().weight.detach().numpy()
    rows = eligible_rows(weight, minilm.tokenizer, minilm.config)
    tokens = minilm.tokenizer.convert_ids_to_tokens(rows.ids.tolist())
    assert rows.special == 5  # [PAD] [UNK] [CLS] [SEP] [MASK]
    assert rows.placeholder >= 990  # [unused0] ... [unused993]
    assert not any(t.startswith("[") and t.endswith("]") for t in tokens)
    a = sample_ids(rows.ids, 2000, np.random.default_rng(7))
    b = sample_ids(rows.ids, 2000, np.random.default_rng(7))
    c = sample_ids(rows.ids, 2000, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(set(a.tolist())) == 2000
    assert a.max() > 20000  # drawn from the whole vocabulary, not a prefix of it


def test_word_token_ids_prefers_the_shortest_spelling(minilm):
    spelled = dict(word_token_ids(minilm.tokenizer, ["dog", "screwdriver"]))
    assert len(spelled["dog"]) == 1
    assert minilm.tokenizer.convert_ids_to_tokens(spelled["dog"]) == ["dog"]
