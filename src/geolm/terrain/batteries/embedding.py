"""Embedding battery: the shape of the token cloud of each embedding matrix.

Per matrix: norms; cosines raw and mean-centred; the covariance eigenspectrum with participation ratio and
variance dimensions; TwoNN intrinsic dimension; 5-point simplex volumes with their coefficient of variation
next to two matched baselines; the digit manifold; semantic category clustering.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr

from geolm.terrain.batteries.base import Battery, BatteryResult, skipped
from geolm.terrain.categories import BUILTIN, CategorySource
from geolm.terrain.context import TerrainContext
from geolm.terrain.intrinsic import dimension_curve
from geolm.terrain.represent import cosine_matrix, pooled_rows, upper_pairs
from geolm.terrain.sampling import eligible_rows, word_token_ids
from geolm.terrain.simplex import VolumeSample, gaussian_like, shuffled_coordinates, volume_sample
from geolm.terrain.spectra import (
    VARIANCE_FRACTIONS,
    covariance_eigenvalues,
    participation_ratio,
    variance_dims,
)

MAX_WORDS_PER_CATEGORY = 200
CATEGORY_NULL_DRAWS = 50


def embedding_matrices(ctx: TerrainContext) -> list[tuple[str, np.ndarray]]:
    """The input embedding, plus the output embedding when it is a separate (untied) matrix."""
    model = ctx.loaded.model
    inp = model.get_input_embeddings().weight
    mats = [("input", inp)]
    out_layer = model.get_output_embeddings()
    out = getattr(out_layer, "weight", None)
    if out is not None and out.shape == inp.shape and out.data_ptr() != inp.data_ptr():
        mats.append(("output", out))
    return [(name, w.detach().float().cpu().numpy()) for name, w in mats]


def _cosine_stats(sample: np.ndarray, prefix: str) -> dict[str, float]:
    cos = upper_pairs(cosine_matrix(sample))
    return {
        f"{prefix}_mean": float(cos.mean()),
        f"{prefix}_std": float(cos.std()),
        f"{prefix}_p05": float(np.percentile(cos, 5)),
        f"{prefix}_p95": float(np.percentile(cos, 95)),
    }


def _volume_columns(prefix: str, sample: VolumeSample) -> dict[str, float]:
    return {
        f"{prefix}_samples": sample.n_samples,
        f"{prefix}_invalid": sample.n_invalid,
        f"{prefix}_mean": float(sample.volumes.mean()) if sample.volumes.size else float("nan"),
        f"{prefix}_cv": sample.cv,
    }


def cloud_row(rows: np.ndarray, ctx: TerrainContext, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every geometry number of one point cloud, and the arrays (and dimension curve) behind the figures."""
    opts = ctx.options
    rng = ctx.rng("embedding", label)
    norms = np.linalg.norm(rows, axis=1)
    mean = rows.mean(axis=0)
    cos_idx = rng.choice(rows.shape[0], size=min(opts.n_cosine, rows.shape[0]), replace=False)
    eig = covariance_eigenvalues(rows)
    pr = participation_ratio(eig)
    curve = dimension_curve(
        rows, (*opts.id_sizes, opts.n_twonn), opts.n_id_seeds, lambda n, s: ctx.rng("dimension", label, n, s)
    )
    at_headline = curve[curve["sample"] == min(opts.n_twonn, rows.shape[0])].set_index("estimator")
    volumes = volume_sample(rows, opts.n_simplices, rng)
    gauss_points = gaussian_like(rows, opts.n_simplices * 5, rng)
    gauss = volume_sample(gauss_points, opts.n_simplices, rng)
    shuffled = volume_sample(shuffled_coordinates(rows, rng), opts.n_simplices, rng)
    row: dict[str, Any] = {
        "norm_mean": float(norms.mean()),
        "norm_std": float(norms.std()),
        "norm_min": float(norms.min()),
        "norm_max": float(norms.max()),
        "cosine_sample": int(cos_idx.size),
        **_cosine_stats(rows[cos_idx], "cos"),
        **_cosine_stats(rows[cos_idx] - mean, "cos_centred"),
        "mean_vector_norm": float(np.linalg.norm(mean)),
        "top_eig_share": float(eig[0] / eig.sum()),
        "participation_ratio": pr,
        "pr_over_dim": pr / rows.shape[1],
        **{f"dims_{int(f * 100)}": d for f, d in variance_dims(eig, VARIANCE_FRACTIONS).items()},
        "twonn_sample": int(min(opts.n_twonn, rows.shape[0])),
        "twonn_dim": float(at_headline.loc["twonn", "mean"]),
        "twonn_dim_std": float(at_headline.loc["twonn", "std"]),
        "mle_dim": float(at_headline.loc["mle", "mean"]),
        "mle_dim_std": float(at_headline.loc["mle", "std"]),
        **_volume_columns("simplex", volumes),
        **_volume_columns("gauss_simplex", gauss),
        **_volume_columns("shuffled_simplex", shuffled),
    }
    row["cv_over_gauss_cv"] = row["simplex_cv"] / row["gauss_simplex_cv"]
    arrays = {
        "eigenvalues": eig,
        "embedding": volumes.volumes,
        "gaussian": gauss.volumes,
        "shuffled": shuffled.volumes,
        "dimension_curve": curve,
    }
    return row, arrays


def digit_frames(label: str, weight: np.ndarray, ctx: TerrainContext) -> tuple[dict[str, Any], pd.DataFrame]:
    """Cosine between the numbers 0..max_number against |i − j| (multi-token numbers mean-pooled)."""
    tokenizer = ctx.loaded.tokenizer
    numbers = list(range(ctx.options.max_number + 1))
    spelled = word_token_ids(tokenizer, [str(n) for n in numbers])
    unk = tokenizer.unk_token_id
    usable = [(n, ids) for n, (_, ids) in zip(numbers, spelled, strict=True) if ids and unk not in ids]
    if len(usable) < 3:
        return {
            "matrix": label,
            "numbers": len(usable),
            "status": "skipped: fewer than 3 numbers tokenise",
        }, pd.DataFrame()
    values = np.array([n for n, _ in usable])
    cos = cosine_matrix(pooled_rows(weight, [ids for _, ids in usable]))
    iu = np.triu_indices(len(usable), k=1)
    distance = np.abs(values[iu[0]] - values[iu[1]])
    pair_cos = cos[iu]
    curve = (
        pd.DataFrame({"distance": distance, "cos": pair_cos})
        .groupby("distance")["cos"]
        .agg(mean_cos="mean", n="size")
        .reset_index()
    )
    curve.insert(0, "matrix", label)
    curve["status"] = "ok"
    row = {
        "matrix": label,
        "numbers": len(usable),
        "multi_token": int(sum(len(ids) > 1 for _, ids in usable)),
        "pearson_distance_cos": float(pearsonr(distance, pair_cos)[0]),
        "spearman_distance_cos": float(spearmanr(distance, pair_cos)[0]),
        "adjacent_mean_cos": float(pair_cos[distance == 1].mean()),
        "nonadjacent_mean_cos": float(pair_cos[distance > 1].mean()),
        "status": "ok",
    }
    row["adjacent_gap"] = row["adjacent_mean_cos"] - row["nonadjacent_mean_cos"]
    return row, curve


def _mean_intra(vectors: np.ndarray) -> float:
    return float(upper_pairs(cosine_matrix(vectors)).mean())


def category_rows(
    label: str, weight: np.ndarray, pool: np.ndarray, source: CategorySource, ctx: TerrainContext
) -> list[dict[str, Any]]:
    """Mean within-category cosine, its lift over random token pairs, and over random groups of equal size.

    `pool` holds the eligible rows the global statistics come from; lifts are given raw and mean-centred.
    """
    tokenizer = ctx.loaded.tokenizer
    rng = ctx.rng("categories", label)
    centre = pool.mean(axis=0)
    sample = pool[rng.choice(pool.shape[0], size=min(ctx.options.n_cosine, pool.shape[0]), replace=False)]
    global_raw = _mean_intra(sample)
    global_centred = _mean_intra(sample - centre)
    rows = []
    for category, words in source.categories().items():
        if len(words) > MAX_WORDS_PER_CATEGORY:
            words = list(rng.choice(words, size=MAX_WORDS_PER_CATEGORY, replace=False))
        spelled = [ids for _, ids in word_token_ids(tokenizer, words) if ids and tokenizer.unk_token_id not in ids]
        base = {
            "matrix": label,
            "source": source.name,
            "category": category,
            "words": len(words),
            "found": len(spelled),
            "multi_token": int(sum(len(ids) > 1 for ids in spelled)),
        }
        if len(spelled) < 3:
            rows.append({**base, "status": f"skipped: only {len(spelled)} words tokenise"})
            continue
        vectors = pooled_rows(weight, spelled)
        null = [
            _mean_intra(pool[rng.choice(pool.shape[0], size=len(spelled), replace=False)])
            for _ in range(CATEGORY_NULL_DRAWS)
        ]
        intra, intra_centred = _mean_intra(vectors), _mean_intra(vectors - centre)
        rows.append(
            {
                **base,
                "intra_cos": intra,
                "lift": intra - global_raw,
                "intra_cos_centred": intra_centred,
                "lift_centred": intra_centred - global_centred,
                "null_group_cos": float(np.mean(null)),
                "null_group_cos_std": float(np.std(null)),
                "status": "ok",
            }
        )
    return rows


def run(ctx: TerrainContext) -> BatteryResult:
    loaded = ctx.loaded
    summary_rows, spectra, volumes, dimensions, digits, digit_curves, categories = [], [], [], [], [], [], []
    source = ctx.categories or (ctx.taxonomy.lexname_categories() if ctx.taxonomy else None) or BUILTIN
    for label, weight in ctx.track(embedding_matrices(ctx), "embedding"):
        eligible = eligible_rows(weight, loaded.tokenizer, loaded.config)
        rows = weight[eligible.ids].astype(np.float64)
        cloud, arrays = cloud_row(rows, ctx, label)
        summary_rows.append(
            {
                "matrix": label,
                "rows": weight.shape[0],
                "dim": weight.shape[1],
                **eligible.counts(),
                **cloud,
                "status": "ok",
            }
        )
        cumulative = np.cumsum(arrays["eigenvalues"]) / arrays["eigenvalues"].sum()
        spectra.append(
            pd.DataFrame(
                {
                    "matrix": label,
                    "index": np.arange(1, cumulative.size + 1),
                    "eigenvalue": arrays["eigenvalues"],
                    "cumulative_share": cumulative,
                    "status": "ok",
                }
            )
        )
        for kind in ("embedding", "gaussian", "shuffled"):
            volumes.append(pd.DataFrame({"matrix": label, "source": kind, "volume": arrays[kind], "status": "ok"}))
        dimensions.append(pd.DataFrame({"matrix": label, **arrays["dimension_curve"].to_dict("list"), "status": "ok"}))
        if loaded.tokenizer is None:
            digits.append({"matrix": label, "status": "skipped: no tokenizer"})
            categories.append({"matrix": label, "source": source.name, "status": "skipped: no tokenizer"})
            continue
        digit_row, curve = digit_frames(label, weight, ctx)
        digits.append(digit_row)
        digit_curves.append(curve)
        categories.extend(category_rows(label, weight, rows, source, ctx))
    frames = {
        "embedding": pd.DataFrame(summary_rows),
        "embedding_spectrum": pd.concat(spectra, ignore_index=True),
        "simplex_volumes": pd.concat(volumes, ignore_index=True),
        "intrinsic_dimension": pd.concat(dimensions, ignore_index=True),
        "digits": pd.DataFrame(digits),
        "digit_distance": pd.concat(digit_curves, ignore_index=True)
        if digit_curves
        else skipped("skipped: no tokenizer"),
        "categories": pd.DataFrame(categories),
    }
    first = summary_rows[0]
    summary = {
        key: first[key]
        for key in (
            "eligible",
            "participation_ratio",
            "pr_over_dim",
            "twonn_sample",
            "twonn_dim",
            "twonn_dim_std",
            "mle_dim",
            "simplex_cv",
            "gauss_simplex_cv",
            "shuffled_simplex_cv",
        )
    }
    summary["simplex_baselines"] = "gaussian: same mean and covariance; shuffled: each coordinate permuted"
    summary["category_source"] = source.name
    return BatteryResult(frames=frames, summary=summary)


BATTERY = Battery(
    name="embedding",
    description="norms, cosines (raw/centred), eigenspectrum, participation ratio, TwoNN, simplex volume CV "
    "vs Gaussian and shuffled baselines, digit manifold, category clustering",
    needs=("tokenizer for digits and categories",),
    run=run,
)
