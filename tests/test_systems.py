"""Each family is declared once in `geolm.systems`: what its `Family` says is what its code does."""

from __future__ import annotations

import importlib

import pytest
import torch

from geolm import GeoConfig
from geolm.metrics import model_metrics
from geolm.modeling import GeoForCausalLM
from geolm.params import parameter_table
from geolm.systems import FAMILIES, analyze_verbs, register_training
from geolm.training import LOSSES
from geolm.training.recipes import RECIPES

TINY = {
    "coordinate": "geometric-llama-tiny",
    "curvature": "curvature-tiny",
    "experts": "mgm-tiny",
    "integrator": "inl-tiny",
}


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.components], ids=lambda f: f.name)
def test_every_declared_component_counts_parameters_of_the_familys_model(family) -> None:
    table = parameter_table(GeoForCausalLM(GeoConfig.from_preset(family.tiny))).set_index("component")
    for _, component in family.components:
        assert table.loc[component, "parameters"] > 0, component
    assert "other" not in table.index  # every parameter has a component


def test_the_curvature_family_logs_kappa_per_head_and_a_llama_logs_nothing() -> None:
    model = GeoForCausalLM(GeoConfig.from_preset("curvature-tiny"))
    logged = model_metrics(model)
    heads = model.config.num_hidden_layers * model.config.num_attention_heads
    assert len([name for name in logged if "kappa" in name]) == heads
    assert all(torch.isfinite(torch.tensor(value)) for value in logged.values())
    assert model_metrics(GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))) == {}


def test_every_family_names_its_own_tiny_preset() -> None:
    from geolm.presets import DESCRIPTIONS, PRESETS

    assert all(family.tiny in PRESETS and family.tiny.endswith("-tiny") for family in FAMILIES)
    assert len({family.tiny for family in FAMILIES}) == len(FAMILIES) and DESCRIPTIONS


def test_analyze_verbs_and_training_modules_exist() -> None:
    for name, verb in analyze_verbs().items():
        assert callable(getattr(importlib.import_module(verb.module), verb.attr)), name
    register_training()
    assert {"coordinate", "mgm", "inl"} <= set(RECIPES.names()) and "lm" in LOSSES
