"""PNG figures drawn from the report's frames (never from state the frames do not hold)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

Frames = dict[str, pd.DataFrame]


def _ok(frames: Frames, name: str) -> pd.DataFrame | None:
    frame = frames.get(name)
    if frame is None or "status" not in frame:
        return None
    ok = frame[frame["status"] == "ok"]
    return ok if len(ok) else None


def _whole_layers(axes) -> None:
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers


def spectrum(frames: Frames, ax_pair) -> bool:
    df = _ok(frames, "embedding_spectrum")
    if df is None:
        return False
    for matrix, g in df.groupby("matrix"):
        ax_pair[0].semilogy(g["index"], g["eigenvalue"], label=matrix)
        ax_pair[1].plot(g["index"], g["cumulative_share"], label=matrix)
    ax_pair[0].set(title="covariance eigenvalues", xlabel="index", ylabel="eigenvalue (variance)")
    ax_pair[1].set(title="cumulative variance share", xlabel="axes", ylabel="share of variance", ylim=(0, 1.01))
    ax_pair[0].legend()
    ax_pair[1].legend()
    return True


def volumes(frames: Frames, ax) -> bool:
    df = _ok(frames, "simplex_volumes")
    if df is None:
        return False
    df = df[df["matrix"] == df["matrix"].iloc[0]]
    for source, g in df.groupby("source"):
        v = g["volume"].to_numpy()
        cv = v.std(ddof=1) / v.mean()
        ax.hist(v / v.mean(), bins=60, alpha=0.5, density=True, label=f"{source} (CV {cv:.3f})")
    ax.set(title="5-point simplex volume / mean", xlabel="relative volume", ylabel="density")
    ax.legend()
    return True


def intrinsic_dimension(frames: Frames, ax) -> bool:
    df = _ok(frames, "intrinsic_dimension")
    if df is None:
        return False
    for (matrix, estimator), g in df.groupby(["matrix", "estimator"]):
        ax.errorbar(g["sample"], g["mean"], yerr=g["std"], marker="o", capsize=3, label=f"{estimator}, {matrix}")
    seeds = int(df["seeds"].iloc[0])
    ax.set(
        title=f"intrinsic dimension by sample size (mean ± sd over {seeds} samples)",
        xlabel="rows sampled",
        ylabel="estimated dimension",
        xscale="log",
    )
    ax.legend(fontsize=8)
    return True


def digits(frames: Frames, ax) -> bool:
    df = _ok(frames, "digit_distance")
    if df is None:
        return False
    for matrix, g in df.groupby("matrix"):
        ax.plot(g["distance"], g["mean_cos"], label=matrix)
    ax.set(title="numbers: cosine vs |i − j|", xlabel="|i − j|", ylabel="mean cosine")
    ax.legend()
    return True


def hidden(frames: Frames, ax_pair) -> bool:
    df = _ok(frames, "hidden")
    if df is None:
        return False
    for stack, g in df.groupby("stack"):
        ax_pair[0].plot(g["layer"], g["norm_mean"], "o-", label=f"{stack} tokens")
        ax_pair[0].plot(g["layer"], g["first_norm"], "x--", label=f"{stack} first token")
        ax_pair[1].plot(g["layer"], g["cos_mean"], "o-", label=f"{stack} tokens")
        ax_pair[1].plot(g["layer"], g["first_cos_mean"], "x--", label=f"{stack} first vs rest")
    ax_pair[0].set(title="hidden-state norm", xlabel="layer (0 = embeddings)", ylabel="mean token norm")
    ax_pair[1].set(title="pairwise cosine", xlabel="layer (0 = embeddings)", ylabel="mean cosine")
    ax_pair[0].legend(fontsize=7)
    ax_pair[1].legend(fontsize=7)
    _whole_layers(ax_pair)
    return True


def weight_ranks(frames: Frames, ax_pair) -> bool:
    df = _ok(frames, "weights")
    if df is None:
        return False
    df = df[df["layer"].notna()]
    for group, g in df.groupby("group"):
        g = g.sort_values("layer")
        ax_pair[0].plot(g["layer"], g["effective_rank_ratio"], "o-", label=group)
        ax_pair[1].plot(g["layer"], g["alpha"], "o-", label=group)
    ax_pair[0].set(title="effective rank / min(shape)", xlabel="layer", ylabel="effective rank ratio")
    ax_pair[1].set(title="power-law alpha of WᵀW eigenvalues", xlabel="layer", ylabel="alpha")
    ax_pair[0].legend(fontsize=6)
    ax_pair[1].legend(fontsize=6)
    _whole_layers(ax_pair)
    return True


def cross_layer(frames: Frames, ax) -> bool:
    df = _ok(frames, "cross_layer")
    if df is None:
        return False
    x = np.arange(len(df))
    ax.bar(x, df["mean_abs_cos"], label="mean |cos| between layers")
    ax.scatter(x, df["null_abs_cos"], color="red", marker="_", s=200, label="random-matrix null", zorder=3)
    ax.set_xticks(x, df["group"], rotation=60, ha="right", fontsize=7)
    ax.set(title="cross-layer weight correlation", ylabel="mean |cosine| between layers", yscale="log")
    ax.legend(fontsize=7)
    return True


def wordnet(frames: Frames, ax_pair) -> bool:
    bands, chains = _ok(frames, "wordnet_bands"), _ok(frames, "wordnet_chains")
    if bands is None or chains is None:
        return False
    for rep, g in bands.groupby("representation"):
        ax_pair[0].plot((g["band_low"] + g["band_high"]) / 2, g["mean_cos"], "o-", label=rep)
    for rep, g in chains.groupby("representation"):
        ax_pair[1].plot(g["depth"], g["mean_cos"], "o-", label=rep)
    ax_pair[0].set(title="cosine by path-similarity band", xlabel="path similarity", ylabel="mean cosine", xscale="log")
    ax_pair[1].set(title="hypernym chain decay", xlabel="ancestor depth", ylabel="mean cosine")
    ax_pair[0].legend()
    ax_pair[1].legend()
    return True


FIGURES: dict[str, tuple[int, Callable]] = {
    "embedding_spectrum": (2, spectrum),
    "simplex_volumes": (1, volumes),
    "intrinsic_dimension": (1, intrinsic_dimension),
    "digits": (1, digits),
    "hidden": (2, hidden),
    "weight_ranks": (2, weight_ranks),
    "cross_layer": (1, cross_layer),
    "wordnet": (2, wordnet),
}


def make_figures(frames: Frames, directory: Path) -> list[Path]:
    """Draw every figure whose frames hold ok rows; returns the written paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (panels, draw) in FIGURES.items():
        fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5))
        try:
            if draw(frames, axes):
                fig.tight_layout()
                path = directory / f"{name}.png"
                fig.savefig(path, dpi=110)
                written.append(path)
        finally:
            plt.close(fig)
    return written
