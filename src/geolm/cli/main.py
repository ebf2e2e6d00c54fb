"""Entry point of the `geolm` command: mounts each verb's module and turns user errors into one line."""

from __future__ import annotations

import sys

import typer

from geolm.errors import GeoError

app = typer.Typer(
    name="geolm",
    help="Geometric language models: train, chat, verify and analyse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _mount() -> None:
    """Import verb modules lazily so `geolm --help` stays fast and one broken verb names itself."""
    from geolm.cli import (
        analyze,
        chat,
        data,
        demo,
        evaluate,
        experiment,
        generate,
        menu,
        plot,
        presets,
        serve,
        train,
        ui,
        verify,
    )

    app.command("demo")(demo.demo)
    app.command("train", context_settings=train.CONTEXT_SETTINGS)(train.train)  # extra flags go to the recipe
    app.command("generate")(generate.generate)
    app.command("chat")(chat.chat)
    app.command("serve")(serve.serve)
    app.command("ui")(ui.ui)
    app.command("eval")(evaluate.evaluate)
    app.command("verify")(verify.verify)
    app.command("presets")(presets.presets)
    app.command("plot")(plot.plot)
    app.command("menu")(menu.menu)
    app.add_typer(experiment.app, name="experiment", help="experiment suites: geometric against standard models")
    app.add_typer(data.app, name="data", help="build and inspect training data")
    from geolm.curvature.cli import heads
    from geolm.experts.cli import experts
    from geolm.terrain.modulators.__main__ import claim

    analyze.app.command("heads")(heads)
    analyze.app.command("experts")(experts)
    analyze.app.command("modulator-claim")(claim)
    app.add_typer(analyze.app, name="analyze", help="geometry analysis of models")


def main() -> None:
    """Run the CLI; a `GeoError` prints `error: ...` on stderr and exits with status 2.

    Click keeps its own handling of usage errors (status 2 with usage help) in standalone mode.
    """
    _mount()
    run_with_errors(app)


def run_with_errors(command) -> None:
    """Call `command`; a `GeoError` becomes one `error: ...` line on stderr and exit status 2."""
    try:
        command()
    except GeoError as err:
        typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
        sys.exit(2)
