"""Shared neural-network blocks and the part registries; importing this registers the baseline parts."""

from geolm.nn import baseline
from geolm.nn.context import ForwardContext
from geolm.nn.layers import Linear, RMSNorm, RotaryEmbedding, apply_rotary
from geolm.nn.registry import ATTENTION, FFN, MEMORY, MODULATION, REGISTRIES, Registry

__all__ = [
    "ATTENTION",
    "FFN",
    "MEMORY",
    "MODULATION",
    "REGISTRIES",
    "ForwardContext",
    "Linear",
    "RMSNorm",
    "Registry",
    "RotaryEmbedding",
    "apply_rotary",
    "baseline",
]
