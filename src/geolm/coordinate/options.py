"""Settings of the coordinate modulation, read from `config.part_options["modulation"]` and checked.

The defaults are the flagship `geometric-llama-10m` values (docs/coordinate.md has the arithmetic): the
seed's K=64 wavelets of rank 12 on every projection would multiply the model's size and cost several times.
"""

from __future__ import annotations

from dataclasses import dataclass

from geolm.errors import ConfigError
from geolm.nn.options import PartOptions, boolean, in_interval, non_negative, option, positive_int


def _roles(targets: object) -> bool:
    return isinstance(targets, tuple) and bool(targets) and all(isinstance(t, str) for t in targets)


@dataclass(frozen=True)
class CoordinateOptions(PartOptions):
    """What the coordinate space looks like and which projections it modulates.

    `wavelet_pairs` (K) cos/sin pairs of rank `rank` (r) modulate every role in `targets`; with
    `share_across_layers` one factor bank per role serves all layers. Coordinates follow
    theta_ctx[t] = context_decay * theta_ctx[t-1] + (1 - context_decay) * theta[t]. The output factors start
    with standard deviation `init_scale`, so a fresh model computes almost exactly its base Llama.
    `uncertainty_threshold` is where adaptive decoding switches from greedy to nucleus sampling; a phase may
    set it and `context_decay`.
    """

    kind = "modulation"

    coord_dim: int = option(1024, positive_int, "a positive integer")
    wavelet_pairs: int = option(18, positive_int, "a positive integer")
    rank: int = option(3, positive_int, "a positive integer")
    targets: tuple[str, ...] = option(
        ("q_proj", "v_proj", "gate_proj"), _roles, "a non-empty list of the roles the model's parts declare"
    )
    share_across_layers: bool = option(False, boolean, "true or false")
    context_decay: float = option(0.95, in_interval(0.0, 1.0), "in [0, 1)", phase=True)
    predictor_hidden: int = option(200, positive_int, "a positive integer")
    init_scale: float = option(1e-3, non_negative, "a non-negative number")
    uncertainty_threshold: float = option(2e-3, non_negative, "a non-negative number", phase=True)

    @property
    def width(self) -> int:
        """Columns of the stacked factors: K cos and K sin wavelets of rank r each (2Kr)."""
        return 2 * self.wavelet_pairs * self.rank

    def check_together(self, where: str) -> None:
        if len(set(self.targets)) != len(self.targets):
            raise ConfigError(f"{where}['targets'] lists a role twice: {list(self.targets)}")

    def check_in(self, config) -> None:
        """Every target is a projection the model's attention or FFN part builds (each part declares its
        `modulated_roles`), so no target is silently left unmodulated."""
        from geolm.nn.registry import modulated_roles

        offered = modulated_roles(config)
        every = [role for roles in offered.values() for role in roles]
        missing = [role for role in self.targets if role not in every]
        if missing:
            parts = "; ".join(
                f"{kind} {getattr(config, kind)!r}: {', '.join(roles) or 'none'}" for kind, roles in offered.items()
            )
            raise ConfigError(
                f"{self.where()}['targets']: {', '.join(map(repr, missing))} is no projection of the model's "
                f"parts ({parts})"
            )
