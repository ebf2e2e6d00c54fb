"""`geolm serve`: the OpenAI-compatible endpoint of transformers (`transformers serve`), adapted to geolm.

transformers' serving code already speaks the protocol on FastAPI: `/v1/models`, `/v1/chat/completions`
with and without streaming, `/v1/completions`, `/v1/responses` and `/health`. `transformers_app` builds that
app for a geolm checkpoint (the only code that knows transformers' serving classes); this module puts geolm's
request checks in front of it as ASGI middleware, which depends on no transformers internals:

`max_tokens` below 1 ends in a 500 in transformers, and a prompt longer than the model's context is decoded
past the positions it was trained on. Both are answered 400 with an OpenAI-style error before any handler
runs; with no `max_tokens` the reply may fill what is left of the context (transformers would ask for 1024
tokens).

Part state (coordinate context, memory slots) lives in the geolm cache that `generate()` starts from, so
every family serves as it decodes elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse

from geolm.devices import default_device
from geolm.inference.loading import checked_checkpoint


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

    def chat(self, body: dict) -> None:
        """Check a chat request, filling in its reply budget where it gives none."""
        self.fit(body, self.chat_prompt_tokens(body.get("messages")), ("max_completion_tokens", "max_tokens"))

    def completion(self, body: dict) -> None:
        """Check a completion request, filling in its reply budget where it gives none."""
        self.fit(body, self.completion_prompt_tokens(body.get("prompt", "")), ("max_tokens",))

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


CHECKED_ROUTES = {"/v1/chat/completions": ContextCheck.chat, "/v1/completions": ContextCheck.completion}


class RequestChecks:
    """ASGI middleware: checks the JSON body of chat and completion requests before the app sees them.

    A refused request gets its 4xx here; an accepted one goes on with its body as the checks left it (a default
    `max_tokens` filled in). A body that is not a JSON object goes on untouched, for the app to refuse."""

    def __init__(self, app: Any, check: ContextCheck) -> None:
        self.app, self.check = app, check

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        checked = CHECKED_ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if checked is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        raw = await read_body(receive)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            try:
                checked(self.check, body)
            except RequestError as error:
                await JSONResponse(error.body, status_code=error.status)(scope, receive, send)
                return
            raw = json.dumps(body).encode()
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(raw)).encode())]}
        await self.app(scope, replay(raw, receive), send)


async def read_body(receive: Any) -> bytes:
    """The whole body of an HTTP request, however many messages it came in."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Any) -> Any:
    """A `receive` that gives `body` first, then whatever the client sends next (a disconnect)."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def build_app(checkpoint: str | Path, device: str | None = None) -> Any:
    """The FastAPI app of transformers' server, preloaded with `checkpoint`, with geolm's checks in front."""
    from transformers import AutoConfig, AutoTokenizer

    from geolm.serving.transformers_app import transformers_app

    path = checked_checkpoint(checkpoint)
    context = AutoConfig.from_pretrained(path).max_position_embeddings
    check = ContextCheck(AutoTokenizer.from_pretrained(path), context)
    app = transformers_app(path, device or default_device().type)
    app.add_middleware(RequestChecks, check=check)
    return app


def serve(checkpoint: str | Path, host: str = "127.0.0.1", port: int = 8000, device: str | None = None) -> None:
    """Run the endpoint until interrupted."""
    import uvicorn

    uvicorn.run(build_app(checkpoint, device), host=host, port=port, log_level="warning")
