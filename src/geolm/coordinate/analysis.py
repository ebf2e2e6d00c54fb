"""Looking at coordinates: statistics of a prompt, generation along a path between two prompts, a PNG plot.

A prompt's coordinates are its context at the last token divided by (1 - d^T): the running context starts
at zero, so without this correction a short prompt would look small merely for being short. The result is
the decay-weighted mean of the per-token coordinates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from geolm.coordinate.decoding import Prompt, as_input_ids
from geolm.coordinate.modulation import (
    CONTEXT,
    THETA,
    UNCERTAINTY,
    coordinate_override,
    find_modulation,
    start_from,
)
from geolm.errors import InputError
from geolm.files import write_atomic
from geolm.nn.cache import CACHE_KWARG
from geolm.nn.stats import inference_stats


@torch.no_grad()
def prompt_coordinates(model: PreTrainedModel, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """theta and theta_ctx (B, T, D), per-token uncertainty (B, T) and the prompt coordinates (B, D), as one
    forward of the model reports them (`inference_stats` with detail), on the CPU."""
    decay = find_modulation(model).options.context_decay
    with inference_stats(model, detail=True) as stats:
        model(input_ids=input_ids, use_cache=False)
    context = stats.prompt(CONTEXT)
    return {
        "theta": stats.prompt(THETA),
        "theta_context": context,
        "uncertainty": stats.prompt(UNCERTAINTY),
        "coordinates": context[:, -1] / (1.0 - decay ** input_ids.shape[1]),
    }


def get_coordinate_statistics(
    model: PreTrainedModel, prompt: Prompt, tokenizer: PreTrainedTokenizerBase | None = None
) -> dict[str, Any]:
    """Coordinates of one prompt: `norm` and `top_10_dims` (largest |coordinate|, with `top_10_values`),
    plus per-token `uncertainty`, `token_norms`, `theta` and `theta_context` (CPU tensors)."""
    ids = as_input_ids(prompt, tokenizer, model.device)
    if ids.shape[0] != 1:
        raise InputError(f"coordinate statistics take one prompt, got a batch of {ids.shape[0]}")
    found = {name: value[0] for name, value in prompt_coordinates(model, ids).items()}
    top = found["coordinates"].abs().topk(min(10, found["coordinates"].numel()))
    return {
        "norm": float(found["coordinates"].norm()),
        "top_10_dims": top.indices.tolist(),
        "top_10_values": found["coordinates"][top.indices].tolist(),
        "uncertainty": found["uncertainty"],
        "token_norms": found["theta"].norm(dim=-1),
        "theta": found["theta"],
        "theta_context": found["theta_context"],
        "token_ids": ids[0].cpu(),
    }


@torch.no_grad()
def interpolate_coordinates(
    model: PreTrainedModel,
    prompt_a: Prompt,
    prompt_b: Prompt,
    steps: int = 5,
    tokenizer: PreTrainedTokenizerBase | None = None,
    *,
    start: Prompt | None = None,
    max_new_tokens: int = 20,
) -> list[tuple[float, str | list[int]]]:
    """Greedy continuations of `start` (default: the BOS token) with the coordinates held at
    (1 - a) * coords(prompt_a) + a * coords(prompt_b) for `steps` values of a from 0 to 1.

    Every token's theta and the starting context are set to that point, so theta_ctx stays on it throughout.
    Returns (a, text) pairs with a tokenizer, else (a, new token ids).
    """
    if steps < 2:
        raise InputError(f"interpolation needs at least 2 steps (both ends), got {steps}")
    ends = [
        prompt_coordinates(model, as_input_ids(p, tokenizer, model.device))["coordinates"][:1].to(model.device)
        for p in (prompt_a, prompt_b)
    ]
    if start is None:
        bos = (tokenizer or model.config).bos_token_id
        if bos is None:
            raise InputError("no BOS token to start from; pass start=")
        start = [bos]
    ids = as_input_ids(start, tokenizer, model.device)[:1]
    special = tokenizer if tokenizer is not None else model.config
    results: list[tuple[float, str | list[int]]] = []
    for alpha in torch.linspace(0.0, 1.0, steps).tolist():  # a handful of generations, not a forward loop
        point = torch.lerp(ends[0], ends[1], alpha)
        cache = model.base_model.new_cache()
        start_from(cache, point)
        with coordinate_override(model, point):
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                **{CACHE_KWARG: cache},
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=special.pad_token_id,
                eos_token_id=special.eos_token_id,
            )
        new = out[0, ids.shape[1] :].tolist()
        results.append((alpha, tokenizer.decode(new, skip_special_tokens=True) if tokenizer else new))
    return results


def token_texts(tokenizer: PreTrainedTokenizerBase, token_ids: list[int]) -> list[str]:
    """Each token as the text it decodes to (` heron`, not byte-level `Ġheron`), for labels and tables."""
    return [tokenizer.decode([i]) for i in token_ids]


def plot_coordinate_activity(
    statistics: dict[str, Any], path: str | Path, tokens: list[str] | None = None, dims: int = 10
) -> Path:
    """PNG of |theta| per token over the prompt's most active dims, and the per-token uncertainty below.

    `statistics` is what `get_coordinate_statistics` returns; the file is written whole or not at all.
    """
    path = Path(path)
    theta = statistics["theta"]
    chosen = statistics["top_10_dims"][:dims]
    labels = tokens if tokens is not None else [str(i) for i in statistics["token_ids"].tolist()]
    figure = Figure(figsize=(max(6.0, 0.45 * len(labels)), 6.0), layout="constrained")
    FigureCanvasAgg(figure)
    heat, line = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    activity = theta[:, chosen].abs().T.numpy()
    image = heat.imshow(activity, aspect="auto", cmap="viridis", interpolation="nearest")
    heat.set_yticks(range(len(chosen)), [f"dim {d}" for d in chosen])
    heat.set_title("coordinate activity |theta[t, dim]| on the prompt's most active dims")
    figure.colorbar(image, ax=heat)
    line.plot(statistics["uncertainty"].numpy(), marker="o")
    line.set_ylabel("uncertainty")
    line.set_xticks(range(len(labels)), labels, rotation=60, fontsize=8)
    return write_atomic(path, lambda temp: figure.savefig(temp, format="png", dpi=100))


def explain_answer(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str, out: Path
) -> tuple[str, str] | None:
    """Where an answer sits in coordinate space, as (title, text), with its per-token coordinate activity
    plotted to OUT/coordinates.png; None for a model without coordinate modulation."""
    if getattr(model.config, "modulation", None) != "coordinate":
        return None
    plot = Path(out) / "coordinates.png"
    stats = get_coordinate_statistics(model, text, tokenizer)
    plot_coordinate_activity(stats, plot, tokens=token_texts(tokenizer, stats["token_ids"].tolist()))
    uncertainty = stats["uncertainty"]
    body = (
        f"answer: {text!r}\ncoordinate norm {stats['norm']:.3f}; top-10 active dimensions {stats['top_10_dims']}\n"
        f"per-token uncertainty: min {float(uncertainty.min()):.2e}, max {float(uncertainty.max()):.2e}\n"
        f"activity plot: {plot}"
    )
    return "coordinate analysis", body
