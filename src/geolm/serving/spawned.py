"""The model loader of transformers 5.25 and later, which loads the served model in a spawned process.

A spawned process starts with a fresh `transformers` module that knows nothing of geolm; the loader is sent to
it by pickling, so a subclass defined here brings geolm's registration along (see `transformers_app`).
"""

from __future__ import annotations

from typing import Any

from transformers.cli.serving.model_manager import ModelLoader

from geolm.serving.transformers_app import register_with_transformers


class GeoModelLoader(ModelLoader):
    """transformers' loader, with geolm's classes registered in the process that loads the model."""

    def load_model_and_processor(self, *args: Any, **kwargs: Any) -> Any:
        register_with_transformers()
        return super().load_model_and_processor(*args, **kwargs)
