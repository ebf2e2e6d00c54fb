"""The systems geolm is made of, in one list: adding a family is one line here.

Each system has a light module, imported with `geolm`, that registers its parts, presets and parameter
components, and optionally a training module, imported only when training starts, that registers its loss
terms, recipes (default curriculum and data sources) and anything else the trainer may be asked for by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class System:
    name: str
    module: str
    training: str | None = None


SYSTEMS: tuple[System, ...] = (
    System("coordinate", "geolm.coordinate", training="geolm.coordinate.curriculum"),
    System("curvature", "geolm.curvature"),
    System("experts", "geolm.experts", training="geolm.experts.curriculum"),
    System("integrator", "geolm.integrator", training="geolm.integrator.curriculum"),
    System("mixes", "geolm.mixes"),  # presets of the parts above together
)


def register_systems() -> None:
    """Import every system's light module (parts, presets, parameter components)."""
    for system in SYSTEMS:
        import_module(system.module)


def register_training() -> None:
    """Import every system's training module (loss terms, recipes); the trainer calls this before it checks a
    curriculum, so a curriculum file may name any system's loss."""
    for system in SYSTEMS:
        if system.training:
            import_module(system.training)
