"""Head-geometry census: which heads ended up hyperbolic, Euclidean or spherical (tables, plot, metrics).

A head is Euclidean when |κ| <= 0.1 (the seed's band), hyperbolic below it and spherical above it. The census
reads parameters by name, so a loaded model and a bare safetensors state give the same table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn

from geolm.curvature.attention import KAPPA_MAX
from geolm.files import write_atomic

EUCLIDEAN_BAND = 0.1
CLASSES = ("hyperbolic", "euclidean", "spherical")
KAPPA_KEY = re.compile(r"layers\.(\d+)\.self_attn\.raw_kappa$")


def classify(kappa: float) -> str:
    """The geometry class of one curvature."""
    if kappa < -EUCLIDEAN_BAND:
        return "hyperbolic"
    return "spherical" if kappa > EUCLIDEAN_BAND else "euclidean"


def census_from_state(state: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """One row per head (layer, head, kappa, tau, class) from parameters named like a geolm state dict."""
    rows = []
    for name, raw in state.items():
        match = KAPPA_KEY.search(name)
        if match is None:
            continue
        kappas = (KAPPA_MAX * torch.tanh(raw.detach().double())).tolist()
        log_tau = state.get(name.removesuffix("raw_kappa") + "log_tau")
        taus = log_tau.detach().double().exp().tolist() if log_tau is not None else [float("nan")] * len(kappas)
        layer = int(match.group(1))
        pairs = enumerate(zip(kappas, taus, strict=True))
        rows += [(layer, head, kappa, tau, classify(kappa)) for head, (kappa, tau) in pairs]
    frame = pd.DataFrame(rows, columns=["layer", "head", "kappa", "tau", "class"])
    return frame.sort_values(["layer", "head"], ignore_index=True)


def head_census(model: nn.Module) -> pd.DataFrame:
    """The census of a model's curvature heads (empty when it has none)."""
    return census_from_state(dict(model.named_parameters()))


def census_counts(census: pd.DataFrame) -> pd.DataFrame:
    """Heads per class in each layer, plus an "all" row; every class is a column even when empty."""
    counts = pd.crosstab(census["layer"], census["class"]).reindex(columns=list(CLASSES), fill_value=0)
    counts.loc["all"] = counts.sum()
    counts.columns.name = None
    return counts


def curvature_metrics(model: nn.Module) -> dict[str, float]:
    """κ per head ("kappa/L0H1") and head counts per class ("heads/spherical") for a trainer to log.

    Empty for a model without curvature heads.
    """
    census = head_census(model)
    if census.empty:
        return {}
    metrics = {f"kappa/L{r.layer}H{r.head}": float(r.kappa) for r in census.itertuples()}
    counts = census["class"].value_counts()
    metrics.update({f"heads/{name}": float(counts.get(name, 0)) for name in CLASSES})
    return metrics


def plot_census(census: pd.DataFrame, path: Path) -> Path:
    """PNG: κ of every head by layer (Euclidean band shaded) beside the class counts per layer."""
    figure = Figure(figsize=(10.0, 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    scatter, bars = figure.subplots(1, 2)
    colours = {"hyperbolic": "tab:blue", "euclidean": "tab:grey", "spherical": "tab:red"}
    scatter.axhspan(-EUCLIDEAN_BAND, EUCLIDEAN_BAND, color="0.9")
    for name in CLASSES:
        part = census[census["class"] == name]
        scatter.scatter(part["layer"], part["kappa"], color=colours[name], label=name, s=24)
    scatter.set_ylim(-KAPPA_MAX * 1.05, KAPPA_MAX * 1.05)
    scatter.set_xlabel("layer")
    scatter.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers and head counts are whole numbers
    scatter.set_ylabel("curvature κ")
    scatter.legend(loc="upper right", fontsize=8)
    counts = census_counts(census).drop(index="all")
    bottom = None
    for name in CLASSES:
        bars.bar(counts.index.astype(str), counts[name], bottom=bottom, color=colours[name], label=name)
        bottom = counts[name] if bottom is None else bottom + counts[name]
    bars.set_xlabel("layer")
    bars.set_ylabel("heads")
    bars.yaxis.set_major_locator(MaxNLocator(integer=True))
    return write_atomic(path, lambda temp: figure.savefig(temp, format="png", dpi=110))
