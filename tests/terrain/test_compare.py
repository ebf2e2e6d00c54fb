import numpy as np
import pytest

from geolm.errors import InputError
from geolm.terrain import compare


def test_compare_a_model_with_itself_by_token_id(geolm_dir, tmp_path):
    report = compare(geolm_dir, geolm_dir, seed=0, out_dir=tmp_path / "cmp")
    frame = report["alignment"].set_index(["map", "split"])
    assert report.summary["pairing"] == "token ids (no tokenizers)"
    assert frame.loc[("procrustes", "test"), "mean_cosine"] == pytest.approx(1.0)
    assert frame.loc[("procrustes", "test"), "top1"] == 1.0
    assert frame.loc[("null_random_orthogonal", "test"), "mean_cosine"] < 0.3
    assert frame.loc[("null_shuffled_pairs", "test"), "top1"] < 0.2
    cka = report["cka"].set_index("pairing")["linear_cka"]
    assert cka["true"] == pytest.approx(1.0) and cka["null_shuffled_rows"] < 0.5
    assert (tmp_path / "cmp" / "alignment.csv").is_file()


def test_compare_minilm_with_geolm_needs_tokenizers_on_both_sides(minilm, geolm_dir):
    with pytest.raises(InputError, match="tokenizer for both models or for neither"):
        compare(minilm, geolm_dir)


def test_compare_minilm_with_itself_on_words(minilm):
    report = compare(minilm, minilm, max_words=600, representation="embedding")
    fitted = report["alignment"].set_index(["map", "split"]).loc[("procrustes", "test")]
    assert report.summary["pairing"] == "shared words" and report.summary["pairs"] == 600
    assert fitted["top1"] == 1.0 and np.isclose(fitted["mean_cosine"], 1.0)
