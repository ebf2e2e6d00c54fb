"""The seed's equilibrium/exploration cycles as curriculum data (recipe "inl").

A cycle is an equilibrium phase (low excitation, the pull toward μ weighted up: the state settles) followed by
an exploration phase (full excitation, the pull weighted down: the state roams). Phases reach the layers only
through data: `part_settings` set `excitation_scale`, `losses` set the weights of the integrator's auxiliary
losses, and every cycle multiplies the regularisers' weights by `anneal` (the seed's annealing).

`CYCLE_PRESETS["balanced"]` is the seed's: 10 units of equilibrium, 20 of exploration, 5 cycles. "settle" and
"explore" are geolm's own, one tilted each way. `geolm train --preset inl-small --cycle-preset settle` picks
one.
"""

from __future__ import annotations

from dataclasses import dataclass

from geolm.data import TokenBlocks
from geolm.integrator.layer import ENERGY, EQUILIBRIUM, SPEED, IntegratorFFN
from geolm.nn.options import one_of
from geolm.training import Curriculum, Phase
from geolm.training.recipes import RECIPES, TRAIN_SOURCE, RecipeInputs, RecipeOptions, declare_options, recipe_option

DEFAULTS = IntegratorFFN.aux_loss_weights


@dataclass(frozen=True)
class CyclePreset:
    """Lengths (in any unit: only their ratios matter) of the two phases of a cycle, how many cycles, and the
    settings each phase gives the layers."""

    equilibrium_length: float
    exploration_length: float
    cycles: int
    equilibrium_excitation: float = 0.25
    exploration_excitation: float = 1.0
    equilibrium_pull: float = 2.0  # times the part's default weight of integrator_equilibrium
    exploration_pull: float = 0.5
    anneal: float = 0.8  # each cycle's regulariser weights are this times the previous cycle's


CYCLE_PRESETS = {
    "balanced": CyclePreset(10, 20, 5),
    "settle": CyclePreset(20, 10, 5, equilibrium_excitation=0.1),
    "explore": CyclePreset(5, 25, 5, exploration_excitation=1.5),
}


def cycle_curriculum(preset: CyclePreset | str = "balanced") -> Curriculum:
    """2·cycles phases, equilibrium then exploration, as `CyclePreset` describes them."""
    cycle = CYCLE_PRESETS[preset] if isinstance(preset, str) else preset
    total = cycle.cycles * (cycle.equilibrium_length + cycle.exploration_length)
    phases = []
    for index in range(cycle.cycles):
        decay = cycle.anneal**index
        for kind, length, excitation, pull in (
            ("equilibrium", cycle.equilibrium_length, cycle.equilibrium_excitation, cycle.equilibrium_pull),
            ("exploration", cycle.exploration_length, cycle.exploration_excitation, cycle.exploration_pull),
        ):
            losses = {
                "lm": 1.0,
                EQUILIBRIUM: DEFAULTS[EQUILIBRIUM] * pull * decay,
                ENERGY: DEFAULTS[ENERGY] * decay,
                SPEED: DEFAULTS[SPEED] * decay,
            }
            phases.append(
                Phase(
                    f"{kind}_{index}",
                    length / total,
                    losses=losses,
                    part_settings={"ffn": {"excitation_scale": excitation}},
                )
            )
    return Curriculum(phases)


@declare_options("inl")
@dataclass(frozen=True)
class CycleOptions(RecipeOptions):
    """The equilibrium/exploration cycle scheduler of the integrator presets."""

    cycle_preset: str = recipe_option(
        "balanced",
        one_of(*CYCLE_PRESETS),
        f"one of {', '.join(CYCLE_PRESETS)}",
        "the cycle scheduler's preset",
        metavar="NAME",
    )


@RECIPES.register("inl")
def inl_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """The cycles of the chosen preset (`CycleOptions.cycle_preset`, flag `--cycle-preset`) on the run's data."""
    return cycle_curriculum(inputs.options_as(CycleOptions).cycle_preset), {TRAIN_SOURCE: inputs.train}
