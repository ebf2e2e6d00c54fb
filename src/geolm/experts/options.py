"""Settings of the mixture of geometric experts, read from `config.part_options["ffn"]` and checked."""

from __future__ import annotations

from dataclasses import dataclass

from geolm.errors import ConfigError
from geolm.nn.options import PartOptions, boolean, in_interval, non_negative, one_of, option, positive, positive_int

GEOMETRIES = ("euclidean", "hyperbolic", "spherical", "lorentz", "simplex", "complex", "product")
GATED_GEOMETRIES = ("euclidean", "hyperbolic", "spherical")  # the stereographic groups, which have a gated form
EXPERT_FORMS = ("mlp", "gated")
IMPLEMENTATIONS = ("auto", "eager", "compiled")


def _geometries(value: object) -> bool:
    return isinstance(value, tuple) and bool(value) and all(g in GEOMETRIES for g in value)


def _counts(value: object) -> bool:
    """One positive count for every group, or a list of them (one per geometry, in order)."""
    return positive_int(value) or (isinstance(value, tuple) and bool(value) and all(map(positive_int, value)))


@dataclass(frozen=True)
class GeometricMoEOptions(PartOptions):
    """`experts_per_geometry` experts of each geometry in `geometries` (one number for all, or a list with one
    per geometry: 16 experts do not split evenly over 7 geometries); each token goes to `top_k` of them.

    Every expert is a two-layer network of width `expert_size` (0: the config's `intermediate_size`) computed
    in its geometry; hyperbolic, spherical and Lorentz experts learn their curvature, starting at
    |κ| = `kappa_init`. With `capacity_factor` c > 0 an expert takes at most ⌈c·N·k/E⌉ of a forward's N
    tokens, first come first served; the rest of its assignments are dropped (the token keeps its residual)
    and counted. A phase may change it. `nuanced_routing` is the seed's curvature-aware gate (see `route`).
    `balance_bias_rate` γ > 0 turns on auxiliary-loss-free balancing (see `GeometricMoE.rebalance`).
    `expert_form` "gated" gives the stereographic experts SwiGLU's gated hidden layer, so that a dense
    model's feed-forward can be copied into them (`GeometricMoE.upcycle`). `experts_implementation` (as
    transformers names its switch) says how each geometry's experts compute: "eager", "compiled" (each
    geometry's computation compiled on its own, `ExpertGroup.run`; the first call of each geometry compiles
    for some seconds) or "auto": compiled when the model itself runs under `torch.compile`, eager otherwise.
    """

    kind = "ffn"

    geometries: tuple[str, ...] = option(GEOMETRIES, _geometries, f"a non-empty list of {list(GEOMETRIES)}")
    experts_per_geometry: int | tuple[int, ...] = option(
        2, _counts, "a positive integer, or a list of them with one per geometry"
    )
    top_k: int = option(2, positive_int, "a positive integer")
    expert_size: int = option(0, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "0 or more")
    kappa_init: float = option(0.5, in_interval(0.0, 2.0), "in [0, 2)")
    tangent_radius: float = option(1.4, positive, "a positive number below pi/2")
    nuanced_routing: bool = option(False, boolean, "true or false")
    balance_bias_rate: float = option(0.0, non_negative, "0 (off) or a positive number", phase=True)
    capacity_factor: float = option(0.0, non_negative, "0 (no limit) or a positive number", phase=True)
    expert_form: str = option("mlp", one_of(*EXPERT_FORMS), f"one of {list(EXPERT_FORMS)}")
    experts_implementation: str = option(
        "auto", one_of(*IMPLEMENTATIONS), f"one of {list(IMPLEMENTATIONS)}", phase=True
    )

    @property
    def group_sizes(self) -> tuple[int, ...]:
        """The number of experts of each geometry, in the order of `geometries`."""
        if isinstance(self.experts_per_geometry, int):
            return (self.experts_per_geometry,) * len(self.geometries)
        return self.experts_per_geometry

    @property
    def num_experts(self) -> int:
        return sum(self.group_sizes)

    def check_together(self, where: str) -> None:
        if len(set(self.geometries)) != len(self.geometries):
            raise ConfigError(f"{where}['geometries'] lists a geometry twice: {list(self.geometries)}")
        if len(self.group_sizes) != len(self.geometries):
            counts, names = list(self.group_sizes), list(self.geometries)
            raise ConfigError(f"{where}['experts_per_geometry'] gives {counts} for the {len(names)} geometries {names}")
        if self.top_k > self.num_experts:
            raise ConfigError(f"{where}['top_k'] is {self.top_k} but there are only {self.num_experts} experts")
        if self.expert_form == "gated" and set(self.geometries) - set(GATED_GEOMETRIES):
            others = sorted(set(self.geometries) - set(GATED_GEOMETRIES))
            raise ConfigError(f"{where}['expert_form'] 'gated' exists for {list(GATED_GEOMETRIES)} only, not {others}")
        if self.tangent_radius >= 1.5707:
            radius = self.tangent_radius
            raise ConfigError(f"{where}['tangent_radius'] must be below pi/2 (the sphere's antipode), got {radius}")
