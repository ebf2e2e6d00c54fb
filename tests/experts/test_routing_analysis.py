"""`geolm analyze experts`: token kinds from WordNet, routing shares by geometry, and the two summary figures."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import torch
import typer
from typer.testing import CliRunner

from geolm import GeoConfig, GeoForCausalLM
from geolm.data.corpus import corpus_texts
from geolm.data.lexicon import load_lexicon
from geolm.data.tokenizer import train_tokenizer
from geolm.experts.analysis import specialisation, token_kind, word_kinds
from geolm.experts.cli import experts


@pytest.fixture(scope="module")
def words() -> dict:
    return word_kinds(load_lexicon())


def test_tokens_get_their_kind_from_wordnet(words) -> None:
    assert token_kind(" dog", words) == ("noun", "noun.animal")
    assert token_kind("run", words)[0] == "verb"
    assert token_kind(" 42", words) == ("number", "number")
    assert token_kind(",", words) == ("punctuation", "punctuation")
    assert token_kind("zzq", words) == ("other", "word piece")


def table_of(shares: list[list[float]], tokens: list[int]) -> pd.DataFrame:
    rows = [
        {"level": "category", "kind": f"k{i}", "tokens": n, "ball": s[0], "sphere": s[1]}
        for i, (s, n) in enumerate(zip(shares, tokens, strict=True))
    ]
    return pd.DataFrame(rows)


def test_specialisation_tells_a_deciding_kind_from_an_ignored_one() -> None:
    decided = specialisation(table_of([[1.0, 0.0], [0.0, 1.0]], [50, 50]))
    assert decided["kind_explains"] == pytest.approx(1.0)
    assert decided["geometry_entropy_bits"] == pytest.approx(1.0)
    ignored = specialisation(table_of([[0.5, 0.5], [0.5, 0.5]], [10, 90]))
    assert ignored["kind_explains"] == pytest.approx(0.0, abs=1e-12)
    collapsed = specialisation(table_of([[1.0, 0.0], [1.0, 0.0]], [10, 90]))
    assert collapsed["geometry_entropy_bits"] == pytest.approx(0.0) and collapsed["share_ball"] == pytest.approx(1.0)


def test_the_command_routes_held_out_text_and_writes_its_tables(tmp_path) -> None:
    tokenizer = train_tokenizer(itertools.islice(corpus_texts("train"), 3000), 400)
    config = GeoConfig.from_preset("mgm-tiny", vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = GeoForCausalLM(config)
    for layer in model.model.layers:
        torch.nn.init.normal_(layer.mlp.gate.weight, std=1.0)  # a decisive router
    model.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    app = typer.Typer()
    app.command()(experts)
    out = tmp_path / "routing"
    result = CliRunner().invoke(app, [str(tmp_path / "ckpt"), "--out", str(out), "--blocks", "4", "--block-size", "64"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "routing.csv")
    geometries = ["euclidean", "hyperbolic", "spherical", "lorentz", "simplex", "complex", "product"]
    assert list(table.columns) == ["level", "kind", "tokens", *geometries]
    np.testing.assert_allclose(table[geometries].sum(1), 1.0, atol=1e-5)
    assert table.loc[table["level"] == "pos", "tokens"].sum() == 4 * 64
    assert {"noun", "punctuation"} <= set(table.loc[table["level"] == "pos", "kind"])
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["category"]["geometry_entropy_bits"] <= summary["category"]["max_entropy_bits"]
    assert (out / "routing-category.png").stat().st_size > 0 and (out / "routing-pos.png").stat().st_size > 0
    assert "kind explains" in result.output


def test_a_model_without_a_mixture_is_one_line(tmp_path) -> None:
    tokenizer = train_tokenizer(itertools.islice(corpus_texts("train"), 500), 300)
    GeoForCausalLM(GeoConfig.from_preset("llama-tiny", vocab_size=len(tokenizer))).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    app = typer.Typer()
    app.command()(experts)
    result = CliRunner().invoke(
        app, [str(tmp_path), "--blocks", "1", "--block-size", "32", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert "no mixture-of-experts layer" in str(result.exception)
