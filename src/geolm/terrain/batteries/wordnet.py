"""WordNet alignment: does representation similarity follow the taxonomy?

Lemmas are matched to tokens (one token directly, several mean-pooled; both counted). For seeded samples of
lemma pairs the cosine of two representations (static embedding rows, and the final hidden state of the lemma
run alone) is correlated with WordNet path similarity (Pearson and Spearman), averaged per similarity band and
along hypernym chains. Repeating the pair sampling over several seeds gives the stability of the correlations,
with bootstrap confidence intervals of their mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, pearsonr, spearmanr

from geolm.terrain.batteries.base import Battery, BatteryResult, skipped
from geolm.terrain.context import TerrainContext, TerrainOptions
from geolm.terrain.represent import contextual_vectors, pooled_rows
from geolm.terrain.sampling import word_token_ids
from geolm.terrain.taxonomy import Taxonomy

BANDS = ((0.5, 1.0), (0.25, 0.5), (0.125, 0.25), (0.0625, 0.125), (0.0, 0.0625))


@dataclass
class Matched:
    """Lemmas that tokenise, with their synset, text form and token ids, plus the matching counts."""

    synsets: list[str]
    texts: list[str]
    ids: list[list[int]]
    counts: dict[str, int]


def match_lemmas(taxonomy: Taxonomy, tokenizer: Any, opts: TerrainOptions, rng: np.random.Generator) -> Matched:
    """Items from a seeded walk over all (synset, lemma) pairs until `n_wordnet_items` are found.

    A lemma is used when it tokenises without the unknown token into at most `wordnet_max_tokens` tokens and
    its token sequence was not seen before (so two synsets never share one vector). Tokenising only as many
    lemmas as needed keeps the cost independent of the size of WordNet; the counts cover the lemmas examined.
    """
    pairs = [(sid, lemma.replace("_", " ")) for sid, rec in taxonomy.synsets.items() for lemma in rec.lemmas]
    order = rng.permutation(len(pairs))
    seen: set[tuple[int, ...]] = set()
    synsets, texts, ids = [], [], []
    examined = unknown = too_long = 0
    chunk = 4 * opts.n_wordnet_items
    for start in range(0, len(pairs), chunk):
        batch = [pairs[i] for i in order[start : start + chunk]]
        for (sid, _), (text, tok) in zip(batch, word_token_ids(tokenizer, [p[1] for p in batch]), strict=True):
            if len(synsets) == opts.n_wordnet_items:
                break
            examined += 1
            if not tok or tokenizer.unk_token_id in tok:
                unknown += 1
            elif len(tok) > opts.wordnet_max_tokens:
                too_long += 1
            elif tuple(tok) not in seen:
                seen.add(tuple(tok))
                synsets.append(sid)
                texts.append(text)
                ids.append(tok)
        if len(synsets) == opts.n_wordnet_items:
            break
    counts = {
        "lemmas": len(pairs),
        "examined": examined,
        "unknown": unknown,
        "too_long": too_long,
        "used": len(synsets),
        "single_token": int(sum(len(t) == 1 for t in ids)),
        "multi_token": int(sum(len(t) > 1 for t in ids)),
    }
    return Matched(synsets, texts, ids, counts)


def sample_pairs(taxonomy: Taxonomy, synsets: list[str], n: int, rng: np.random.Generator):
    """n random item pairs (i ≠ j) with their path similarity; pairs without a common ancestor are counted."""
    i = rng.integers(0, len(synsets), size=n)
    j = rng.integers(0, len(synsets), size=n)
    keep = i != j
    i, j = i[keep], j[keep]
    sims = np.array([taxonomy.path_similarity(synsets[a], synsets[b]) for a, b in zip(i, j, strict=True)], dtype=object)
    has = np.array([s is not None for s in sims], dtype=bool)
    return i[has], j[has], sims[has].astype(np.float64), int((~has).sum())


def unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def correlations(unit: np.ndarray, i: np.ndarray, j: np.ndarray, sims: np.ndarray) -> tuple[float, float]:
    cos = np.einsum("nd,nd->n", unit[i], unit[j])
    return float(pearsonr(sims, cos)[0]), float(spearmanr(sims, cos)[0])


def band_rows(rep: str, unit: np.ndarray, i: np.ndarray, j: np.ndarray, sims: np.ndarray) -> list[dict[str, Any]]:
    cos = np.einsum("nd,nd->n", unit[i], unit[j])
    rows = []
    for lo, hi in BANDS:
        mask = (sims > lo) & (sims <= hi)
        rows.append(
            {
                "representation": rep,
                "band_low": lo,
                "band_high": hi,
                "pairs": int(mask.sum()),
                "mean_cos": float(cos[mask].mean()) if mask.any() else float("nan"),
                "status": "ok" if mask.any() else "skipped: no pairs in band",
            }
        )
    return rows


def chain_rows(rep: str, unit: np.ndarray, matched: Matched, taxonomy: Taxonomy, depth: int) -> list[dict]:
    """Mean cosine between an item and the item of its k-th first-hypernym ancestor, for k = 1..depth."""
    first_item = {}
    for idx, sid in enumerate(matched.synsets):
        first_item.setdefault(sid, idx)
    per_depth: dict[int, list[float]] = {d: [] for d in range(1, depth + 1)}
    for idx, sid in enumerate(matched.synsets):
        for d, ancestor in enumerate(taxonomy.chain(sid, depth), start=1):
            if ancestor in first_item:
                per_depth[d].append(float(unit[idx] @ unit[first_item[ancestor]]))
    return [
        {
            "representation": rep,
            "depth": d,
            "pairs": len(v),
            "mean_cos": float(np.mean(v)) if v else float("nan"),
            "status": "ok" if v else "skipped: no matched ancestor at this depth",
        }
        for d, v in per_depth.items()
    ]


def run(ctx: TerrainContext) -> BatteryResult:
    loaded, taxonomy, opts = ctx.loaded, ctx.taxonomy, ctx.options
    if loaded.tokenizer is None:
        return BatteryResult({"wordnet": skipped("skipped: no tokenizer")})
    if taxonomy is None:
        return BatteryResult({"wordnet": skipped("skipped: no WordNet data (pass taxonomy=...)")})
    matched = match_lemmas(taxonomy, loaded.tokenizer, opts, ctx.rng("wordnet", "items"))
    if matched.counts["used"] < 10:
        return BatteryResult(
            {"wordnet": skipped(f"skipped: only {matched.counts['used']} lemmas tokenise", **matched.counts)}
        )
    weight = loaded.model.get_input_embeddings().weight.detach().cpu().double().numpy()
    reps = {
        "static": unit_rows(pooled_rows(weight, matched.ids)),
        "contextual": unit_rows(contextual_vectors(loaded, matched.texts)),
    }
    seeds = [ctx.seed + k for k in range(opts.n_stability_seeds)]
    stability, rows, bands, chains = [], [], [], []
    for s in ctx.track(seeds, "wordnet seeds"):
        i, j, sims, no_common = sample_pairs(
            taxonomy, matched.synsets, opts.n_wordnet_pairs, np.random.default_rng([s, 0x574E])
        )
        for rep, unit in reps.items():
            pearson, spearman = correlations(unit, i, j, sims)
            stability.append(
                {
                    "representation": rep,
                    "seed": s,
                    "pairs": len(sims),
                    "no_common_ancestor": no_common,
                    "pearson": pearson,
                    "spearman": spearman,
                    "status": "ok",
                }
            )
            if s == ctx.seed:
                bands.extend(band_rows(rep, unit, i, j, sims))
    stab = pd.DataFrame(stability)
    ci_rng = ctx.rng("wordnet", "bootstrap")
    for rep, group in stab.groupby("representation", sort=False):
        main = group[group["seed"] == ctx.seed].iloc[0]
        row = {
            "representation": rep,
            **matched.counts,
            "pairs": int(main["pairs"]),
            "no_common_ancestor": int(main["no_common_ancestor"]),
            "pearson": main["pearson"],
            "spearman": main["spearman"],
            "seeds": len(group),
        }
        for metric in ("pearson", "spearman"):
            values = group[metric].to_numpy()
            row[f"{metric}_seed_mean"] = float(values.mean())
            row[f"{metric}_seed_std"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            if len(values) > 1 and values.std() > 0:
                ci = bootstrap(
                    (values,), np.mean, n_resamples=opts.n_bootstrap, random_state=ci_rng
                ).confidence_interval
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = float(ci.low), float(ci.high)
        rows.append({**row, "status": "ok"})
        chains.extend(chain_rows(rep, reps[rep], matched, taxonomy, opts.chain_depth))
    frames = {
        "wordnet": pd.DataFrame(rows),
        "wordnet_bands": pd.DataFrame(bands),
        "wordnet_chains": pd.DataFrame(chains),
        "wordnet_stability": stab,
    }
    summary = {**matched.counts, **{f"{r['representation']}_spearman": r["spearman"] for r in rows}}
    return BatteryResult(frames=frames, summary=summary)


BATTERY = Battery(
    name="wordnet",
    description="lemma-token matching; Pearson/Spearman of cosine vs WordNet path similarity (static and "
    "contextual); distance bands; hypernym chain decay; multi-seed stability with bootstrap CIs",
    needs=("tokenizer", "taxonomy"),
    run=run,
)
