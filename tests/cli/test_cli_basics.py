"""The `geolm` console script: presets, verify, and one-line user errors."""

from __future__ import annotations

import pytest
from clirun import run


def test_presets_lists_counts() -> None:
    out = run("presets")
    assert out.returncode == 0, out.stderr
    assert "llama-tiny" in out.stdout and "131.39K" in out.stdout
    assert "llama-10m" in out.stdout and "9.97M" in out.stdout


def test_verify_preset_passes() -> None:
    out = run("verify", "--preset", "llama-tiny")
    assert out.returncode == 0, out.stdout + out.stderr
    for word in ("embeddings", "attention", "ffn", "norms", "output", "total", "131,392"):
        assert word in out.stdout
    assert out.stdout.count("ok ") == 5 and "all checks passed" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("verify", "--preset", "nope"), "unknown preset 'nope'"),
        (("verify",), "exactly one of"),
    ],
)
def test_user_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_every_verb_has_an_example() -> None:
    import typer
    from typer.testing import CliRunner

    import geolm.cli.main as cli_main

    cli_main._mount()
    root = typer.main.get_command(cli_main.app)

    def leaves(group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        found = []
        for name, command in group.commands.items():  # a group of typer's own click has `commands`
            here = (*path, name)
            found += leaves(command, here) if hasattr(command, "commands") else [here]
        return found

    paths = leaves(root)
    assert len(paths) >= 20 and ("analyze", "heads") in paths
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(cli_main.app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        assert f"Example: geolm {' '.join(path)}" in result.output, path
