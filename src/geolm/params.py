"""Honest parameter counts by component, counted from the built model (shared tensors once)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from torch import nn

from geolm.systems import component_rules

if TYPE_CHECKING:
    import pandas as pd

# (pattern on the parameter name, component); first match wins, after the families' own rules
# (`geolm.systems.Family.components`).
GENERIC_RULES: tuple[tuple[str, str], ...] = (
    (r"embed_tokens\.|embed_proj\.|head_proj\.", "embeddings"),
    (r"\.modulation\.", "modulation"),
    (r"\.memory\.", "memory"),
    (r"\.self_attn\.", "attention"),
    (r"\.mlp\.", "ffn"),
    (r"norm\.weight$|norm\.bias$", "norms"),
    (r"^(lm_head|score)\.", "output"),
)


BASE_COMPONENTS = ("embeddings", "attention", "ffn", "norms", "output")


def component_of(name: str) -> str:
    """The component a parameter name belongs to ("other" if no rule matches)."""
    for pattern, component in (*component_rules(), *GENERIC_RULES):
        if re.search(pattern, name):
            return component
    return "other"


def active_shares(model: nn.Module) -> dict[int, float]:
    """The share of each parameter (by id) that one token uses: a module that only some tokens run (an expert
    of a mixture) declares it as `active_share`; everything else counts whole."""
    shares: dict[int, float] = {}
    for module in model.modules():
        share = getattr(module, "active_share", None)
        if isinstance(share, float):
            shares.update({id(p): share for p in module.parameters()})
    return shares


def parameter_table(model: nn.Module) -> pd.DataFrame:
    """One row per component: parameters, trainable parameters, parameters active per token, share of the total.

    A weight shared by two modules (tied embeddings) is counted once, under the first name that holds it.
    The base components are always listed (with 0 where absent, such as a tied output projection).
    """
    import pandas as pd  # here, so that systems registering their rules at import stay light

    shares = active_shares(model)
    counts: dict[str, list[float]] = {name: [0, 0, 0.0] for name in BASE_COMPONENTS}
    for name, param in model.named_parameters():  # yields each shared tensor once
        row = counts.setdefault(component_of(name), [0, 0, 0.0])
        row[0] += param.numel()
        row[1] += param.numel() if param.requires_grad else 0
        row[2] += param.numel() * shares.get(id(param), 1.0)
    frame = pd.DataFrame(
        [(component, total, trainable, round(active)) for component, (total, trainable, active) in counts.items()],
        columns=["component", "parameters", "trainable", "active"],
    )
    frame["share"] = frame["parameters"] / max(int(frame["parameters"].sum()), 1)
    return frame


def count_parameters(model: nn.Module) -> int:
    """Total distinct parameters."""
    return sum(p.numel() for p in model.parameters())


def human(count: float) -> str:
    """12345678 -> '12.35M'."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(count) >= scale:
            return f"{count / scale:.2f}{unit}"
    return str(int(count))
