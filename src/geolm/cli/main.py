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
    from geolm.cli import presets, verify

    app.command("presets")(presets.presets)
    app.command("verify")(verify.verify)


def main() -> None:
    """Run the CLI; a `GeoError` prints `error: ...` on stderr and exits with status 2."""
    _mount()
    try:
        app(standalone_mode=False)
    except GeoError as err:
        typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        typer.secho("aborted", err=True)
        sys.exit(130)
    except Exception as err:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
