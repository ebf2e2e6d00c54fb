"""`geolm analyze`: geometry analysis of local Hugging Face models (terrain battery, model comparison)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Geometry analysis of models: terrain, comparisons, curvature heads, expert routing, modulators.",
    no_args_is_help=True,
)


def _default_out(prefix: str, *paths: Path) -> Path:
    return Path(f"{prefix}-" + "-vs-".join(p.resolve().name or "model" for p in paths))


def _print_summary(summary: dict, out: Path) -> None:
    console = Console()
    table = Table(title=f"{summary.get('model', '')}")
    for column in ("battery", "status", "seconds", "headline numbers"):
        table.add_column(column)
    headlines = summary.get("headlines", {})
    batteries = summary.get("batteries") or {
        name: {"status": "ok", "seconds": summary.get("elapsed_s")} for name in headlines
    }
    for name, info in batteries.items():
        numbers = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in headlines.get(name, {}).items()
        )
        table.add_row(name, str(info["status"]), str(info["seconds"]), numbers)
    console.print(table)
    console.print(f"report written to {out}")


@app.command()
def terrain(
    path: Annotated[Path, typer.Argument(help="local Hugging Face model directory (safetensors)")],
    battery: Annotated[
        list[str] | None,
        typer.Option("--battery", "-b", help="battery to run (repeatable): embedding, hidden, weights, wordnet"),
    ] = None,
    layers: Annotated[
        str | None,
        typer.Option(help="layer indices ('0,2-3') or comma-separated name globs ('*attention.self.query*')"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="output directory (default ./terrain-<model>)")] = None,
    seed: Annotated[int, typer.Option(help="seed of every sampling step")] = 0,
    describe: Annotated[
        bool, typer.Option("--describe", help="dry run: list batteries and selected tensors, load no weights")
    ] = False,
    wordnet: Annotated[
        bool, typer.Option(help="align with the embedded WordNet noun hierarchy (the wordnet battery)")
    ] = True,
    fit: Annotated[
        str, typer.Option(help="power-law fit of the weight spectra: weightwatcher (its exact fit) or csn")
    ] = "weightwatcher",
) -> None:
    """Measure the geometric terrain of a model: embeddings, hidden states, weights, WordNet alignment.

    Example: geolm analyze terrain MODEL_DIR --out report/
    """
    from geolm import terrain as t

    options = t.TerrainOptions(power_law_fit=fit)
    taxonomy = t.embedded_wordnet() if wordnet else None
    if describe:
        typer.echo(t.describe(path, batteries=battery, layers=layers, taxonomy=taxonomy).to_markdown())
        return
    out = out or _default_out("terrain", path)
    report = t.analyze(
        path, batteries=battery, layers=layers, seed=seed, out_dir=out, taxonomy=taxonomy, options=options
    )
    _print_summary(report.summary, out)


@app.command()
def compare(
    path_a: Annotated[Path, typer.Argument(help="first model directory")],
    path_b: Annotated[Path, typer.Argument(help="second model directory")],
    representation: Annotated[str, typer.Option(help="embedding (static rows) or hidden (last layer)")] = "embedding",
    width: Annotated[str, typer.Option(help="when widths differ: pca (reduce the wider) or pad (zero-pad)")] = "pca",
    out: Annotated[Path | None, typer.Option(help="output directory (default ./compare-<a>-vs-<b>)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the word sample, split and null maps")] = 0,
) -> None:
    """Align two models with orthogonal Procrustes on shared words, scored on held-out words against nulls.

    Example: geolm analyze compare MODEL_A MODEL_B
    """
    from geolm import terrain as t

    out = out or _default_out("compare", path_a, path_b)
    report = t.compare(path_a, path_b, representation=representation, width=width, seed=seed, out_dir=out)
    _print_summary(report.summary, out)
