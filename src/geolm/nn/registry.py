"""A tiny name -> class registry per pluggable part kind, so systems add parts without editing the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from geolm.errors import ConfigError, unknown_names

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps part names (the values of a config key such as `attention`) to the classes that build them."""

    def __init__(self, kind: str, noun: str | None = None) -> None:
        self.kind = kind
        self.noun = noun or f"{kind} part"  # what an error message calls an entry
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: `@ATTENTION.register("curvature")`."""

        def add(cls: T) -> T:
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(f"{self.noun} {name!r} is already registered")
            self._entries[name] = cls
            return cls

        return add

    def get(self, name: str) -> T:
        """The class registered as `name`; an unknown name raises a `ConfigError` listing the known ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ConfigError(unknown_names(self.noun, [name], sorted(self._entries))) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


ATTENTION: Registry = Registry("attention")
FFN: Registry = Registry("ffn")
MODULATION: Registry = Registry("modulation")
MEMORY: Registry = Registry("memory")
REGISTRIES: dict[str, Registry] = {
    "attention": ATTENTION,
    "ffn": FFN,
    "modulation": MODULATION,
    "memory": MEMORY,
}


def modulated_roles(config) -> dict[str, tuple[str, ...]]:
    """The projections a modulation may target in the model `config` describes: the roles its attention and
    FFN parts declare (`modulated_roles`), by part kind."""
    return {
        kind: getattr(REGISTRIES[kind].get(getattr(config, kind)), "modulated_roles", ())
        for kind in ("attention", "ffn")
    }
