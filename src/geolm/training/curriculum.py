"""A curriculum is data: phases, each with its data mixture, loss terms, frozen parameters, learning-rate
multipliers and length (a fraction of the schedule). The baseline is one phase of plain language modelling.

A phase also reaches the model's parts: `part_settings` (`{kind: {key: value}}`, checked against the part's
options) are applied when the phase starts, on resume and in evaluation; `losses` may name a part's auxiliary
loss to change its weight (0 turns it off; a loss a phase does not name keeps its part's default weight).
`checkpoint: true` saves RUN_DIR/phase-<i>-<name> when the phase ends, and `lr_schedule` gives the phase its
own warmup and cosine decay in place of the run's.

Parameters are sorted into named groups by `Curriculum.group_of` (first matching pattern in `groups`, else
"default"); a phase scales the learning rate of a group with `lr_mult` and freezes parameters whose name or
group matches one of its `freeze` patterns. Systems extend the grouping by adding patterns, or by
subclassing and overriding `group_of`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field, fields
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from geolm.errors import ConfigError, did_you_mean, unknown_names
from geolm.files import read_json_object
from geolm.training.losses import LOSSES

DEFAULT_GROUP = "default"


@dataclass
class PhaseSchedule:
    """A phase's own learning rate: warmup to `peak` over `warmup_steps`, cosine down to `min_lr_ratio` of it
    at the phase's last step."""

    peak: float
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1

    def check(self, where: str) -> None:
        if not (isinstance(self.peak, int | float) and self.peak > 0):
            raise ConfigError(f"{where}: lr_schedule 'peak' must be a positive number, got {self.peak!r}")
        if not (isinstance(self.warmup_steps, int) and self.warmup_steps >= 0):
            raise ConfigError(f"{where}: lr_schedule 'warmup_steps' must be a non-negative integer")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"{where}: lr_schedule 'min_lr_ratio' must be in [0, 1], got {self.min_lr_ratio}")


@dataclass
class Phase:
    """One stage of training (see the module docstring for what each field does)."""

    name: str
    length: float = 1.0
    losses: dict[str, float] = field(default_factory=lambda: {"lm": 1.0})
    mixture: dict[str, float] | None = None
    freeze: list[str] = field(default_factory=list)
    lr_mult: dict[str, float] = field(default_factory=dict)
    part_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkpoint: bool = False
    lr_schedule: PhaseSchedule | None = None

    def __post_init__(self) -> None:
        if isinstance(self.lr_schedule, dict):
            where = f"phase {self.name!r}"
            _check_keys(self.lr_schedule, [f.name for f in fields(PhaseSchedule)], f"{where}: lr_schedule")
            self.lr_schedule = PhaseSchedule(**self.lr_schedule)


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

    def start(self, index: int, steps: int) -> int:
        """The first step of phase `index`."""
        return self.ends(steps)[index - 1] if index else 0

    def find(self, phase: str | int) -> int:
        """The index of a phase given by name or by number; `ConfigError` listing the phases otherwise."""
        names = [p.name for p in self.phases]
        if isinstance(phase, str) and phase.isdigit():
            phase = int(phase)
        if isinstance(phase, int) and 0 <= phase < len(names):
            return phase
        if phase in names:
            return names.index(phase)
        listed = ", ".join(f"{i} {n!r}" for i, n in enumerate(names))
        hint = did_you_mean(phase, names) if isinstance(phase, str) else ""
        raise ConfigError(f"no phase {phase!r} in the curriculum{hint}; phases: {listed}")

    def validate(self, sources: list[str], param_names: list[str], aux_losses: Collection[str] = ()) -> None:
        """Check every name a phase uses against what exists: loss terms (registered, or a part's auxiliary
        losses), data sources, groups, parameters."""
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
            for name, weight in phase.losses.items():
                if name not in LOSSES and name not in aux_losses:
                    known = [*LOSSES.names(), *sorted(aux_losses)]
                    raise ConfigError(
                        f"{here}: unknown loss {name!r}{did_you_mean(name, known)}; "
                        f"registered or from the model's parts: {', '.join(known)}"
                    )
                if not isinstance(weight, int | float) or weight < 0:
                    raise ConfigError(f"{here}: weight of loss {name!r} must be a number >= 0, got {weight!r}")
            if not any(phase.losses.get(name, 0) > 0 for name in LOSSES.names()):
                raise ConfigError(f"{here}: 'losses' must give at least one registered loss term a positive weight")
            if phase.lr_schedule is not None:
                phase.lr_schedule.check(here)
            for name, weight in (phase.mixture or {}).items():
                if name not in sources:
                    raise ConfigError(
                        f"{here}: unknown data source {name!r}{did_you_mean(name, sources)}; "
                        f"available: {', '.join(sources)}"
                    )
                if weight < 0:
                    raise ConfigError(f"{here}: mixture weight of {name!r} must be >= 0, got {weight}")
            if phase.mixture is not None and sum(phase.mixture.values()) <= 0:
                raise ConfigError(f"{here}: mixture weights must not all be zero")
            for group in phase.lr_mult:
                if group not in known_groups:
                    hint = did_you_mean(group, known_groups)
                    raise ConfigError(
                        f"{here}: lr_mult names unknown group {group!r}{hint}; groups: {sorted(known_groups)}"
                    )
            for pattern in phase.freeze:
                if not any(fnmatchcase(n, pattern) or pattern == self.group_of(n) for n in param_names):
                    raise ConfigError(f"{here}: freeze pattern {pattern!r} matches no parameter or group")
            frozen = [n for n in param_names if any(fnmatchcase(n, p) or p == self.group_of(n) for p in phase.freeze)]
            if phase.freeze and len(frozen) == len(param_names):
                raise ConfigError(f"{here}: freezes every parameter of the model, so nothing would train")


def _check_keys(data: dict[str, Any], allowed: list[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: {unknown_names('key', unknown, allowed)}")
