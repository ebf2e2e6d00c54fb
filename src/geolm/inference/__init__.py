"""Generation and chat: load a checkpoint, continue a prompt, hold a multi-turn conversation."""

from geolm.inference.conversation import Conversation, ConversationStats, read_conversation_file, render_chat
from geolm.inference.generation import Generation, SamplingOptions, encode_prompt, generate_text, trim_at_stop
from geolm.inference.loading import load_for_inference, resolve_checkpoint
from geolm.inference.responder import ResponseGenerator
from geolm.inference.session import ChatSession
from geolm.inference.streaming import StopTrimmingStreamer

__all__ = [
    "ChatSession",
    "Conversation",
    "ConversationStats",
    "Generation",
    "ResponseGenerator",
    "SamplingOptions",
    "StopTrimmingStreamer",
    "encode_prompt",
    "generate_text",
    "load_for_inference",
    "read_conversation_file",
    "render_chat",
    "resolve_checkpoint",
    "trim_at_stop",
]
