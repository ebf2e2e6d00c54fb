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


def reported_statistics(preset: str, **overrides) -> set[str]:
    from geolm.nn.stats import inference_stats

    torch.manual_seed(0)
    model = GeoForCausalLM(GeoConfig.from_preset(preset, **overrides)).eval()
    with inference_stats(model, detail=True) as recorded:
        model(torch.randint(3, 50, (1, 12)))
    return set(recorded.names)


def test_every_statistic_a_part_reports_is_declared_by_its_family() -> None:
    from geolm.systems import statistics

    reported = set()
    for family in FAMILIES:
        if family.name in TINY:
            own = reported_statistics(family.tiny)
            assert own <= set(family.statistics), family.name
            reported |= own
    integrator = GeoConfig.from_preset(TINY["integrator"]).part_options["ffn"]
    routed = reported_statistics(TINY["integrator"], part_options={"ffn": {**integrator, "controllers": 2}})
    assert routed <= set({family.name: family for family in FAMILIES}["integrator"].statistics)
    assert reported | routed == set(statistics())  # nothing declared that no part reports
    names = [name for family in FAMILIES for name in family.statistics]
    assert len(names) == len(set(names))  # no two families share a name


def test_a_family_explains_an_answer_only_for_a_model_with_its_parts(tmp_path) -> None:
    from geolm.data.tokenizer import train_tokenizer
    from geolm.systems import answer_explainers

    tokenizer = train_tokenizer(["a heron is a wading bird with long legs"] * 20, vocab_size=300, min_frequency=1)
    explainers = answer_explainers()
    assert len(explainers) == len([family for family in FAMILIES if family.explain])
    for preset, explained in (("geometric-llama-tiny", ["coordinate analysis"]), ("llama-tiny", [])):
        model = GeoForCausalLM(GeoConfig.from_preset(preset, vocab_size=len(tokenizer))).eval()
        said = [explain(model, tokenizer, "a heron is a bird", tmp_path / preset) for explain in explainers]
        assert [title for title, _ in filter(None, said)] == explained
    assert (tmp_path / "geometric-llama-tiny" / "coordinates.png").stat().st_size > 1000


def test_the_generate_flags_a_family_declares_build_its_generate_class() -> None:
    from geolm.systems import generate_flags, generate_modes

    defaults = {flag.name: flag.default for flag in generate_flags()}
    modes = generate_modes(defaults)
    assert len(modes) == len([family for family in FAMILIES if family.generate]) and not any(m.given for m in modes)
    (adaptive,) = generate_modes({**defaults, "adaptive": True, "refinement_steps": 2})
    assert adaptive.given == ["--adaptive", "--refinement-steps"]
