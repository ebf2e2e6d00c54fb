"""The shape every battery shares: a name, what it measures, and a function from context to frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geolm.terrain.context import TerrainContext


@dataclass
class BatteryResult:
    """Tidy frames (each with a `status` column) and a few headline numbers for the summary."""

    frames: dict[str, pd.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Battery:
    """A named group of measurements; `needs` lists inputs without which parts report a skipped status."""

    name: str
    description: str
    needs: tuple[str, ...]
    run: Callable[[TerrainContext], BatteryResult]


NOT_APPLICABLE = "not applicable: "  # a status for what the model's architecture lacks; it does not make "partial"


def skipped(status: str, **columns: Any) -> pd.DataFrame:
    """A one-row frame saying why nothing was measured, instead of a silently missing table."""
    return pd.DataFrame([{**columns, "status": status}])
