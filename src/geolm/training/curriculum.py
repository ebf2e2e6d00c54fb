"""A curriculum is data: phases, each with its data mixture, loss terms, frozen parameters, learning-rate
multipliers and length (a fraction of the schedule). The baseline is one phase of plain language modelling.

Parameters are sorted into named groups by `Curriculum.group_of` (first matching pattern in `groups`, else
"default"); a phase scales the learning rate of a group with `lr_mult` and freezes parameters whose name or
group matches one of its `freeze` patterns. Systems extend the grouping by adding patterns, or by
subclassing and overriding `group_of`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from geolm.errors import ConfigError
from geolm.files import read_json_object
from geolm.training.losses import LOSSES

DEFAULT_GROUP = "default"


@dataclass
class Phase:
    """One stage of training; `forward_kwargs` go to the model's forward (e.g. `output_hidden_states`)."""

    name: str
    length: float = 1.0
    losses: dict[str, float] = field(default_factory=lambda: {"lm": 1.0})
    mixture: dict[str, float] | None = None
    freeze: list[str] = field(default_factory=list)
    lr_mult: dict[str, float] = field(default_factory=dict)
    forward_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Curriculum:
    """Ordered phases plus the parameter grouping they refer to."""

    phases: list[Phase]
    groups: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def baseline(cls) -> Curriculum:
        return cls([Phase("main")])

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "curriculum") -> Curriculum:
        """Build from JSON-like data, naming the phase and key of anything malformed."""
        _check_keys(data, [f.name for f in fields(cls)], where)
        raw_phases = data.get("phases")
        if not isinstance(raw_phases, list) or not raw_phases:
            raise ConfigError(f"{where}: 'phases' must be a non-empty list")
        phases = []
        for i, raw in enumerate(raw_phases):
            here = f"{where}: phase {i}"
            if not isinstance(raw, dict) or "name" not in raw:
                raise ConfigError(f"{here}: a phase must be an object with at least a 'name'")
            _check_keys(raw, [f.name for f in fields(Phase)], here)
            phases.append(Phase(**raw))
        return cls(phases, dict(data.get("groups") or {}))

    @classmethod
    def from_file(cls, path: str | Path) -> Curriculum:
        return cls.from_dict(read_json_object(path, "curriculum"), where=str(path))

    def to_dict(self) -> dict[str, Any]:
        return {"phases": [asdict(p) for p in self.phases], "groups": self.groups}

    def group_of(self, param_name: str) -> str:
        """The named group of a parameter: the first group with a matching pattern, else "default"."""
        for group, patterns in self.groups.items():
            if any(fnmatchcase(param_name, p) for p in patterns):
                return group
        return DEFAULT_GROUP

    def is_frozen(self, phase: Phase, param_name: str) -> bool:
        group = self.group_of(param_name)
        return any(fnmatchcase(param_name, p) or p == group for p in phase.freeze)

    def ends(self, steps: int) -> list[int]:
        """The step at which each phase ends (exclusive); the last phase always ends at `steps`."""
        ends, total = [], 0.0
        for phase in self.phases:
            total += phase.length
            ends.append(round(total * steps))
        ends[-1] = steps
        return ends

    def phase_index(self, step: int, steps: int) -> int:
        return next((i for i, end in enumerate(self.ends(steps)) if step < end), len(self.phases) - 1)

    def validate(self, sources: list[str], param_names: list[str]) -> None:
        """Check every name a phase uses against what exists: loss terms, data sources, groups, parameters."""
        total = sum(p.length for p in self.phases)
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"curriculum phase lengths must sum to 1, got {total:g}")
        known_groups = {DEFAULT_GROUP, *self.groups}
        for i, phase in enumerate(self.phases):
            here = f"curriculum phase {i} ({phase.name!r})"
            if phase.length <= 0:
                raise ConfigError(f"{here}: 'length' must be positive, got {phase.length}")
            if not phase.losses:
                raise ConfigError(f"{here}: 'losses' must name at least one loss term")
            for name in phase.losses:
                if name not in LOSSES:
                    raise ConfigError(f"{here}: unknown loss {name!r}; registered: {', '.join(LOSSES.names())}")
            for name, weight in (phase.mixture or {}).items():
                if name not in sources:
                    raise ConfigError(f"{here}: unknown data source {name!r}; available: {', '.join(sources)}")
                if weight < 0:
                    raise ConfigError(f"{here}: mixture weight of {name!r} must be >= 0, got {weight}")
            if phase.mixture is not None and sum(phase.mixture.values()) <= 0:
                raise ConfigError(f"{here}: mixture weights must not all be zero")
            for group in phase.lr_mult:
                if group not in known_groups:
                    raise ConfigError(f"{here}: lr_mult names unknown group {group!r}; groups: {sorted(known_groups)}")
            for pattern in phase.freeze:
                if not any(fnmatchcase(n, pattern) or pattern == self.group_of(n) for n in param_names):
                    raise ConfigError(f"{here}: freeze pattern {pattern!r} matches no parameter or group")


def _check_keys(data: dict[str, Any], allowed: list[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
