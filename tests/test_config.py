"""GeoConfig validation, presets, registries and the parameter table."""

from __future__ import annotations

import json

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.errors import ConfigError
from geolm.nn import ATTENTION
from geolm.params import parameter_table
from geolm.presets import PRESETS


def test_unknown_key_suggests_the_closest_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'hiden_size' \(did you mean 'hidden_size'\?\)$"):
        GeoConfig(hiden_size=64)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hidden_size": 0}, "hidden_size.*positive integer"),
        ({"num_attention_heads": 4, "num_key_value_heads": 3}, "multiple of"),
        ({"attention": "hyperbolic?"}, "unknown attention part 'hyperbolic\\?'; allowed: .*gqa"),
        ({"ffn": "moe"}, "unknown ffn part"),
        ({"part_options": {"attn": {}}}, "unknown part kind"),
        ({"classifier_pooling": "max"}, "classifier_pooling"),
        ({"attention_dropout": 1.5}, "attention_dropout"),
    ],
)
def test_bad_values_are_named(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GeoConfig.from_preset("llama-tiny", **overrides)


def test_unknown_preset_suggests_a_preset() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'llama-huge' \(did you mean 'llama-[a-z]+'\?\)"):
        GeoConfig.from_preset("llama-huge")


def test_config_file_with_preset_and_overrides(tmp_path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"preset": "llama-tiny", "num_hidden_layers": 3}))
    config = GeoConfig.from_file(path)
    assert config.num_hidden_layers == 3 and config.hidden_size == 64
    path.write_text(json.dumps({"preset": "llama-tiny", "num_layers": 3}))
    with pytest.raises(ConfigError, match=r"model\.json: unknown config key 'num_layers'"):
        GeoConfig.from_file(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        GeoConfig.from_file(path)
    with pytest.raises(ConfigError, match="not found"):
        GeoConfig.from_file(tmp_path / "missing.json")


def test_config_round_trips_through_json(tmp_path) -> None:
    config = GeoConfig.from_preset("llama-tiny", attention="curvature", part_options={"attention": {"tau": 2.0}})
    config.save_pretrained(tmp_path)
    loaded = GeoConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()


def test_presets_sizes() -> None:
    assert {"llama-tiny", "llama-10m"} <= set(PRESETS)
    with torch.device("meta"):
        tiny = sum(p.numel() for p in GeoForCausalLM(GeoConfig.from_preset("llama-tiny")).parameters())
        ten = sum(p.numel() for p in GeoForCausalLM(GeoConfig.from_preset("llama-10m")).parameters())
    assert tiny < 1_000_000
    assert 9_800_000 <= ten <= 10_200_000


def test_parameter_table_counts_tied_weights_once() -> None:
    for tied in (True, False):
        model = GeoForCausalLM(GeoConfig.from_preset("llama-tiny", tie_word_embeddings=tied))
        table = parameter_table(model).set_index("component")["parameters"]
        assert table.sum() == sum(p.numel() for p in model.parameters())
        assert table["embeddings"] == 512 * 64
        assert table["output"] == (0 if tied else 512 * 64)
        # 2 layers x (q 64x64 + k 64x32 + v 64x32 + o 64x64)
        assert table["attention"] == 2 * (64 * 64 * 2 + 64 * 32 * 2)
        assert table["ffn"] == 2 * 3 * 64 * 192


def test_registry_rejects_double_registration() -> None:
    with pytest.raises(ValueError, match="already registered"):
        ATTENTION.register("gqa")(object)


def test_options_for_a_part_that_takes_none_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"is given but the memory part 'none' takes no options"):
        GeoConfig.from_preset("llama-tiny", part_options={"memory": {"slots": 2}})
    with pytest.raises(
        ConfigError, match=r"\['attention'\]: unknown key 'tau'; allowed: qkv_bias, output_bias, qk_norm"
    ):
        GeoConfig.from_preset("llama-tiny", part_options={"attention": {"tau": 2.0}})  # curvature's, not gqa's
    with pytest.raises(ConfigError, match=r"\['attention'\]: unknown key 'kappa'; allowed: .*init"):
        GeoConfig.from_preset("curvature-tiny", part_options={"attention": {"kappa": 1.0}})


def test_importing_the_config_stays_light() -> None:
    import subprocess
    import sys

    probe = "import sys, geolm.config; print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
