"""The one place geolm touches transformers' serving internals: building the FastAPI app of `transformers serve`
for one checkpoint.

`transformers.cli.serving` is not a public API: its classes change between minor releases. This module is the
seam that absorbs those changes, and nothing else in geolm imports from it. It knows two generations:

- up to 5.24, the model runs in the server's process (`ModelManager(device=..., force_model=...)`);
- from 5.25, the model runs in a process of its own, spawned at start-up (`ModelManager(ModelLoader(...), ...)`).

Either way the served class is found as an attribute of the `transformers` module, which `GeoForCausalLM` is
not, so it is put there in whichever process loads the model. Requests are checked in front of this app, by
plain ASGI middleware (`geolm.serving.endpoint`), which no release of transformers can break.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SERVED_CLASSES = ("GeoForCausalLM",)


def register_with_transformers() -> None:
    """Make geolm's model classes attributes of the `transformers` module object the serving code holds (in a
    spawned process it need not be the one in `sys.modules`), and of the one in `sys.modules`."""
    import transformers.cli.serving.model_manager as model_manager

    import geolm
    from geolm.auto import register_auto

    register_auto()
    for module in {id(m): m for m in (sys.modules["transformers"], model_manager.transformers)}.values():
        for name in SERVED_CLASSES:
            setattr(module, name, getattr(geolm, name))


def transformers_app(checkpoint: Path, device: str) -> Any:
    """transformers' OpenAI-compatible app serving `checkpoint` on `device`, the model loaded before it returns."""
    from transformers.cli.serving import chat_completion, completion, model_manager, response, server, systemone
    from transformers.cli.serving.transcription import TranscriptionHandler
    from transformers.cli.serving.utils import GenerationState

    state = GenerationState()  # one request at a time through generate(): no continuous batching, no compile
    if hasattr(model_manager, "ModelLoader"):  # 5.25 on: the model in a spawned process
        from geolm.serving.spawned import GeoModelLoader

        manager = model_manager.ModelManager(GeoModelLoader(device=device), state, force_model=str(checkpoint))
        transcription, generation = TranscriptionHandler(manager), {}
    else:  # up to 5.24: the model in this process
        register_with_transformers()
        manager = model_manager.ModelManager(device=device, force_model=str(checkpoint))
        transcription, generation = TranscriptionHandler(manager, state), {"generation_state": state}
    handlers = {"model_manager": manager, "generation_state": state}
    return server.build_server(
        manager,
        chat_completion.ChatCompletionHandler(**handlers),
        completion_handler=completion.CompletionHandler(**handlers),
        response_handler=response.ResponseHandler(**handlers),
        transcription_handler=transcription,
        systemone_handler=systemone.SystemOneHandler(**handlers),
        **generation,
    )
