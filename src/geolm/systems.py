"""The families geolm is made of, each declared once: adding a family is one `Family` here.

A family's light module, imported with `geolm`, registers its parts (their classes' decorators) and presets; its
training module, imported only when training starts, registers its loss terms, recipes and recipe options.
Everything else generic code asks of a family is a field of its `Family`: its parameter-count components, the
numbers it adds to every training log record and its `geolm analyze` verbs. The projections a modulation may
target are declared by the parts themselves (`modulated_roles`). torchtitan's train-spec registry is the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class AnalyzeVerb:
    """A `geolm analyze` verb of a family: the function `attr` of `module` and its one-line summary."""

    module: str
    attr: str
    summary: str


@dataclass(frozen=True)
class Family:
    """One family: `module` registers its parts and presets, `training` (optional) its losses, recipes and
    recipe options; `tiny` is its smallest preset, the one the checks every family gets run on. `components`
    are parameter-count rules (a regular expression on the parameter name, the component), tried before the
    generic ones; `metrics` ("module:function", the function taking the model and returning {name: value})
    adds numbers to every training log record; `analyze` are its `geolm analyze` verbs by name."""

    name: str
    summary: str
    module: str
    tiny: str
    training: str | None = None
    components: tuple[tuple[str, str], ...] = ()
    metrics: str | None = None
    analyze: Mapping[str, AnalyzeVerb] = field(default_factory=dict)


FAMILIES: tuple[Family, ...] = (
    Family(
        "coordinate",
        "seed 000: weights modulated by wavelets of a coordinate vector each token predicts",
        "geolm.coordinate",
        "geometric-llama-tiny",
        training="geolm.coordinate.curriculum",
        # ahead of the generic ".modulation." rule, which would otherwise claim them
        components=(
            (r"\.modulation\.predictor\.", "coordinate predictor"),
            (r"\.modulation\.(banks|directions)\b", "coordinate modulation"),
        ),
    ),
    Family(
        "curvature",
        "seed 001: attention whose every head learns its curvature",
        "geolm.curvature",
        "curvature-tiny",
        components=((r"\.self_attn\.(raw_kappa|log_tau)$", "curvature"),),
        # every training log record carries κ per head, so `geolm plot` can draw the curvature trajectories
        metrics="geolm.curvature.census:curvature_metrics",
        analyze={
            "heads": AnalyzeVerb(
                "geolm.curvature.cli",
                "heads",
                "Classify every attention head as hyperbolic, Euclidean or spherical by its learnt curvature.",
            )
        },
    ),
    Family(
        "experts",
        "seed 002: a sparse mixture of experts each computing in its own geometry, with working memory",
        "geolm.experts",
        "mgm-tiny",
        training="geolm.experts.curriculum",
        components=((r"\.mlp\.gate\.", "router"), (r"\.mlp\.groups\.", "experts")),
        analyze={
            "experts": AnalyzeVerb(
                "geolm.experts.cli",
                "experts",
                "Route held-out text of the embedded corpus and tabulate each geometry's share by kind of token.",
            )
        },
    ),
    Family(
        "integrator",
        "seed 003: layers that iterate each token's state toward a learnt equilibrium and stop early",
        "geolm.integrator",
        "inl-tiny",
        training="geolm.integrator.curriculum",
        components=((r"\.mlp\.controller\.|\.shared\.integrator_controller\.", "controller"),),
    ),
    Family("mixes", "presets of the parts above together", "geolm.mixes", "geo-mix-moe-tiny"),
)


def register_systems() -> None:
    """Import every family's light module (parts and presets)."""
    for family in FAMILIES:
        import_module(family.module)


def register_training() -> None:
    """Import every family's training module (loss terms, recipes and their options); the trainer calls this
    before it checks a curriculum, so a curriculum file may name any family's loss."""
    for family in FAMILIES:
        if family.training:
            import_module(family.training)


def component_rules() -> list[tuple[str, str]]:
    """Every family's parameter-count rules, in family order (first match wins)."""
    return [rule for family in FAMILIES for rule in family.components]


def metrics_functions() -> list[Callable[[Any], dict[str, float]]]:
    """The functions that add numbers to every training log record, imported when first asked for."""
    functions = []
    for family in FAMILIES:
        if family.metrics:
            module, name = family.metrics.split(":")
            functions.append(getattr(import_module(module), name))
    return functions


def analyze_verbs() -> dict[str, AnalyzeVerb]:
    """Every family's `geolm analyze` verbs by name."""
    return {name: verb for family in FAMILIES for name, verb in family.analyze.items()}
