"""One way for every part to declare, read and check its options, and to take phase settings.

A part's options are a frozen dataclass deriving from `PartOptions`, each field declared with `option()`:
its default, what values it allows, and whether a curriculum phase may change it while training (`phase=True`:
a runtime value such as an iteration limit, never a shape). The config holds them as
`part_options = {kind: {key: value}}`; `GeoConfig` checks them when it is created, so a misspelt key or a value
out of range fails before a model is built. A recipe's options (`geolm.training.recipes.RecipeOptions`) are
built and checked the same way (`Options`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Self

from geolm.errors import ConfigError, unknown_names

Check = Callable[[Any], bool]


def option(default: Any, check: Check, allowed: str, *, phase: bool = False, **described: Any) -> Any:
    """A dataclass field with the test its values must pass, the words naming what passes, whether a phase
    may set it, and what else its owner records about it (`described`: a recipe option's flag help)."""
    return field(default=default, metadata={"check": check, "allowed": allowed, "phase": phase, **described})


def is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def non_negative(value: Any) -> bool:
    return is_real(value) and value >= 0


def positive(value: Any) -> bool:
    return is_real(value) and value > 0


def boolean(value: Any) -> bool:
    return isinstance(value, bool)


def in_interval(low: float, high: float, *, closed_high: bool = False) -> Check:
    """[low, high) or, with `closed_high`, [low, high]."""
    return lambda v: is_real(v) and low <= v and (v <= high if closed_high else v < high)


def one_of(*allowed: Any) -> Check:
    return lambda v: v in allowed


@dataclass(frozen=True)
class Options:
    """Base of the checked option dataclasses (a part's, a recipe's): built from JSON-like data, every field
    declared with `option()` and checked against it."""

    @classmethod
    def where(cls) -> str:
        """How errors name these options."""
        return cls.__name__

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Self:
        """Options from JSON-like data: lists become tuples; an unknown key or a bad value is a `ConfigError`."""
        cls._refuse_unknown(raw, [f.name for f in fields(cls)], cls.where())
        options = cls(**_tuples(raw))
        options.check()
        return options

    def check(self, where: str | None = None) -> None:
        """Raise `ConfigError` naming the first key whose value fails its declared test, then `check_together`."""
        where = where or self.where()
        for spec in fields(self):
            test = spec.metadata.get("check")
            value = getattr(self, spec.name)
            if test is not None and not _passes(test, value):
                raise ConfigError(f"{where}[{spec.name!r}] must be {spec.metadata['allowed']}, got {value!r}")
        self.check_together(where)

    def check_together(self, where: str) -> None:
        """Checks that involve several keys; subclasses override it."""

    @staticmethod
    def _refuse_unknown(raw: Mapping[str, Any], allowed: list[str], where: str) -> None:
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise ConfigError(f"{where}: {unknown_names('key', unknown, allowed)}")


@dataclass(frozen=True)
class PartOptions(Options):
    """Base of every part's options; `kind` is the config key of the part ("attention", "ffn", ...)."""

    kind: ClassVar[str] = ""

    @classmethod
    def where(cls) -> str:
        return f"part_options[{cls.kind!r}]"

    @classmethod
    def from_config(cls, config: Any) -> Self:
        """The options in `config.part_options[kind]` (missing keys take defaults), checked."""
        return cls.from_mapping((config.part_options or {}).get(cls.kind, {}))

    @classmethod
    def phase_keys(cls) -> list[str]:
        """The options a curriculum phase may set."""
        return [f.name for f in fields(cls) if f.metadata.get("phase")]

    def with_settings(self, settings: Mapping[str, Any], where: str = "part_settings") -> Self:
        """These options with a phase's settings applied; only keys declared with `phase=True` may be set."""
        allowed = self.phase_keys()
        here = f"{where}[{self.kind!r}]"
        if not allowed and settings:
            raise ConfigError(f"{here}: this {self.kind} part takes no phase settings")
        self._refuse_unknown(settings, allowed, here)
        updated = replace(self, **_tuples(settings))
        updated.check(here)
        return updated

    def check_in(self, config: Any) -> None:
        """Checks against the rest of the model's config (the parts chosen beside this one); subclasses
        override it."""


def _tuples(raw: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-like values with lists as tuples, as the frozen options hold them."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in raw.items()}


def _passes(test: Check, value: Any) -> bool:
    try:
        return bool(test(value))
    except TypeError:
        return False


def options_class(part: Any) -> type[PartOptions] | None:
    """The options class a registered part declares as `options_class`, or None for a part without options."""
    declared = getattr(part, "options_class", None)
    return declared if isinstance(declared, type) and issubclass(declared, PartOptions) else None
