"""Registration of geolm's config and models with the transformers Auto classes.

`import geolm` calls `register_auto()`, so `AutoModelForCausalLM.from_pretrained(path)` loads any geolm
checkpoint. The `geolm` command calls it only when a verb runs, so that `--help` starts without torch.
"""

from __future__ import annotations

import functools


@functools.cache
def register_auto() -> None:
    """Register every system's parts and presets, then `GeoConfig` and the model classes (idempotent)."""
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )

    from geolm.config import GeoConfig
    from geolm.modeling import GeoForCausalLM, GeoForSequenceClassification, GeoForTokenClassification, GeoModel
    from geolm.systems import register_systems

    register_systems()  # each system registers its parts, presets and parameter components
    AutoConfig.register("geolm", GeoConfig, exist_ok=True)
    AutoModel.register(GeoConfig, GeoModel, exist_ok=True)
    AutoModelForCausalLM.register(GeoConfig, GeoForCausalLM, exist_ok=True)
    AutoModelForSequenceClassification.register(GeoConfig, GeoForSequenceClassification, exist_ok=True)
    AutoModelForTokenClassification.register(GeoConfig, GeoForTokenClassification, exist_ok=True)
