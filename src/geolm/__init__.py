"""geolm: geometric language models that live in the Hugging Face ecosystem.

Importing the package registers `GeoConfig` and the geolm models with the transformers Auto classes, so
`AutoModelForCausalLM.from_pretrained(path)` loads any geolm checkpoint. The `geolm` command line defers this
until a verb runs (see `geolm_command`), and the names below are imported on first use.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.1.0"

_HOMES = {
    "GeoConfig": "geolm.config",
    "CheckpointError": "geolm.errors",
    "ConfigError": "geolm.errors",
    "DataError": "geolm.errors",
    "GeoError": "geolm.errors",
    "InputError": "geolm.errors",
    "TrainingError": "geolm.errors",
    "GeoForCausalLM": "geolm.modeling",
    "GeoForSequenceClassification": "geolm.modeling",
    "GeoForTokenClassification": "geolm.modeling",
    "GeoModel": "geolm.modeling",
    "GeoPreTrainedModel": "geolm.modeling",
    "InferenceStats": "geolm.nn.stats",
    "inference_stats": "geolm.nn.stats",
    "PRESETS": "geolm.presets",
    "register_preset": "geolm.presets",
}

__all__ = sorted([*_HOMES, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'geolm' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return __all__


if "geolm_command" not in sys.modules:  # library use: register now; the command registers when a verb runs
    from geolm.auto import register_auto

    register_auto()
