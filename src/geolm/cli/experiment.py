"""`geolm experiment suite|summarize|head-split|mixture|integrator|leaderboard|uptrain`: curvature against
standard attention, which head geometries emerge, mixed geometries against Euclidean and dense feed-forward
blocks, integrator layers against a Llama of equal parameters, every family in one table, and geometry added
to a pretrained model against its plain fine-tune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from geolm.errors import ConfigError

app = typer.Typer(help="Experiment suites comparing geometric and standard models.", no_args_is_help=True)


def _names(values: list[str] | None) -> list[str] | None:
    """Repeated options and comma-separated lists both work: --sizes tiny,small or --sizes tiny --sizes small."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()] if values else None


@app.command()
def suite(
    quick: Annotated[bool, typer.Option("--quick", help="tiny and small sizes, small data, few steps")] = False,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("experiments/suite"),
    tasks: Annotated[
        list[str] | None,
        typer.Option(help="built-in tasks: lexname, hypernymy, tagging, glosses (default: all; none with --task-file)"),
    ] = None,
    sizes: Annotated[list[str] | None, typer.Option(help="model sizes: tiny, small, medium, large")] = None,
    task_file: Annotated[
        list[Path] | None, typer.Option(help="extra task: GLUE-style .tsv/.jsonl or CoNLL .conll (repeatable)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of data splits, initialisation and batch order")] = 0,
    steps: Annotated[int | None, typer.Option(help="optimizer steps per run (default 60 quick, 1500 full)")] = None,
    kappa_init: Annotated[str, typer.Option(help="starting κ of geometric models: zero, random, linspace")] = "zero",
) -> None:
    """Train a geometric model and its standard twin per task and size; write results.json, report.md, PNGs.

    Example: geolm experiment suite --quick
    """
    from geolm.experiments.report import comparison_table
    from geolm.experiments.suite import SuiteOptions, run_suite

    chosen = {"seed": seed, "kappa_init": kappa_init, "task_files": [str(p) for p in task_file or []]}
    if steps is not None:
        chosen["steps"] = steps
    if _names(sizes):
        chosen["sizes"] = _names(sizes)
    if tasks is not None:
        chosen["tasks"] = _names(tasks) or []
    elif task_file:
        chosen["tasks"] = []
    options = SuiteOptions.quick(**chosen) if quick else SuiteOptions(**chosen)
    results = run_suite(options, out)
    console = Console()
    console.print(comparison_table(results))
    console.print(f"results in {out} ({results['wall_s']} s)")


@app.command("head-split")
def head_split(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("experiments/head-split"),
    task: Annotated[str, typer.Option(help="built-in task: lexname, hypernymy, tagging, glosses")] = "glosses",
    size: Annotated[str, typer.Option(help="model size whose width and depth are used")] = "small",
    heads: Annotated[list[str] | None, typer.Option(help="heads per layer to try (default 3,4,5,6)")] = None,
    inits: Annotated[list[str] | None, typer.Option(help="κ starts: zero, random, linspace (default all)")] = None,
    seeds: Annotated[list[str] | None, typer.Option(help="seeds of initialisation and batches (default 0,1)")] = None,
    steps: Annotated[int, typer.Option(help="optimizer steps per run")] = 300,
) -> None:
    """Train curvature models from each κ start with odd and even head counts; census before and after.

    Example: geolm experiment head-split
    """
    from geolm.errors import ConfigError
    from geolm.experiments.head_split import HeadSplitOptions, run_head_split

    chosen: dict = {"task": task, "size": size, "steps": steps}
    try:
        if _names(heads):
            chosen["heads"] = [int(h) for h in _names(heads)]
        if _names(seeds):
            chosen["seeds"] = [int(s) for s in _names(seeds)]
    except ValueError as error:
        raise ConfigError(f"--heads and --seeds take integers: {error}") from error
    if _names(inits):
        chosen["inits"] = _names(inits)
    results = run_head_split(HeadSplitOptions(**chosen), out)
    Console().print(f"{len(results['runs'])} runs in {out} ({results['wall_s']} s); table in {out / 'report.md'}")


@app.command()
def summarize(
    runs: Annotated[list[Path], typer.Argument(help="suite output directories (each with results.json)")],
    out: Annotated[Path | None, typer.Option(help="also write the table to this markdown file")] = None,
) -> None:
    """Mean and spread of the deltas over suite runs with different seeds, next to the seed-to-seed noise.

    Example: geolm experiment summarize runs/suite-seed0 runs/suite-seed1
    """
    import json

    from geolm.errors import InputError
    from geolm.experiments.report import summary_frame, summary_table
    from geolm.files import write_atomic

    results = []
    for run in runs:
        path = run / "results.json"
        try:
            results.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"{path}: not a readable suite result ({error})") from error
    table = summary_table(summary_frame(results))
    typer.echo(table)  # plain, so the markdown is not wrapped to the terminal
    if out is not None:
        write_atomic(out, lambda temp: temp.write_text(table + "\n", encoding="utf-8"))


# The leaderboard's families, named here so that help needs no torch (a test holds it to the experiment's list).
FAMILY_NAMES = ("llama", "geometric-llama", "curvature", "mgm", "inl", "geo-mix-moe", "geo-mix-integrator")
Quick = Annotated[bool, typer.Option("--quick", help="one seed, a few steps, a tiny model (a smoke test)")]
Seeds = Annotated[str | None, typer.Option(help="comma-separated seeds (default 0,1,2; quick: 0)")]


def _run_choices(seeds: str | None, steps: int | None) -> dict:
    """The options --seeds and --steps set (none when not given)."""
    chosen: dict = {}
    if seeds:
        try:
            chosen["seeds"] = [int(s) for s in seeds.split(",")]
        except ValueError:
            raise ConfigError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    if steps is not None:
        chosen["steps"] = steps
    return chosen


def _run_family_experiment(
    options_class, runner, quick: bool, out: Path, chosen: dict, report: str = "report.md"
) -> None:
    """Build the options (`quick()` or the defaults, with `chosen` over them), run, print the report."""
    options = options_class.quick(**chosen) if quick else options_class(**chosen)
    console = Console()
    results = runner(options, out, progress=lambda message: console.print(f"training {message}"))
    console.print((out / report).read_text(), soft_wrap=True)
    console.print(f"results in {out} ({results['wall_s']} s)")


@app.command()
def mixture(
    quick: Quick = False,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("experiments/mixture"),
    seeds: Seeds = None,
    steps: Annotated[int | None, typer.Option(help="optimizer steps per run (default 400; quick: 8)")] = None,
) -> None:
    """Mixed geometries against a Euclidean-only mixture and a dense model: held-out loss and routing.

    Example: geolm experiment mixture
    """
    from geolm.experiments.mixture import MixtureOptions, run_mixture

    _run_family_experiment(MixtureOptions, run_mixture, quick, out, _run_choices(seeds, steps))


@app.command()
def integrator(
    quick: Quick = False,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("experiments/integrator"),
    seeds: Seeds = None,
    steps: Annotated[int | None, typer.Option(help="optimizer steps per run (default 300; quick: 6)")] = None,
) -> None:
    """Integrator layers (residual, learned and no halting) against a Llama of equal parameters: held-out
    loss, iterations per token, speed, and the tolerance/iterations/loss curve.

    Example: geolm experiment integrator
    """
    from geolm.experiments.integrator import IntegratorExperiment, run_integrator

    _run_family_experiment(IntegratorExperiment, run_integrator, quick, out, _run_choices(seeds, steps))


@app.command()
def leaderboard(
    quick: Quick = False,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("experiments/leaderboard"),
    seeds: Seeds = None,
    steps: Annotated[int | None, typer.Option(help="optimizer steps per run (default 240; quick: 4)")] = None,
    families: Annotated[
        list[str] | None,
        typer.Option(help="families to train, comma-separated (default all): " + ", ".join(FAMILY_NAMES)),
    ] = None,
) -> None:
    """Every family at matched parameters on the same data, tokens and schedule, several seeds: held-out loss,
    WordNet tasks, speed, memory and each family's own statistics; leaderboard.md, results.json, PNGs.

    Example: geolm experiment leaderboard --quick
    """
    from geolm.experiments.leaderboard import LeaderboardOptions, run_leaderboard

    chosen = _run_choices(seeds, steps)
    if _names(families):
        chosen["families"] = _names(families)
    _run_family_experiment(LeaderboardOptions, run_leaderboard, quick, out, chosen, "leaderboard.md")


@app.command()
def uptrain(
    base: Annotated[Path, typer.Option("--base", help="a local Llama, Mistral, Qwen2 or Qwen3 checkpoint directory")],
    quick: Quick = False,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("experiments/uptrain"),
    steps: Annotated[int | None, typer.Option(help="optimizer steps per arm (default 200; quick: 4)")] = None,
    arms: Annotated[
        list[str] | None,
        typer.Option(
            help="arms (repeatable): fine-tune, or families joined by commas "
            "(default: fine-tune, each family alone, coordinate,curvature)"
        ),
    ] = None,
    data: Annotated[list[Path] | None, typer.Option(help="training files (default: the embedded corpus)")] = None,
) -> None:
    """A pretrained base with each family's parts added at identity, against its plain fine-tune on the same
    tokens: held-out loss and the WordNet tasks; report.md and results.json.

    Example: geolm experiment uptrain --base ~/models/qwen3-0.6b
    """
    from geolm.experiments.uptrain import UptrainExperiment, run_uptrain

    chosen: dict = {"data": list(data or [])}
    if steps is not None:
        chosen["steps"] = steps
    if arms:
        chosen["arms"] = list(arms)
    options = UptrainExperiment.quick(base, **chosen) if quick else UptrainExperiment(base=base, **chosen)
    console = Console()
    results = run_uptrain(options, out, progress=lambda arm: console.print(f"training {arm}"))
    console.print((out / "report.md").read_text(), soft_wrap=True)
    console.print(f"results in {out} ({results['wall_s']} s)")
