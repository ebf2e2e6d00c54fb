"""geolm: geometric language models that live in the Hugging Face ecosystem.

Importing the package registers `GeoConfig` and the geolm models with the transformers Auto classes, so
`AutoModelForCausalLM.from_pretrained(path)` loads any geolm checkpoint.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from geolm.config import GeoConfig
from geolm.errors import CheckpointError, ConfigError, DataError, GeoError, InputError, TrainingError
from geolm.modeling import (
    GeoForCausalLM,
    GeoForSequenceClassification,
    GeoForTokenClassification,
    GeoModel,
    GeoPreTrainedModel,
)
from geolm.nn.stats import InferenceStats, inference_stats
from geolm.presets import PRESETS, register_preset
from geolm.systems import register_systems

register_systems()  # each system registers its parts, presets and parameter components

__version__ = "0.1.0"

AutoConfig.register("geolm", GeoConfig, exist_ok=True)
AutoModel.register(GeoConfig, GeoModel, exist_ok=True)
AutoModelForCausalLM.register(GeoConfig, GeoForCausalLM, exist_ok=True)
AutoModelForSequenceClassification.register(GeoConfig, GeoForSequenceClassification, exist_ok=True)
AutoModelForTokenClassification.register(GeoConfig, GeoForTokenClassification, exist_ok=True)

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "GeoConfig",
    "GeoError",
    "GeoForCausalLM",
    "GeoForSequenceClassification",
    "GeoForTokenClassification",
    "GeoModel",
    "GeoPreTrainedModel",
    "InferenceStats",
    "InputError",
    "TrainingError",
    "__version__",
    "inference_stats",
    "register_preset",
]
