"""Integrator presets: the baseline Llama shapes with the FFN replaced by the integrator layer, trained with
the equilibrium/exploration cycles (recipe "inl").

`geolm presets` counts their parameters on the meta device.
"""

from __future__ import annotations

from geolm.presets import PRESETS, register_preset

INTEGRATOR = {"ffn": "integrator", "recipe": "inl"}

register_preset(
    "inl-tiny",
    "integrator layers for tests: llama-tiny, state 64, controller 32, at most 4 iterations",
    **{**PRESETS["llama-tiny"], **INTEGRATOR},
    part_options={"ffn": {"controller_size": 32, "max_iterations": 4}},
)
register_preset(
    "inl-small",
    "integrator layers for benchmarks: llama-10m with the FFN an integrator of state 352, at most 10 iterations",
    **{**PRESETS["llama-10m"], **INTEGRATOR},
    part_options={"ffn": {"state_size": 352, "controller_size": 176, "max_iterations": 10}},
)
