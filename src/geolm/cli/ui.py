"""`geolm ui`: chat with a checkpoint in the browser (gradio's ChatInterface)."""

from __future__ import annotations

from geolm.cli.generate import (
    DEFAULTS,
    CheckpointArg,
    Device,
    Greedy,
    MaxNewTokens,
    RepetitionPenalty,
    Temperature,
    TopP,
)
from geolm.cli.serve import Host, Port
from geolm.errors import InputError


def ui(
    checkpoint: CheckpointArg,
    host: Host = "127.0.0.1",
    port: Port = 7860,
    max_new_tokens: MaxNewTokens = DEFAULTS.max_new_tokens,
    temperature: Temperature = DEFAULTS.temperature,
    top_p: TopP = DEFAULTS.top_p,
    repetition_penalty: RepetitionPenalty = DEFAULTS.repetition_penalty,
    greedy: Greedy = False,
    device: Device = None,
) -> None:
    """Open a chat page for CHECKPOINT at http://HOST:PORT; answers stream, settings sit under the box.

    Example: geolm ui runs/base --greedy, then open http://127.0.0.1:7860 in a browser.
    """
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InputError("geolm ui needs gradio: pip install 'geolm[ui]'") from None
    from geolm.inference.conversation import require_chat_template
    from geolm.inference.generation import SamplingOptions
    from geolm.inference.loading import load_for_inference
    from geolm.serving.chat_page import build_page, launch

    defaults = SamplingOptions(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        greedy=greedy,
    )
    model, tokenizer = load_for_inference(checkpoint, device=device)
    require_chat_template(tokenizer)
    launch(build_page(model, tokenizer, defaults, title=f"geolm: {checkpoint}"), host, port)
