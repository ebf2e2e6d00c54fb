"""The integrator's update as small pure functions, and why it cannot diverge.

One iteration, elementwise over the state neurons, with e = x − μ:

    v' = V·tanh((α·v + (1 − α)·c − β·e + s_n) / V)      (velocity, kept within ±V)
    x' = x + dt·g·v'

α ∈ (0, α_max) is the integration gain, β ∈ [β_min, 1/dt] the restoring force, g ∈ (0, 1) the gate,
c = V·tanh(·/V) the candidate velocity, s_n = A·sin(γ·n + φ) the deterministic excitation at iteration n.

Bounded by construction, whatever the controller outputs: |v|, |c| ≤ V, so |α·v + (1 − α)·c| ≤ V. Where
|e| > E = (V + |s|)/β_min the restoring term wins, v' has the sign of −e and the step (at most dt·V) moves x
toward μ, overshooting by less than dt·V; elsewhere one step adds at most dt·V. Hence, by induction,
|e_n| ≤ max(|e_0|, E + dt·V) for every n (`deviation_bound`). Without the two tanh the gains' dependence on
the state could pump energy in even when every frozen-gain map contracts. Away from saturation the update is
linear in (e, v) for frozen gains; its eigenvalues have |λ₁λ₂| = α < 1 and need dt·g·β < 2(1 + α), which
β ≤ 1/dt keeps (dt·g·β ≤ 1).

Where it settles: with the gains frozen the fixed point is e* = ((1 − α)·c + s)/β, not μ, so a stop rule on
‖x − μ‖ need not ever fire; halting here looks at the step ‖Δx‖. The excitation alone moves x by up to
dt·g·|s| per iteration (tanh is 1-Lipschitz), so that much of a step is not counted against convergence;
what the excitation leaves in v and passes on to later steps is not subtracted, which is why its amplitude
starts small (`excitation_init`).
"""

from __future__ import annotations

import torch

from geolm.integrator.options import IntegratorOptions


def gains(
    raw: torch.Tensor, options: IntegratorOptions
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """α, β, g and the candidate velocity from the controller's raw output (..., 4·S), each (..., S)."""
    alpha, beta, gate, candidate = raw.float().chunk(4, dim=-1)
    alpha = options.alpha_max * torch.sigmoid(alpha)
    beta = options.restoring_min + (options.restoring_max - options.restoring_min) * torch.sigmoid(beta)
    bound = options.velocity_bound
    return alpha, beta, torch.sigmoid(gate), bound * torch.tanh(candidate / bound)


def excitation(
    amplitude: torch.Tensor, frequency: torch.Tensor, phase: torch.Tensor, iteration: int | torch.Tensor, scale: float
) -> torch.Tensor:
    """s_n = scale·A·sin(γ·n + φ): the same numbers on every run, nothing sampled (n a number, or a column of
    them for one row per iteration)."""
    return scale * amplitude * torch.sin(frequency * iteration + phase)


def velocity(
    v: torch.Tensor,
    deviation: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    candidate: torch.Tensor,
    drive: torch.Tensor,
    bound: float,
) -> torch.Tensor:
    """v' = V·tanh((α·v + (1 − α)·c − β·(x − μ) + s) / V)."""
    return bound * torch.tanh((alpha * v + (1 - alpha) * candidate - beta * deviation + drive) / bound)


def relative_residual(
    step: torch.Tensor, excitation_step: torch.Tensor, x: torch.Tensor, start_norm: torch.Tensor
) -> torch.Tensor:
    """(‖Δx‖ − ‖dt·g·s‖)₊ / max(‖x‖, ‖x₀‖) per token: the part of the step that is not the excitation's,
    relative to the state, or to where the token started when the state settles near 0 (an equilibrium at
    the origin would otherwise make every step look large)."""
    moved = torch.linalg.vector_norm(step, dim=-1) - torch.linalg.vector_norm(excitation_step, dim=-1)
    scale = torch.maximum(torch.linalg.vector_norm(x, dim=-1), start_norm).clamp(min=1e-6)
    return moved.clamp(min=0) / scale


def deviation_bound(
    initial_deviation: torch.Tensor, excitation_max: torch.Tensor | float, options: IntegratorOptions
) -> torch.Tensor:
    """The largest |x − μ| any iteration can reach from `initial_deviation` (elementwise) when |s| never exceeds
    `excitation_max`: max(|e_0|, (V + |s|)/β_min + dt·V), by the argument above."""
    speed = options.velocity_bound
    reach = (speed + excitation_max) / options.restoring_min + options.dt * speed
    return torch.maximum(initial_deviation.abs(), torch.as_tensor(reach, dtype=initial_deviation.dtype))
