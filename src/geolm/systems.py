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
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AnalyzeVerb:
    """A `geolm analyze` verb of a family: the function `attr` of `module` and its one-line summary."""

    module: str
    attr: str
    summary: str


@dataclass(frozen=True)
class GenerateFlag:
    """A flag a family adds to `geolm generate`: `--name` (underscores as dashes), the type of its value (bool:
    a switch), its default and its help; declared here so that `--help` imports no family."""

    name: str
    type: Any
    default: Any
    help: str


@dataclass(frozen=True)
class Family:
    """One family: `module` registers its parts and presets, `training` (optional) its losses, recipes and
    recipe options; `tiny` is its smallest preset, the one the checks every family gets run on. `components`
    are parameter-count rules (a regular expression on the parameter name, the component), tried before the
    generic ones; `metrics` ("module:function", the function taking the model and returning {name: value})
    adds numbers to every training log record; `analyze` are its `geolm analyze` verbs by name; `statistics`
    are the per-token statistics its parts report (the trainer's `stats/NAME`, `geolm generate --stats`), each
    with what it means; `explain` ("module:function", taking the model, tokenizer, an answer's text and a
    directory for pictures) says what its parts did on an answer, as (title, text), or None for a model
    without them: `geolm demo` shows it; `generate_flags` are flags it adds to `geolm generate`, and `generate`
    ("module:Class") the class built from their values: `given` (the flags given), `check(greedy)`,
    `require(model, checkpoint)`, `stands_alone` and `generate(model, tokenizer, prompt_ids, options,
    extra_eos_ids)`, which continues a prompt as they ask; `at_identity` ("module:function", a `GeoConfig` to
    a `GeoConfig`) adds its parts to a model so that, with the model's own weights and the new parts as they
    are built, it computes what it did (`geolm convert --parts`); `upcycle` ("module:function", taking the
    grown model and the weights its new parts replaced, by name) starts new parts from the weights they
    replace, removing from that mapping the ones it used (the experts copy the dense feed-forward);
    `modulates_others` says its parts act on other parts' projections, so `--parts` adds it after the
    families that build them."""

    name: str
    summary: str
    module: str
    tiny: str
    training: str | None = None
    components: tuple[tuple[str, str], ...] = ()
    metrics: str | None = None
    analyze: Mapping[str, AnalyzeVerb] = field(default_factory=dict)
    statistics: Mapping[str, str] = field(default_factory=dict)
    explain: str | None = None
    generate_flags: tuple[GenerateFlag, ...] = ()
    generate: str | None = None
    at_identity: str | None = None
    upcycle: str | None = None
    modulates_others: bool = False


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
        explain="geolm.coordinate.analysis:explain_answer",
        at_identity="geolm.coordinate.presets:at_identity",
        modulates_others=True,
        generate="geolm.coordinate.cli:CoordinateFlags",
        generate_flags=(
            GenerateFlag("adaptive", bool, False, "coordinate models: greedy where coordinates are sure, else top-p"),
            GenerateFlag("show_uncertainty", bool, False, "with --adaptive: print each new token's uncertainty"),
            GenerateFlag("analyze_coordinates", bool, False, "coordinate models: print and plot prompt coordinates"),
            GenerateFlag(
                "plot",
                Path | None,
                None,
                "PNG of --analyze-coordinates (default: coordinate_activity.png beside the checkpoint)",
            ),
            GenerateFlag("refinement_steps", int, 0, "coordinate models: refine the prompt's coordinates first"),
            GenerateFlag("no_refinement", bool, False, "use predicted coordinates only (the default)"),
        ),
        statistics={
            "coordinate_uncertainty": "variance between a token's own coordinates and their running context",
            "coordinates": "each token's predicted coordinates (reported only when asked for in detail)",
            "coordinate_context": "the running context of the coordinates (only in detail)",
        },
    ),
    Family(
        "curvature",
        "seed 001: attention whose every head learns its curvature",
        "geolm.curvature",
        "curvature-tiny",
        components=((r"\.self_attn\.(raw_kappa|log_tau)$", "curvature"),),
        at_identity="geolm.curvature.presets:at_identity",
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
        at_identity="geolm.experts.presets:at_identity",
        upcycle="geolm.experts.presets:upcycle",
        statistics={
            "expert_load": "share of the token's top-k choices that went to each expert",
            "router_entropy": "entropy of the router's distribution over experts",
            "router_dropped": "1 where the token overflowed an expert's capacity and skipped it",
            "memory_read_share": "share of the memory read's attention weight on the stored memory slots",
        },
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
        at_identity="geolm.integrator.presets:at_identity",
        upcycle="geolm.integrator.presets:upcycle",
        statistics={
            "integrator_iterations": "iterations the token took, the mean over the integrator layers",
            "integrator_layer_iterations": "iterations the token took in each integrator layer",
            "integrator_residual": "size of the state's last update when the token stopped",
            "integrator_controller_load": "1 at the controller the token was dispatched to",
        },
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
    import_module("geolm.training.uptrain")  # the recipe for models any family's parts were added to
    for family in FAMILIES:
        if family.training:
            import_module(family.training)


def component_rules() -> list[tuple[str, str]]:
    """Every family's parameter-count rules, in family order (first match wins)."""
    return [rule for family in FAMILIES for rule in family.components]


def _declared(field_name: str) -> dict[str, Any]:
    """By family name, what each family's `field_name` ("module:attribute") names, imported when first asked
    for; families that leave the field empty are left out."""
    declared = {}
    for family in FAMILIES:
        entry = getattr(family, field_name)
        if entry:
            module, name = entry.split(":")
            declared[family.name] = getattr(import_module(module), name)
    return declared


def metrics_functions() -> list[Callable[[Any], dict[str, float]]]:
    """The functions that add numbers to every training log record."""
    return list(_declared("metrics").values())


def generate_flags() -> list[GenerateFlag]:
    """Every flag families add to `geolm generate`."""
    return [flag for family in FAMILIES for flag in family.generate_flags]


def generate_modes(values: Mapping[str, Any]) -> list[Any]:
    """Each family's `generate` class built from its flags' values in `values`."""
    flags = {family.name: family.generate_flags for family in FAMILIES}
    return [
        mode(**{flag.name: values[flag.name] for flag in flags[name]}) for name, mode in _declared("generate").items()
    ]


def identity_adders() -> dict[str, Callable[[Any], Any]]:
    """Each family's `at_identity` function by family name, for the families that declare one, those whose
    parts modulate others' projections last (they modulate the projections the others leave)."""
    adders = _declared("at_identity")
    last = {family.name for family in FAMILIES if family.modulates_others}
    return {name: adders[name] for name in sorted(adders, key=lambda name: name in last)}


def upcyclers() -> dict[str, Callable[[Any, dict[str, Any]], None]]:
    """Each family's `upcycle` function by family name, for the families that declare one."""
    return _declared("upcycle")


def answer_explainers() -> list[Callable[..., tuple[str, str] | None]]:
    """The functions that say what a family's parts did on an answer (`Family.explain`)."""
    return list(_declared("explain").values())


def statistics() -> dict[str, str]:
    """Every family's part statistics by name, with what each means."""
    return {name: meaning for family in FAMILIES for name, meaning in family.statistics.items()}


def analyze_verbs() -> dict[str, AnalyzeVerb]:
    """Every family's `geolm analyze` verbs by name."""
    return {name: verb for family in FAMILIES for name, verb in family.analyze.items()}
