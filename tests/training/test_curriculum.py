import json

import pytest

from geolm.errors import ConfigError
from geolm.training import Curriculum, Phase

PARAMS = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.norm.weight"]


def three_phases() -> Curriculum:
    return Curriculum.from_dict(
        {
            "groups": {"embeddings": ["*embed_tokens*"]},
            "phases": [
                {"name": "a", "length": 0.2, "freeze": ["embeddings"]},
                {"name": "b", "length": 0.4, "lr_mult": {"embeddings": 3.0}},
                {"name": "c", "length": 0.4, "freeze": ["*.norm.*"]},
            ],
        }
    )


def test_phase_boundaries_follow_the_lengths():
    cur = three_phases()
    assert cur.ends(100) == [20, 60, 100]
    assert [cur.phase_index(s, 100) for s in (0, 19, 20, 59, 60, 99)] == [0, 0, 1, 1, 2, 2]


def test_groups_and_freezing_by_group_or_name():
    cur = three_phases()
    assert cur.group_of("model.embed_tokens.weight") == "embeddings"
    assert cur.group_of("model.norm.weight") == "default"
    a, b, c = cur.phases
    assert cur.is_frozen(a, "model.embed_tokens.weight") and not cur.is_frozen(a, "model.norm.weight")
    assert not cur.is_frozen(b, "model.embed_tokens.weight")
    assert cur.is_frozen(c, "model.norm.weight")
    cur.validate(["train"], PARAMS)


def test_round_trips_through_a_json_file(tmp_path):
    path = tmp_path / "cur.json"
    path.write_text(json.dumps(three_phases().to_dict()))
    assert Curriculum.from_file(path) == three_phases()


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ([Phase("a", length=0.5)], "sum to 1"),
        ([Phase("a", losses={"nope": 1.0})], "unknown loss 'nope'; registered or from the model's parts: .*lm"),
        ([Phase("a", losses={"lmm": 1.0})], "unknown loss 'lmm' \\(did you mean 'lm'\\?\\)"),
        ([Phase("a", mixture={"web": 1.0})], "unknown data source 'web'; available: train"),
        ([Phase("a", lr_mult={"coords": 2.0})], "unknown group 'coords'"),
        ([Phase("a", freeze=["*.mlp.*"])], r"freeze pattern '\*.mlp.\*' matches no parameter"),
    ],
)
def test_validate_names_the_phase_and_the_bad_name(phases, message):
    with pytest.raises(ConfigError, match=message):
        Curriculum(phases).validate(["train"], PARAMS)


def test_unknown_phase_key_is_refused():
    with pytest.raises(ConfigError, match=r"phase 0: unknown key 'los' \(did you mean 'losses'\?\)"):
        Curriculum.from_dict({"phases": [{"name": "a", "los": {"lm": 1}}]})
