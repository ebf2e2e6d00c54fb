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

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geolm.data import TokenBlocks
from geolm.integrator.layer import ENERGY, EQUILIBRIUM, SPEED, IntegratorFFN
from geolm.training import Curriculum, Phase
from geolm.training.recipes import RECIPES, TRAIN_SOURCE, RecipeFlag, RecipeFlags, RecipeInputs, declare_flags

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


@RECIPES.register("inl")
def inl_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """The cycles of the chosen preset (`--cycle-preset`, default "balanced") on the run's data."""
    return cycle_curriculum(inputs.options.get("cycle_preset", "balanced")), {TRAIN_SOURCE: inputs.train}


def _cycle_preset(text: str) -> str:
    if text not in CYCLE_PRESETS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(CYCLE_PRESETS)}, got {text!r}")
    return text


def cycle_flags(values: argparse.Namespace, base: Mapping[str, Any]) -> RecipeFlags:
    return RecipeFlags(recipe={"cycle_preset": values.cycle_preset} if values.cycle_preset else {})


declare_flags(
    "inl",
    [RecipeFlag("--cycle-preset", f"the cycle scheduler's preset: {', '.join(CYCLE_PRESETS)}", _cycle_preset, "NAME")],
    cycle_flags,
    "The equilibrium/exploration cycle scheduler of the integrator presets.",
)
