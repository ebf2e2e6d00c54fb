"""Which geometries which kinds of tokens are routed to: the routing of a trained mixture, by token kind.

A token's kind comes from its text: a whole word that WordNet knows gets the part of speech and the
lexicographer category of its most frequent sense (noun.animal, verb.motion, ...); numbers, punctuation and
word pieces WordNet does not know are kinds of their own. The routing is each token's share of assignments
per expert (the `expert_load` statistic, averaged over the mixture layers), summed over each geometry's
experts: a row of the table says where that kind of token goes.

Two numbers sum it up. The geometry entropy (over all tokens, in bits, against log2 of the number of
geometries) says whether routing collapsed onto few geometries; the mutual information between token kind
and geometry, as a share of the geometry entropy, says how much a token's kind tells about where it goes
(0: routing ignores the kind; 1: the kind decides the geometry).
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from geolm.data.lexicon import Lexicon
from geolm.experts.moe import LOAD, GeometricMoE
from geolm.files import write_atomic

POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}


def word_kinds(lexicon: Lexicon) -> dict[str, tuple[str, str]]:
    """Lowercase lemma -> (part of speech, category) of its most frequent sense in WordNet's tagged corpus."""
    best: dict[str, tuple[int, str, str]] = {}
    for synset in lexicon.synsets:
        for lemma in synset.lemmas:
            word = lemma.lower()
            if word not in best or synset.count > best[word][0]:
                best[word] = (synset.count, POS_NAMES.get(synset.pos, synset.pos), synset.lexname)
    return {word: (pos, category) for word, (_, pos, category) in best.items()}


def token_kind(text: str, words: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(part of speech, category) of one token's text; kinds of their own for what is not a word."""
    stripped = text.strip().lower()
    if not stripped:
        return "space", "space"
    if stripped.isdigit():
        return "number", "number"
    if all(ch in string.punctuation for ch in stripped):
        return "punctuation", "punctuation"
    return words.get(stripped, ("other", "word piece"))


def mixture_geometries(model: nn.Module) -> list[str]:
    """The geometry of each expert (counted over all groups), from the model's first mixture layer."""
    layer = next((m for m in model.modules() if isinstance(m, GeometricMoE)), None)
    if layer is None:
        raise ValueError("the model has no mixture-of-experts layer (ffn 'geometric_moe')")
    sizes = layer.options.group_sizes
    return [g for g, count in zip(layer.options.geometries, sizes, strict=True) for _ in range(count)]


@torch.no_grad()
def routing_by_kind(
    model: nn.Module,
    tokenizer,
    blocks: Iterable[torch.Tensor],
    words: dict[str, tuple[str, str]],
    per_expert: bool = False,
) -> pd.DataFrame:
    """One row per (level, kind): level "pos" or "category"; `tokens` counted and the share of their
    assignments that went to each geometry (columns named after the geometries, rows summing to 1), or to
    each expert with `per_expert` (columns "euclidean0", "euclidean1", ...)."""
    geometries = mixture_geometries(model)
    if per_expert:
        geometries = [f"{g}{i}" for i, g in enumerate(geometries)]
    names = list(dict.fromkeys(geometries))
    to_geometry = torch.zeros(len(geometries), len(names))
    to_geometry[torch.arange(len(geometries)), torch.tensor([names.index(g) for g in geometries])] = 1.0
    texts = {}
    sums: dict[tuple[str, str], np.ndarray] = {}
    counts: dict[tuple[str, str], int] = {}
    model.eval()
    for ids in blocks:
        load = model(ids.to(model.device), use_cache=False).part_stats[LOAD].cpu()  # (B, T, E)
        shares = (load @ to_geometry).reshape(-1, len(names)).numpy()
        for token, share in zip(ids.reshape(-1).tolist(), shares, strict=True):
            if token == tokenizer.pad_token_id:  # the padding of a last, short block
                continue
            if token not in texts:
                texts[token] = token_kind(tokenizer.decode([token]), words)
            pos, category = texts[token]
            for key in (("pos", pos), ("category", category)):
                sums[key] = sums.get(key, 0.0) + share
                counts[key] = counts.get(key, 0) + 1
    rows = [
        {"level": level, "kind": kind, "tokens": counts[key], **dict(zip(names, total / counts[key], strict=True))}
        for key, total in sums.items()
        for level, kind in [key]
    ]
    return pd.DataFrame(rows).sort_values(["level", "tokens"], ascending=[True, False], ignore_index=True)


def specialisation(table: pd.DataFrame, level: str = "category") -> dict[str, float]:
    """Geometry entropy (bits) and its maximum, and the mutual information between kind and geometry (bits
    and as a share of the geometry entropy), from the rows of one level weighted by their token counts."""
    rows = table[table["level"] == level]
    geometries = [c for c in table.columns if c not in ("level", "kind", "tokens")]
    joint = rows[geometries].to_numpy() * rows["tokens"].to_numpy()[:, None]
    joint = joint / joint.sum()
    p_geometry, p_kind = joint.sum(0), joint.sum(1)

    def entropy(p: np.ndarray) -> float:
        p = p[p > 0]
        return float(-(p * np.log2(p)).sum())

    h_geometry = entropy(p_geometry)
    mutual = h_geometry + entropy(p_kind) - entropy(joint.reshape(-1))
    return {
        "geometry_entropy_bits": h_geometry,
        "max_entropy_bits": math.log2(len(geometries)),
        "mutual_information_bits": mutual,
        "kind_explains": mutual / h_geometry if h_geometry > 0 else 0.0,
        **{f"share_{g}": float(p) for g, p in zip(geometries, p_geometry, strict=True)},
    }


def plot_routing(table: pd.DataFrame, path: Path, level: str = "category", top: int = 20) -> None:
    """A heat map of the `top` most frequent kinds of `level` against the geometries (share of assignments)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table[table["level"] == level].head(top)
    geometries = [c for c in table.columns if c not in ("level", "kind", "tokens")]
    fig, ax = plt.subplots(figsize=(1.1 * len(geometries) + 3, 0.35 * len(rows) + 1.5))
    image = ax.imshow(rows[geometries].to_numpy(), aspect="auto", cmap="viridis", vmin=0)
    ax.set_xticks(range(len(geometries)), geometries, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [f"{k} ({n:,})" for k, n in zip(rows["kind"], rows["tokens"], strict=True)])
    ax.set_xlabel("expert geometry")
    ax.set_ylabel(f"token {'category' if level == 'category' else 'part of speech'} (tokens seen)")
    ax.set_title("share of routing assignments by geometry")
    fig.colorbar(image, ax=ax, label="share of the kind's assignments")
    fig.tight_layout()
    write_atomic(path, lambda temp: fig.savefig(temp, dpi=120, format="png"))
    plt.close(fig)
