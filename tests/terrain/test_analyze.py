import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import T5Config, T5ForConditionalGeneration

from geolm.errors import CheckpointError, ConfigError
from geolm.terrain import TerrainOptions, analyze, describe

SMALL = TerrainOptions(
    n_cosine=400,
    n_simplices=400,
    n_twonn=400,
    id_sizes=(200, 400),
    n_id_seeds=2,
    max_number=30,
    n_wordnet_items=200,
    n_wordnet_pairs=2000,
    n_stability_seeds=4,
    n_bootstrap=200,
)


@pytest.fixture(scope="module")
def minilm_report(minilm, taxonomy_records, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "minilm"
    return analyze(minilm, seed=3, out_dir=out, taxonomy=taxonomy_records, options=SMALL, progress=False)


def test_minilm_frames_have_status_columns_and_real_numbers(minilm_report):
    frames = minilm_report.frames
    for name in (
        "embedding",
        "digits",
        "categories",
        "hidden",
        "weights",
        "qk_heads",
        "mlp",
        "cross_layer",
        "norm_scales",
        "position_bias",
        "wordnet",
        "wordnet_bands",
        "wordnet_chains",
    ):
        assert "status" in frames[name], name
    emb = frames["embedding"].iloc[0]
    assert emb["status"] == "ok" and emb["rows"] == 30522 and emb["dim"] == 384
    assert emb["eligible"] + emb["special"] + emb["placeholder"] + emb["duplicate"] + emb["zero"] == 30522
    assert 0 < emb["participation_ratio"] <= 384
    assert emb["dims_80"] < emb["dims_90"] < emb["dims_95"] < emb["dims_99"] <= 384
    assert emb["simplex_invalid"] + len(frames["simplex_volumes"].query("source == 'embedding'")) == 400
    assert frames["digits"].iloc[0]["pearson_distance_cos"] < 0  # nearby numbers are more similar
    assert frames["hidden"]["layer"].tolist() == list(range(7))
    weights = frames["weights"]
    assert len(weights) == 40 and (weights["status"] == "ok").sum() == 39
    token_types = weights.set_index("name").loc["embeddings.token_type_embeddings.weight"]
    assert token_types["status"] == (  # two rows: nothing to fit, and the row says why
        "not applicable: alpha, not fitted: 2 eigenvalue(s) above 1e-05, the fit needs 8"
    )
    assert token_types["stable_rank"] > 0  # the rest of the row is measured
    assert set(weights["kind"]) >= {"q", "k", "v", "o", "up", "down", "embedding"}
    assert len(frames["qk_heads"]) == 6 * 12
    assert frames["position_bias"]["status"].iloc[0] == "not applicable: model has no relative position bias"
    assert minilm_report.summary["batteries"]["weights"]["status"] == "ok"  # BERT lacks it; nothing was skipped
    wn = frames["wordnet"].set_index("representation")
    assert set(wn.index) == {"static", "contextual"}
    assert wn.loc["static", "used"] > 30 and wn.loc["static", "seeds"] == 4
    assert wn.loc["static", "examined"] == wn.loc["static", "lemmas"] == 40
    assert (
        wn.loc["static", "pearson_ci_low"]
        <= wn.loc["static", "pearson_seed_mean"]
        <= wn.loc["static", "pearson_ci_high"]
    )
    cats = frames["categories"].set_index("category")
    assert set(cats["source"]) == {"wordnet-lexnames"}  # the taxonomy's lexnames replace the built-in lists
    assert cats.loc["verb.motion", "status"] == "skipped: only 1 words tokenise"
    assert cats.loc["noun.animal", "lift"] > 0
    status = minilm_report.summary["batteries"]["embedding"]["status"]
    assert status == "partial (1 of 1625 rows not ok: skipped: only 1 words tokenise)"


def test_minilm_report_files(minilm_report):
    out = minilm_report.out_dir
    for name in minilm_report.frames:
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.json").is_file()
    csv = pd.read_csv(out / "weights.csv")
    assert len(csv) == len(minilm_report["weights"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and "torch" in summary["versions"] and summary["kind"] == "encoder"
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"embedding_spectrum.png", "simplex_volumes.png", "hidden.png", "weight_ranks.png"} <= figures
    assert "## weights" in (out / "report.md").read_text()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left behind


def test_same_seed_same_numbers(minilm):
    run = lambda s: analyze(minilm, batteries=["embedding"], seed=s, options=SMALL, progress=False)["embedding"]  # noqa: E731
    a, b, c = run(1), run(1), run(2)
    pd.testing.assert_frame_equal(a, b)
    assert a["simplex_cv"].iloc[0] != c["simplex_cv"].iloc[0]


def test_geolm_checkpoint_without_tokenizer(geolm_dir):
    report = analyze(geolm_dir, options=SMALL, progress=False)
    frames = report.frames
    assert report.summary["kind"] == "decoder"
    assert frames["digits"]["status"].iloc[0] == "skipped: no tokenizer"
    assert frames["categories"]["status"].iloc[0] == "skipped: no tokenizer"
    assert frames["wordnet"]["status"].iloc[0] == "skipped: no tokenizer"
    assert frames["embedding"]["special"].iloc[0] == 3  # pad, bos, eos from the config
    hidden = frames["hidden"]
    assert hidden["input"].iloc[0] == "random token ids (no tokenizer)" and hidden["layer"].max() == 2
    qk = frames["qk_heads"]
    assert len(qk) == 2 * 4 and qk["kv_head"].tolist()[:4] == [0, 0, 1, 1]  # GQA: 4 query heads on 2 kv heads
    assert set(frames["mlp"]["gated"]) == {True}
    assert {"self.q", "self.k", "gate", "up", "down"} <= set(frames["cross_layer"]["group"])


def test_layer_selection_by_index_and_glob(geolm_dir):
    by_index = analyze(geolm_dir, batteries=["weights", "hidden"], layers="1", progress=False)
    layers = by_index["weights"]["layer"].dropna().unique().tolist()
    assert layers == [1] and "model.embed_tokens.weight" in by_index["weights"]["name"].tolist()
    assert by_index["hidden"]["layer"].tolist() == [1]
    by_glob = analyze(geolm_dir, batteries=["weights"], layers="*q_proj*,*k_proj*", progress=False)
    assert set(by_glob["weights"]["kind"]) == {"q", "k"}
    assert by_glob["mlp"]["status"].iloc[0].startswith("skipped")


def test_encoder_decoder_hidden_states_and_position_bias():
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=64,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    report = analyze(model, batteries=["hidden", "weights"], options=SMALL, progress=False)
    hidden = report["hidden"]
    assert set(hidden["stack"]) == {"encoder", "decoder"} and len(hidden) == 6
    bias = report["position_bias"]
    assert (bias["status"] == "ok").all() and len(bias) == 2 * 4  # encoder and decoder, 4 heads each
    assert {"encoder.self.q", "decoder.cross.q"} <= set(report["weights"]["group"])


def test_describe_is_a_dry_run(minilm_dir):
    plan = describe(minilm_dir, layers="0-1")
    assert plan.kind == "encoder" and plan.tokenizer
    plans = dict(zip(plan.batteries["battery"], plan.batteries["plan"], strict=True))
    assert plans == {"embedding": "runs", "hidden": "runs", "weights": "runs", "wordnet": "skipped: no taxonomy"}
    layers = plan.tensors["layer"].dropna().astype(int)
    assert set(layers) == {0, 1}
    assert "embeddings.word_embeddings.weight" in plan.tensors["name"].tolist()
    assert not plan.tensors["name"].str.endswith("bias").any()
    assert "30522x384" in plan.to_markdown()


def test_user_errors(tmp_path):
    with pytest.raises(CheckpointError, match="model directory not found"):
        analyze(tmp_path / "missing")
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        describe(tmp_path)
    with pytest.raises(ConfigError, match="unknown battery 'nope'"):
        analyze(tmp_path, batteries=["nope"])
    with pytest.raises(ConfigError, match="runs backwards"):
        analyze(tmp_path, layers="3-1")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"no \*\.safetensors"):
        analyze(tmp_path)


def test_nan_free_headlines(minilm_report):
    head = minilm_report.summary["headlines"]["embedding"]
    assert all(np.isfinite(v) for v in head.values() if isinstance(v, float))


def test_report_explains_its_columns_and_transposes_wide_single_rows(minilm_report) -> None:
    text = (minilm_report.out_dir / "report.md").read_text(encoding="utf-8")
    for column in ("alpha_xmin", "frac_lt_0.1rms", "pos_eig_mass", "cv_over_gauss_cv", "sigma_max"):
        assert f"- `{column}`: " in text, column
    assert "σ_max²" in text  # sigma_max is told apart from WeightWatcher's spectral_norm
    embedding = text.split("## embedding\n", 1)[1].split("\n## ", 1)[0]
    assert embedding.lstrip().startswith("| column | value |") and "| twonn_dim |" in embedding
    assert "![intrinsic_dimension](figures/intrinsic_dimension.png)" in text


def test_intrinsic_dimension_is_reported_with_its_sample_size_and_spread(minilm_report) -> None:
    curve = minilm_report.frames["intrinsic_dimension"]
    assert sorted(set(curve["sample"])) == [200, 400] and set(curve["estimator"]) == {"twonn", "mle"}
    emb = minilm_report.frames["embedding"].iloc[0]
    headline = curve[(curve["sample"] == 400) & (curve["estimator"] == "twonn")].iloc[0]
    assert emb["twonn_sample"] == 400 and emb["twonn_dim"] == headline["mean"] and emb["twonn_dim_std"] > 0
    summary = minilm_report.summary["headlines"]["embedding"]
    assert {"twonn_sample", "twonn_dim", "twonn_dim_std", "mle_dim"} <= set(summary)
