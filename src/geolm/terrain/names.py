"""What a parameter is, read from its name, for BERT, T5, GPT-2 and Llama/geolm naming schemes.

The weight battery compares "the same matrix" across layers and pairs Q with K, so a name must map to a kind
(q, k, v, o, gate, up, down, embedding, ...), a layer index, a stack (encoder/decoder) and an attention type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|block|blocks|h)\.(\d+)(?:\.|$)")
_ATTENTION_PARTS = {
    "attention",
    "self_attn",
    "selfattention",
    "encdecattention",
    "attn",
    "encoder_attn",
    "crossattention",
    "cross_attn",
}
_CROSS_PARTS = {"encdecattention", "encoder_attn", "crossattention", "cross_attn"}
_ATTENTION_LEAVES = {
    "q": {"q_proj", "query", "q", "wq", "q_lin"},
    "k": {"k_proj", "key", "k", "wk", "k_lin"},
    "v": {"v_proj", "value", "v", "wv", "v_lin"},
    "o": {"o_proj", "o", "wo", "out_proj", "out_lin", "c_proj", "dense"},
}
_MLP_LEAVES = {
    "gate": {"gate_proj", "wi_0", "w1"},
    "up": {"up_proj", "wi", "wi_1", "fc1", "c_fc", "w3", "lin1"},
    "down": {"down_proj", "wo", "fc2", "c_proj", "w2", "lin2"},
}
_EMBEDDING_LEAVES = {"word_embeddings", "embed_tokens", "shared", "wte", "tok_embeddings"}
_POSITION_LEAVES = {"position_embeddings", "wpe", "embed_positions"}
_HEAD_LEAVES = {"lm_head", "embed_out"}

ATTENTION_KINDS = ("q", "k", "v", "o")
MLP_KINDS = ("gate", "up", "down")


@dataclass(frozen=True)
class ParamName:
    """A parameter's role: `kind`, `layer` (None outside blocks), `stack` and `attention` ("self"/"cross")."""

    name: str
    kind: str
    layer: int | None
    stack: str
    attention: str

    @property
    def group(self) -> str:
        """Key of "the same matrix in every layer": stack, attention type and kind."""
        return ".".join(part for part in (self.stack, self.attention, self.kind) if part)


def _kind(parts: list[str]) -> tuple[str, str]:
    leaf = parts[-1]
    lower = [p.lower() for p in parts]
    if leaf == "relative_attention_bias":
        return "position_bias", ""
    if "norm" in leaf.lower() or leaf.startswith("ln"):
        return "norm", ""
    if leaf in _EMBEDDING_LEAVES:
        return "embedding", ""
    if leaf in _POSITION_LEAVES:
        return "position_embedding", ""
    if leaf == "token_type_embeddings":
        return "type_embedding", ""
    if leaf in _HEAD_LEAVES:
        return "lm_head", ""
    in_attention = bool(_ATTENTION_PARTS & set(lower[:-1]))
    if in_attention:
        attention = "cross" if _CROSS_PARTS & set(lower) else "self"
        for kind, leaves in _ATTENTION_LEAVES.items():
            if leaf in leaves and (leaf != "dense" or "output" in lower):
                return kind, attention
        return "other", attention
    if leaf == "dense" and "intermediate" in lower:
        return "up", ""
    if leaf == "dense" and "output" in lower:
        return "down", ""
    for kind, leaves in _MLP_LEAVES.items():
        if leaf in leaves:
            return kind, ""
    return "other", ""


def classify(name: str) -> ParamName:
    """Classify a parameter name such as `encoder.layer.3.attention.self.query.weight` or
    `model.layers.0.mlp.gate_proj.weight`."""
    stem = re.sub(r"\.(weight|bias)$", "", name)
    parts = stem.split(".")
    kind, attention = _kind(parts)
    match = _LAYER.search(stem)
    layer = int(match.group(1)) if match else None
    stack = "decoder" if "decoder" in parts else "encoder" if "encoder" in parts else ""
    return ParamName(name=name, kind=kind, layer=layer, stack=stack, attention=attention)
