"""The `geolm` console script: presets, verify, and one-line user errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

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


def _verb_paths() -> list[tuple[str, ...]]:
    """Every leaf command as the words a user types, walked through the lazy verb tables."""
    from geolm.cli.main import VERBS, Group

    paths = []
    for name, verb in VERBS.items():
        paths += [(name, sub) for sub in verb.verbs] if isinstance(verb, Group) else [(name,)]
    return paths


def test_every_verb_has_an_example_and_names_values_as_words() -> None:
    from typer.testing import CliRunner

    from geolm.cli.main import app, load_verb

    runner = CliRunner()
    paths = []
    for path in _verb_paths():
        command = load_verb(path[-1], _verb(path))
        names = list(command.commands) if hasattr(command, "commands") else [None]  # typer groups: experiment, data
        paths += [(*path, name) if name else path for name in names]
    assert len(paths) >= 20 and ("analyze", "heads") in paths and ("experiment", "suite") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        assert f"Example: geolm {' '.join(path)}" in result.output, path
        typed = re.findall(r"<(?:int|float|str|bool|path|list\[\w+\])[^>]*>|\{[a-z_]+\}", result.output)
        assert not typed, (path, typed)  # values are named as words: N, NUMBER, TEXT, PATH


def _verb(path: tuple[str, ...]):
    from geolm.cli.main import VERBS

    verb = VERBS[path[0]]
    return verb.verbs[path[1]] if len(path) == 2 else verb


def test_root_help_lines_are_the_verbs_own() -> None:
    """`geolm --help` is drawn from the verb table without importing the verbs; it must say what they say."""
    from geolm.cli.main import SUMMARY_WIDTH, load_verb

    for path in _verb_paths():
        verb = _verb(path)
        assert load_verb(path[-1], verb).get_short_help_str(SUMMARY_WIDTH) == verb.summary, path


def test_help_and_presets_start_without_torch() -> None:
    """The console script imports none of the heavy libraries for help or for the presets table."""
    heavy = ("torch", "transformers", "datasets", "pandas", "matplotlib", "scipy")
    script = f"""
import sys, geolm_command
from geolm.cli.main import VERBS
runs = [["--help"], ["presets"], *([name, "--help"] for name in VERBS)]
for argv in runs:
    sys.argv = ["geolm", *argv]
    try:
        geolm_command.main()
    except SystemExit as done:
        assert done.code in (0, None), (argv, done.code)
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_shipped_presets_table_matches_a_fresh_count() -> None:
    from geolm.cli.presets import TABLE_FILE, count_presets

    shipped = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    assert shipped == count_presets(), "the presets table is stale: run `make presets-table`"


def test_unknown_verb_suggests_the_closest() -> None:
    out = run("trian")
    assert out.returncode == 2
    assert "no command 'trian' (did you mean 'train'?)" in out.stderr
    out = run("analyze", "terain")
    assert out.returncode == 2 and "(did you mean 'terrain'?)" in out.stderr


def test_nothing_outside_the_cli_imports_it() -> None:
    """The CLI is a layer over the library: library code that imported it would depend on its callers."""
    import ast
    from pathlib import Path

    import geolm

    package = Path(geolm.__file__).parent
    importers = []
    for path in package.rglob("*.py"):
        if package / "cli" in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            if any(name == "geolm.cli" or name.startswith("geolm.cli.") for name in names):
                importers.append(str(path.relative_to(package)))
    assert importers == []
