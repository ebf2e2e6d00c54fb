"""`geolm ui`: a chat page in the browser on gradio's ChatInterface, the field's usual chat front end.

Answers stream in as they are generated (transformers' `TextIteratorStreamer` fed by `generate()` in a
thread), the sampling settings sit under the chat box, and a model whose parts report a per-token statistic
the page knows shows it under each answer: coordinate models their per-token uncertainty.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from geolm.errors import GeoError, InputError
from geolm.inference.conversation import render_chat, reply_end_ids
from geolm.inference.generation import SamplingOptions, generate_text
from geolm.nn.stats import InferenceStats, inference_stats

SHOWN_PER_TOKEN = {"coordinate_uncertainty": "coordinate uncertainty per token"}


def message_text(content: Any) -> str:
    """The text of a chat message's content: a string, or gradio's list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(message_text(part) for part in content)
    return str(content)


def per_token_line(stats: InferenceStats) -> str:
    """One line per statistic of `SHOWN_PER_TOKEN` the model reported, its value for each generated token."""
    lines = []
    for name, label in SHOWN_PER_TOKEN.items():
        if stats.calls and name in stats.names:
            values = stats.per_token(name)[0].float()
            values = values.mean(-1) if values.dim() > 1 else values
            lines.append(f"*{label}:* " + " ".join(f"{v:.2f}" for v in values.tolist()))
    return "\n".join(lines)


class ChatResponder:
    """The page's answer function: history and a new message in, the growing reply out."""

    def __init__(self, model: Any, tokenizer: Any, defaults: SamplingOptions) -> None:
        self.model, self.tokenizer, self.defaults = model, tokenizer, defaults
        self.lock = threading.Lock()  # one generation at a time: the model is shared

    def options(self, temperature: float, top_p: float, max_new_tokens: int) -> SamplingOptions:
        greedy = temperature <= 0
        return replace(
            self.defaults,
            temperature=temperature if not greedy else self.defaults.temperature,
            top_p=top_p,
            max_new_tokens=int(max_new_tokens),
            greedy=greedy,
        )

    def respond(
        self, message: Any, history: list[dict], temperature: float, top_p: float, max_new_tokens: int
    ) -> Iterator[str]:
        """The reply to `message` after `history`, growing as it is generated (gradio's streaming contract)."""
        import gradio as gr
        from transformers import TextIteratorStreamer

        messages = [{"role": turn["role"], "content": message_text(turn["content"])} for turn in history]
        messages.append({"role": "user", "content": message_text(message)})
        try:
            options = self.options(temperature, top_p, max_new_tokens)
            prompt = render_chat(self.tokenizer, messages, add_generation_prompt=True)
        except GeoError as error:
            raise gr.Error(str(error)) from None
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def run(stats: InferenceStats) -> None:
            try:
                generate_text(
                    self.model,
                    self.tokenizer,
                    prompt,
                    options,
                    extra_eos_ids=reply_end_ids(self.tokenizer),
                    streamer=streamer,
                )
            except BaseException as error:  # surfaced on the page below; the streamer must still end
                failure.append(error)
                streamer.end()

        with self.lock, inference_stats(self.model) as stats:
            worker = threading.Thread(target=run, args=(stats,), daemon=True)
            worker.start()
            text = ""
            for piece in streamer:
                text += piece
                yield text
            worker.join()
        if failure:
            raise gr.Error(str(failure[0]))
        extra = per_token_line(stats)
        if extra:
            yield f"{text}\n\n{extra}"


def build_page(model: Any, tokenizer: Any, defaults: SamplingOptions, title: str) -> Any:
    """The gradio app: a ChatInterface with temperature (0: greedy), top-p and length under the box."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    import gradio as gr

    settings = [
        gr.Slider(
            0.0, 2.0, value=0.0 if defaults.greedy else defaults.temperature, step=0.05, label="temperature (0: greedy)"
        ),
        gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.05, label="top-p"),
        gr.Slider(1, 1024, value=defaults.max_new_tokens, step=1, label="max new tokens"),
    ]
    return gr.ChatInterface(
        ChatResponder(model, tokenizer, defaults).respond,  # a generator function: gradio streams it
        additional_inputs=settings,
        additional_inputs_accordion=gr.Accordion("sampling", open=False),
        title=title,
        analytics_enabled=False,
        flagging_mode="never",
    )


def launch(page: Any, host: str, port: int) -> None:
    """Serve the page until interrupted (no share link, nothing fetched from outside)."""
    try:
        page.queue().launch(server_name=host, server_port=port, share=False, inbrowser=False, show_error=True)
    except OSError as error:
        raise InputError(f"cannot serve the page at {host}:{port}: {error}") from None
