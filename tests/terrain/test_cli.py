import sys

import pytest
import typer

from geolm.cli import analyze as analyze_cli
from geolm.cli import main as cli_main


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run `geolm analyze ...` through the real entry point with only this sub-app mounted."""
    root = typer.Typer(name="geolm", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    root.add_typer(analyze_cli.app, name="analyze")
    monkeypatch.setattr(cli_main, "app", root)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["geolm", "analyze", *args])
        with pytest.raises(SystemExit) as exit_info:
            cli_main.main()
            raise SystemExit(0)
        out = capsys.readouterr()
        return exit_info.value.code, out.out, out.err

    return run


def test_missing_path_exits_2_with_one_line(run_cli, tmp_path):
    code, _, err = run_cli("terrain", str(tmp_path / "nope"))
    assert code == 2
    assert err.strip() == f"error: model directory not found: {tmp_path / 'nope'}"
    assert not (tmp_path / "terrain-nope").exists()


def test_unknown_battery_exits_2(run_cli, minilm_dir):
    code, _, err = run_cli("terrain", str(minilm_dir), "--battery", "nope")
    assert code == 2 and "unknown battery 'nope'" in err


def test_describe_dry_run_exits_0(run_cli, minilm_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("terrain", str(minilm_dir), "--describe", "--layers", "*query*")
    assert code == 0
    assert "6 tensors selected" in out and "encoder.layer.5.attention.self.query.weight" in out
    assert list(tmp_path.iterdir()) == []  # a dry run writes nothing


def test_terrain_writes_the_report(run_cli, geolm_dir, tmp_path):
    out = tmp_path / "report"
    code, stdout, _ = run_cli("terrain", str(geolm_dir), "--battery", "weights", "--out", str(out), "--seed", "4")
    assert code == 0 and (out / "weights.csv").is_file() and (out / "report.md").is_file()
    assert "report written to" in stdout
