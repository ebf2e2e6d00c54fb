"""`geolm serve`: the OpenAI-compatible endpoint of transformers (`transformers serve`), adapted to geolm.

transformers' serving code already speaks the protocol on FastAPI: `/v1/models`, `/v1/chat/completions`
with and without streaming, `/v1/completions`, `/v1/responses` and `/health`. Two things stop it from serving
a geolm checkpoint, and this module adds only those:

1. It finds a checkpoint's class as an attribute of the `transformers` module (`GeoForCausalLM` is not one),
   so geolm's model classes are put there (`register_with_transformers`).
2. It lets requests through that cannot be answered well: `max_tokens` below 1 ends in a 500, and a prompt
   longer than the model's context is decoded past the positions it was trained on. The handlers here check
   both before generating and answer 400 with an OpenAI-style error; with no `max_tokens` the reply may
   fill what is left of the context (transformers would ask for 1024 tokens).

Part state (coordinate context, memory slots) lives in the geolm cache that `generate()` starts from, so
every family serves as it decodes elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geolm.inference.loading import checked_checkpoint, default_device

SERVED_CLASSES = ("GeoForCausalLM",)


def register_with_transformers() -> None:
    """Make geolm's model classes attributes of every `transformers` module object the serving code may hold."""
    import sys

    import transformers.cli.serving.model_manager as model_manager

    import geolm

    for module in {id(m): m for m in (sys.modules["transformers"], model_manager.transformers)}.values():
        for name in SERVED_CLASSES:
            setattr(module, name, getattr(geolm, name))


def error_body(message: str, param: str | None, code: str) -> dict[str, Any]:
    """The error object the OpenAI API answers with."""
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


class RequestError(Exception):
    """A request that the checks refuse: answered with `status` and an OpenAI-style error body."""

    def __init__(self, status: int, message: str, param: str | None, code: str) -> None:
        super().__init__(message)
        self.status, self.body = status, error_body(message, param, code)


class ContextCheck:
    """Counts a request's prompt tokens as the handlers will, and fits `max_tokens` into the context."""

    def __init__(self, tokenizer: Any, context: int) -> None:
        self.tokenizer, self.context = tokenizer, context

    def chat_prompt_tokens(self, messages: Any) -> int:
        if not isinstance(messages, list) or not messages:
            raise RequestError(400, "messages must be a non-empty list", "messages", "invalid_messages")
        try:
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        except Exception as error:  # a malformed message is the request's fault, whatever the template raised
            raise RequestError(
                400, f"messages could not be rendered: {error}", "messages", "invalid_messages"
            ) from None
        return len(ids["input_ids"] if hasattr(ids, "keys") else ids)  # a BatchEncoding in transformers 5

    def completion_prompt_tokens(self, prompt: Any) -> int:
        if not isinstance(prompt, str):
            raise RequestError(400, "prompt must be a string", "prompt", "invalid_prompt")
        return len(self.tokenizer(prompt)["input_ids"])

    def fit(self, body: dict, prompt_tokens: int, keys: tuple[str, ...]) -> None:
        """Refuse a budget below 1 or past the context; with none given, allow what the context has left."""
        given = next((key for key in keys if body.get(key) is not None), None)
        left = self.context - prompt_tokens
        if given is not None:
            value = body[given]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RequestError(400, f"{given} must be a positive integer, got {value!r}", given, "invalid_value")
            if value > left:
                raise RequestError(
                    400,
                    f"the prompt is {prompt_tokens} tokens and {given} is {value}, but the model's context holds "
                    f"{self.context} tokens",
                    given,
                    "context_length_exceeded",
                )
            return
        if left < 1:
            raise RequestError(
                400,
                f"the prompt is {prompt_tokens} tokens but the model's context holds {self.context}",
                keys[-1],
                "context_length_exceeded",
            )
        body[keys[-1]] = left


def build_app(checkpoint: str | Path, device: str | None = None) -> Any:
    """The FastAPI app of transformers' server, preloaded with `checkpoint`, with geolm's checks in front."""
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from transformers import AutoConfig, AutoTokenizer
    from transformers.cli.serving.chat_completion import ChatCompletionHandler
    from transformers.cli.serving.completion import CompletionHandler
    from transformers.cli.serving.model_manager import ModelManager
    from transformers.cli.serving.response import ResponseHandler
    from transformers.cli.serving.server import build_server
    from transformers.cli.serving.systemone import SystemOneHandler
    from transformers.cli.serving.transcription import TranscriptionHandler
    from transformers.cli.serving.utils import GenerationState

    path = checked_checkpoint(checkpoint)
    register_with_transformers()
    config = AutoConfig.from_pretrained(path)
    check = ContextCheck(AutoTokenizer.from_pretrained(path), config.max_position_embeddings)

    class CheckedChat(ChatCompletionHandler):
        def _validate_request(self, body: dict) -> None:
            super()._validate_request(body)
            check.fit(body, check.chat_prompt_tokens(body.get("messages")), ("max_completion_tokens", "max_tokens"))

    class CheckedCompletion(CompletionHandler):
        def _validate_request(self, body: dict) -> None:
            super()._validate_request(body)
            check.fit(body, check.completion_prompt_tokens(body.get("prompt", "")), ("max_tokens",))

    manager = ModelManager(device=device or default_device().type, dtype="auto", force_model=str(path))
    state = GenerationState(continuous_batching=False, compile=False, cb_config=None)
    common = {"model_manager": manager, "generation_state": state}
    app = build_server(
        manager,
        CheckedChat(**common, chat_template_kwargs={}),
        completion_handler=CheckedCompletion(**common),
        response_handler=ResponseHandler(**common, chat_template_kwargs={}),
        transcription_handler=TranscriptionHandler(manager, state),
        systemone_handler=SystemOneHandler(**common, chat_template_kwargs={}),
        generation_state=state,
    )

    @app.exception_handler(RequestError)
    async def refused(_request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse(error.body, status_code=error.status)

    return app


def serve(checkpoint: str | Path, host: str = "127.0.0.1", port: int = 8000, device: str | None = None) -> None:
    """Run the endpoint until interrupted."""
    import uvicorn

    uvicorn.run(build_app(checkpoint, device), host=host, port=port, log_level="warning")
