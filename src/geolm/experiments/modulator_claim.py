"""`geolm analyze modulator-claim`: the original claim "relational Pearson +152%" checked with held-out words
and a shuffled-pair control.

One frozen model, one set of WordNet items split by synset, and the same seeded evaluation pairs for every
condition: the base model; the residual modulator at the fixed alpha 0.29154 untrained; the modulator trained
on hypernym pairs (alpha learned from 0.01); the same training on shuffled pairs (the control: any gain it
shows is not WordNet structure); optionally the fixed-alpha modulator trained. Every condition is scored on
the training items and on held-out items that were never a training target.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import typer

from geolm.errors import InputError
from geolm.terrain.loading import LoadedModel, resolve
from geolm.terrain.modulators.compare import preservation
from geolm.terrain.modulators.hooks import attach
from geolm.terrain.modulators.relational import (
    RelationalItems,
    relational_scores,
    select_items,
    shuffled_pairs,
)
from geolm.terrain.modulators.residual import SEED_ALPHA, GeometricResidualModulator
from geolm.terrain.modulators.training import encode, train_modulator
from geolm.terrain.report import markdown_table, write_directory
from geolm.terrain.simplex import volume_sample
from geolm.terrain.taxonomy import Taxonomy, embedded_wordnet


@dataclass(frozen=True)
class ClaimSettings:
    """Sizes of the run; the defaults take a few minutes for MiniLM on 2 CPU cores."""

    n_items: int = 1200
    heldout_fraction: float = 0.3
    steps: int = 100
    batch_size: int = 32
    lr: float = 3e-3
    temperature: float = 0.1
    geo_dim: int = 64
    n_pairs: int = 20000
    n_simplices: int = 500
    train_fixed_alpha: bool = False
    seed: int = 0


@dataclass
class ModulatorClaim:
    """Frames (`relational`, `alpha`, `loss`) and a JSON-able summary; `save` writes them atomically."""

    frames: dict[str, pd.DataFrame]
    summary: dict[str, Any]

    def to_markdown(self) -> str:
        s = self.summary
        lines = [f"# Residual modulator, relational claim: {s['model']}", ""]
        lines += [f"- {k}: {v}" for k, v in s.items() if k not in ("model", "settings")]
        lines += ["", "## relational", "", markdown_table(self.frames["relational"])]
        lines += ["", "![alpha per layer](alpha.png)", ""]
        return "\n".join(lines)

    def save(self, out_dir: str | Path) -> Path:
        """CSV per frame, summary.json, alpha.png and report.md, via a temporary sibling directory."""

        def fill(tmp: Path) -> None:
            for name, frame in self.frames.items():
                frame.to_csv(tmp / f"{name}.csv", index=False)
            (tmp / "summary.json").write_text(json.dumps(self.summary, indent=2, default=str) + "\n")
            plot_alpha(self.frames["alpha"], tmp / "alpha.png")
            (tmp / "report.md").write_text(self.to_markdown())

        out = write_directory(out_dir, fill)
        return out


def plot_alpha(alpha: pd.DataFrame, path: Path) -> None:
    """One panel per trained condition: alpha per layer against the step, with the 0.29154 line."""
    conditions = list(dict.fromkeys(alpha["condition"]))
    fig, axes = plt.subplots(
        1, max(len(conditions), 1), figsize=(6 * max(len(conditions), 1), 4), squeeze=False, sharey=True
    )
    try:
        for ax, condition in zip(axes[0], conditions, strict=False):
            for layer, g in alpha[alpha["condition"] == condition].groupby("layer"):
                ax.plot(g["step"], g["alpha"], label=f"layer {layer}")
            ax.axhline(SEED_ALPHA, color="red", ls="--", lw=0.8, label=str(SEED_ALPHA))
            ax.set(title=condition, xlabel="step", ylabel="alpha", yscale="log")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def _score_rows(
    condition: str,
    vectors: np.ndarray,
    base: np.ndarray,
    items: RelationalItems,
    taxonomy: Taxonomy,
    settings: ClaimSettings,
) -> list[dict[str, Any]]:
    rows = []
    for heldout in (False, True):
        side = items.side(heldout)
        cv = volume_sample(vectors[side], settings.n_simplices, np.random.default_rng([settings.seed, 0x5056]))
        rows.append(
            {
                "condition": condition,
                "side": "heldout" if heldout else "train",
                **relational_scores(vectors, items, taxonomy, heldout, settings.n_pairs, settings.seed),
                "preservation": preservation(base[side], vectors[side]),
                "simplex_cv": cv.cv,
                "simplex_invalid": cv.n_invalid,
            }
        )
    return rows


def _modulator(loaded: LoadedModel, settings: ClaimSettings, fixed: bool) -> GeometricResidualModulator:
    config = loaded.config
    modulator = GeometricResidualModulator(
        config.vocab_size,
        config.hidden_size,
        config.num_hidden_layers,
        geo_dim=settings.geo_dim,
        alpha=SEED_ALPHA if fixed else 0.01,
        learn_alpha=not fixed,
        seed=settings.seed,
    )
    modulator.init_from_embedding(loaded.model.get_input_embeddings().weight, seed=settings.seed)
    return modulator.to(next(loaded.model.parameters()).device)


def measure_relational_claim(
    model: Any,
    taxonomy: Taxonomy | None = None,
    settings: ClaimSettings | None = None,
    *,
    progress: bool = True,
) -> ModulatorClaim:
    """Relational Pearson/Spearman before and after modulator training, held-out and control included."""
    settings = settings or ClaimSettings()
    start = time.perf_counter()
    loaded = resolve(model)
    if loaded.tokenizer is None:
        raise InputError(f"{loaded.source}: the relational claim needs a tokenizer")
    taxonomy = embedded_wordnet() if taxonomy is None else taxonomy
    rng = np.random.default_rng([settings.seed, 0x434C4D])
    items = select_items(taxonomy, loaded.tokenizer, settings.n_items, rng, heldout_fraction=settings.heldout_fraction)
    if len(items.pairs) < 2 or len(items.side(True)) < 10:
        raise InputError(f"too few WordNet items tokenise for the claim ({items.counts()})")
    net, tok = loaded.model, loaded.tokenizer
    base = encode(net, tok, items.texts)
    rows = _score_rows("base", base, base, items, taxonomy, settings)
    runs = [("fixed 0.29154, untrained", True, None), ("trained", False, items.pairs)]
    runs.append(("shuffled-pair control", False, shuffled_pairs(items.pairs, rng)))
    if settings.train_fixed_alpha:
        runs.append(("fixed 0.29154, trained", True, items.pairs))
    alphas, losses = [], []
    for condition, fixed, pairs in runs:
        with attach(net, _modulator(loaded, settings, fixed)) as attached:
            if pairs is not None:
                trace = train_modulator(
                    attached,
                    tok,
                    items.texts,
                    pairs,
                    steps=settings.steps,
                    batch_size=settings.batch_size,
                    lr=settings.lr,
                    temperature=settings.temperature,
                    seed=settings.seed,
                    progress=progress,
                )
                alphas.append(trace.alpha.assign(condition=condition))
                losses.append(trace.loss.assign(condition=condition))
            rows += _score_rows(condition, encode(net, tok, items.texts), base, items, taxonomy, settings)
    relational = pd.DataFrame(rows)
    base_rows = relational[relational["condition"] == "base"].set_index("side")
    for metric in ("pearson", "spearman"):
        reference = relational["side"].map(base_rows[metric])
        relational[f"{metric}_change_pct"] = 100 * (relational[metric] - reference) / reference.abs()
    summary = {
        "model": loaded.source,
        **items.counts(),
        "settings": asdict(settings),
        "elapsed_s": round(time.perf_counter() - start, 1),
    }
    frames = {"relational": relational, "alpha": pd.concat(alphas), "loss": pd.concat(losses)}
    return ModulatorClaim(frames=frames, summary=summary)


def claim(
    path: Annotated[Path, typer.Argument(help="local Hugging Face model directory with a tokenizer")],
    out: Annotated[Path, typer.Option(help="report directory")] = Path("modulator-claim"),
    items: Annotated[int, typer.Option(help="WordNet items (train and held-out)")] = ClaimSettings.n_items,
    steps: Annotated[int, typer.Option(help="training steps per trained condition")] = ClaimSettings.steps,
    seed: Annotated[int, typer.Option(help="seed of every random step")] = ClaimSettings.seed,
    train_fixed_alpha: Annotated[bool, typer.Option(help="also train at the fixed alpha 0.29154")] = False,
) -> None:
    """Relational Pearson/Spearman of the frozen model, modulated, trained, and with shuffled pairs.

    Example: geolm analyze modulator-claim MODEL_DIR
    """
    settings = ClaimSettings(n_items=items, steps=steps, seed=seed, train_fixed_alpha=train_fixed_alpha)
    result = measure_relational_claim(path, settings=settings)
    written = result.save(out)
    columns = ["condition", "side", "pearson", "pearson_change_pct", "spearman", "preservation", "simplex_cv"]
    typer.echo(markdown_table(result.frames["relational"][columns]))
    typer.echo(f"report written to {written}")
