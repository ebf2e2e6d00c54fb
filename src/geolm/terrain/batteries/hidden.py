"""Hidden-state battery: how token norms and pairwise cosines evolve layer by layer, in every stack.

The first position is reported on its own: in most trained models it is an attention sink ([CLS], <s>) whose
norm and direction differ from every other token and would otherwise dominate the averages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from geolm.terrain.batteries.base import Battery, BatteryResult, skipped
from geolm.terrain.context import TerrainContext
from geolm.terrain.represent import cosine_matrix, hidden_states, upper_pairs
from geolm.terrain.sampling import eligible_rows, sample_ids

SENTENCES = (
    "The river froze early that winter, and the village walked across it to the market.",
    "A prime number has exactly two divisors: one and itself.",
    "She tuned the violin, checked the score, and waited for the conductor.",
    "Heat the butter until it foams, then add the onions and a pinch of salt.",
    "The committee postponed its decision until the auditors had finished.",
    "Seven plus five equals twelve, and twelve minus three equals nine.",
    "Light from the nearest star takes a little over four years to reach us.",
    "He forgot his umbrella, so he waited under the bridge for the rain to stop.",
    "The function returns the index of the first element greater than the key.",
    "Owls hunt at night, guided by hearing sharp enough to locate a mouse under snow.",
    "In 1969 two astronauts walked on the moon while a third orbited above.",
    "Please close the window before you leave; the forecast says it will storm.",
)
RANDOM_SEQUENCES = 8
RANDOM_LENGTH = 16


def model_inputs(ctx: TerrainContext) -> tuple[list[torch.Tensor], str]:
    """One id tensor per input: the built-in sentences, or seeded random ordinary tokens if no tokenizer."""
    loaded = ctx.loaded
    if loaded.tokenizer is not None:
        return [loaded.tokenizer(s, return_tensors="pt")["input_ids"] for s in SENTENCES], "sentences"
    weight = loaded.model.get_input_embeddings().weight.detach().float().cpu().numpy()
    ids = eligible_rows(weight, None, loaded.config).ids
    rng = ctx.rng("hidden", "random-ids")
    seqs = [torch.as_tensor(sample_ids(ids, RANDOM_LENGTH, rng)).long().unsqueeze(0) for _ in range(RANDOM_SEQUENCES)]
    return seqs, "random token ids (no tokenizer)"


def layer_stats(h: np.ndarray) -> dict[str, float]:
    """Norms and cosines of one sequence's hidden states (positions × width) at one layer."""
    norms = np.linalg.norm(h, axis=1)
    cos = cosine_matrix(h)
    rest = cos[1:, 1:]
    return {
        "first_norm": float(norms[0]),
        "norm_mean": float(norms[1:].mean()),
        "norm_std": float(norms[1:].std()),
        "cos_mean": float(upper_pairs(rest).mean()),
        "cos_std": float(upper_pairs(rest).std()),
        "first_cos_mean": float(cos[0, 1:].mean()),
    }


def run(ctx: TerrainContext) -> BatteryResult:
    inputs, source = model_inputs(ctx)
    per_sequence: list[dict[str, Any]] = []
    for seq_idx, ids in enumerate(ctx.track(inputs, "hidden states")):
        if ids.shape[1] < 3:
            continue
        for stack, states in hidden_states(ctx.loaded, ids).items():
            for layer, h in enumerate(states):
                name = f"{stack}.hidden.{layer}"
                if ctx.selector.accepts(name, layer):
                    h_np = h[0].cpu().double().numpy()  # MPS has no float64
                    per_sequence.append(
                        {
                            "stack": stack,
                            "layer": layer,
                            "name": name,
                            "sequence": seq_idx,
                            "tokens": h_np.shape[0],
                            **layer_stats(h_np),
                        }
                    )
    if not per_sequence:
        return BatteryResult({"hidden": skipped(f"skipped: no layer matches --layers {ctx.selector.pattern!r}")})
    frame = pd.DataFrame(per_sequence)
    columns = ["first_norm", "norm_mean", "norm_std", "cos_mean", "cos_std", "first_cos_mean"]
    agg = (
        frame.groupby(["stack", "layer", "name"], sort=True)
        .agg(sequences=("sequence", "size"), tokens=("tokens", "sum"), **{c: (c, "mean") for c in columns})
        .reset_index()
    )
    agg["input"] = source
    agg["status"] = "ok"
    last = agg.groupby("stack").tail(1)
    summary = {
        "input": source,
        "sequences": len(inputs),
        **{f"{r.stack}_last_cos_mean": float(r.cos_mean) for r in last.itertuples()},
    }
    return BatteryResult(frames={"hidden": agg}, summary=summary)


BATTERY = Battery(
    name="hidden",
    description="per layer and stack: token norms and pairwise cosines, first position reported separately",
    needs=("tokenizer for sentences (seeded random ids otherwise)",),
    run=run,
)
