"""Settings of the integrator FFN part, read from `config.part_options["ffn"]` and checked."""

from __future__ import annotations

import math
from dataclasses import dataclass

from geolm.errors import ConfigError
from geolm.nn.options import PartOptions, boolean, in_interval, non_negative, one_of, option, positive, positive_int

HALTING = ("residual", "learned", "fixed")
EQUILIBRIA = ("layer", "hierarchical")


def _size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class IntegratorOptions(PartOptions):
    """A state (x, v) of width `state_size` (0: the hidden size) iterated at most `max_iterations` times.

    Each iteration a controller of width `controller_size` (0: half the state) reads [h, x, v] and gives the
    integration gain α ∈ (0, `alpha_max`), the restoring force β ∈ [`restoring_min`, 1/`dt`], the gate
    g ∈ (0, 1) and a candidate velocity; the velocity is kept within ±`velocity_bound` (see
    `geolm.integrator.dynamics` for why these bounds make the iteration unable to diverge).

    `halting`: "residual" stops a token once ‖Δx‖ (less the excitation's share) < `tolerance`·max(‖x‖, ‖x₀‖), after at
    least `min_iterations`; "learned" is ACT's halting unit with its ponder cost; "fixed" always runs
    `max_iterations`. `excitation_scale` multiplies the learnt excitation (a phase sets it: exploration high,
    equilibrium low); `excitation_density` < 1 gives only that share of the state neurons an excitation.

    `controllers` K > 1 gives every token one of K controllers, chosen by a router (a mixture of integrators);
    `share_controller` uses one controller (or one mixture) for every layer, `equilibrium` "hierarchical" a
    global μ plus a per-layer offset, `checkpoint_iterations` recomputes each iteration in backward instead
    of storing it. `dense_ffn` keeps a SwiGLU feed-forward beside the integrator, whose output joins through a
    learnt per-channel gain starting at zero: how a pretrained model takes integrator layers at identity.
    """

    kind = "ffn"

    state_size: int = option(0, _size, "0 (the hidden size) or a positive integer")
    controller_size: int = option(0, _size, "0 (half the state size) or a positive integer")
    max_iterations: int = option(10, positive_int, "a positive integer", phase=True)
    min_iterations: int = option(1, positive_int, "a positive integer", phase=True)
    tolerance: float = option(0.05, non_negative, "0 (never stop early) or a positive number", phase=True)
    halting: str = option("residual", one_of(*HALTING), f"one of {list(HALTING)}")
    halting_threshold: float = option(0.01, in_interval(0.0, 1.0), "in [0, 1): ACT's epsilon")
    dt: float = option(0.5, positive, "a positive number")
    alpha_max: float = option(0.9, in_interval(0.0, 1.0), "in [0, 1)")
    restoring_min: float = option(0.05, positive, "a positive number below 1/dt")
    velocity_bound: float = option(4.0, positive, "a positive number")
    excitation_init: float = option(0.01, non_negative, "0 or more: the excitation's starting amplitude")
    excitation_scale: float = option(1.0, non_negative, "0 or more", phase=True)
    excitation_density: float = option(1.0, in_interval(0.0, 1.0, closed_high=True), "in (0, 1]")
    controllers: int = option(1, positive_int, "a positive integer")
    share_controller: bool = option(False, boolean, "true or false")
    equilibrium: str = option("layer", one_of(*EQUILIBRIA), f"one of {list(EQUILIBRIA)}")
    checkpoint_iterations: bool = option(False, boolean, "true or false")
    exit_when_halted: bool = option(True, boolean, "true or false")
    dense_ffn: bool = option(False, boolean, "true or false")

    @property
    def restoring_max(self) -> float:
        """β's upper bound 1/dt: it keeps dt·g·β ≤ 1, the condition of the stability argument."""
        return 1.0 / self.dt

    def excited(self, state: int) -> int:
        """How many of `state` neurons get an excitation (at least one)."""
        return max(1, math.ceil(self.excitation_density * state))

    def check_together(self, where: str) -> None:
        if self.min_iterations > self.max_iterations:
            low, high = self.min_iterations, self.max_iterations
            raise ConfigError(f"{where}: min_iterations {low} is above max_iterations {high}")
        if self.restoring_min >= self.restoring_max:
            raise ConfigError(
                f"{where}['restoring_min'] must be below 1/dt = {self.restoring_max:g}, got {self.restoring_min}"
            )
        if self.excitation_density <= 0:
            raise ConfigError(f"{where}['excitation_density'] must be in (0, 1], got {self.excitation_density}")
