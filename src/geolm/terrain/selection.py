"""`--layers`: pick layers by index ("0,2-3") or rows by name glob ("*attention.self.query*")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from geolm.errors import ConfigError

_INDEX_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class LayerSelector:
    """Selects rows by layer index (rows outside the blocks, such as embeddings, are always kept) or by
    matching their name against comma-separated globs. No pattern selects everything."""

    pattern: str | None = None
    indices: frozenset[int] | None = field(init=False, default=None)
    globs: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if not self.pattern:
            return
        parts = [p for p in self.pattern.split(",") if p.strip()]
        if not parts:
            raise ConfigError(f"--layers {self.pattern!r} selects nothing")
        matches = [_INDEX_PART.match(p) for p in parts]
        if all(matches):
            indices: set[int] = set()
            for m in matches:
                lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
                if hi < lo:
                    raise ConfigError(f"--layers range {m.group(0).strip()!r} runs backwards")
                indices.update(range(lo, hi + 1))
            object.__setattr__(self, "indices", frozenset(indices))
        else:
            object.__setattr__(self, "globs", tuple(p.strip() for p in parts))

    def accepts(self, name: str, layer: int | None) -> bool:
        """Whether a row called `name` in block `layer` (None outside the blocks) is analysed."""
        if self.indices is not None:
            return layer is None or layer in self.indices
        if self.globs:
            return any(fnmatchcase(name, g) for g in self.globs)
        return True
