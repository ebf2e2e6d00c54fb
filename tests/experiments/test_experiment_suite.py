"""The suite end to end on a hand-made lexicon, the training loop, and the CLI with a user task file."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import typer
from typer.testing import CliRunner

from geolm.data.tokenizer import train_tokenizer
from geolm.errors import ConfigError
from geolm.experiments import runner
from geolm.experiments.encode import encode
from geolm.experiments.suite import SuiteOptions, run_suite
from geolm.experiments.tasks import Example, Task

TINY = {"sizes": ["tiny"], "steps": 3, "batch_size": 4, "n_train": 20, "n_test": 4, "max_length": 24}


def test_comparison_runs_use_the_trainers_short_schedule_quietly():
    args = runner.run_args(steps=100, batch_size=4, lr=1e-3, seed=3)
    assert (args.warmup_steps, args.eval_every, args.save_every, args.seed) == (10, 0, 0, 3)
    assert args.quiet and args.weight_decay == 0.01


def test_training_learns_a_separable_task(tmp_path):
    sentences = [(f"the {a} saw a {b}", int(b == "heron")) for a in ("cat", "owl", "fox") for b in ("heron", "fish")]
    examples = [Example(text, label=label) for text, label in sentences] * 4
    task = Task("toy", "classify", ["other", "heron"], examples, examples)
    tokenizer = train_tokenizer([e.text for e in examples], 300)
    data = encode(task, examples, tokenizer, 16)
    model = runner.build_model(task, "tiny", "geometric", tokenizer, seed=0)
    assert runner.evaluate(model, task, data, 8) == pytest.approx(0.5, abs=0.2)
    seen = []
    args = replace(runner.run_args(steps=30, batch_size=8, lr=3e-3, seed=0), log_every=10)
    last_loss = runner.train_model(model, data, args, tmp_path, on_step=lambda step, loss: seen.append((step, loss)))
    assert runner.evaluate(model, task, data, 8) == 1.0
    assert [step for step, _ in seen] == list(range(1, 31)) and seen[-1][1] == last_loss
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [record for record in map(json.loads, lines) if "loss" in record]
    assert [r["step"] for r in records] == [10, 20, 30]
    assert {"kappa/L0H0", "kappa/L0H1", "loss", "lr", "tokens_per_s"} <= set(records[-1])


def test_suite_writes_results_report_and_figures(tmp_path, lexicon):
    options = SuiteOptions(**TINY, vocab_size=300)
    results = run_suite(options, tmp_path, lexicon=lexicon)
    assert [(r["task"], r["size"]) for r in results["comparisons"]] == [
        ("lexname", "tiny"),
        ("hypernymy", "tiny"),
        ("tagging", "tiny"),
        ("glosses", "tiny"),
    ]
    assert len(results["runs"]) == 8
    for row in results["comparisons"]:
        assert sum(row["census"].values()) == 2  # curvature-tiny has one layer of two heads
        sign = 1 if row["metric"] != "perplexity" else -1
        assert row["delta"] == pytest.approx(sign * (row["geometric"] - row["standard"]))
    glosses = [r for r in results["runs"] if r["task"] == "glosses"]
    assert all(r["value"] > 1 for r in glosses)  # a perplexity
    geometric, standard = (next(r for r in glosses if r["arch"] == a) for a in ("geometric", "standard"))
    assert geometric["parameters"] - standard["parameters"] == 4  # κ and τ for each of two heads
    assert json.loads((tmp_path / "results.json").read_text())["runs"] == results["runs"]
    report = (tmp_path / "report.md").read_text()
    assert "| glosses | tiny | perplexity |" in report
    assert (tmp_path / "results.png").stat().st_size > 1000 and (tmp_path / "census.png").stat().st_size > 1000
    assert (tmp_path / "runs" / "lexname-tiny-standard" / "metrics.jsonl").is_file()
    assert (tmp_path / "tokenizer" / "tokenizer.json").is_file()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"tasks": ["sst2"]}, "unknown task"), ({"sizes": ["huge"]}, "unknown size"), ({"steps": 0}, "'steps'")],
)
def test_bad_options_are_config_errors(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        run_suite(SuiteOptions(**{**TINY, **overrides}), tmp_path)
    assert not any(tmp_path.iterdir())


def test_cli_runs_a_user_task_file(tmp_path):
    from geolm.cli.experiment import app as experiment

    app = typer.Typer()  # mounted as `geolm experiment` is
    app.add_typer(experiment, name="experiment")
    rows = "".join(f"a {w} is here\t{int(w == 'heron')}\n" for w in ("heron", "fish", "owl", "cat") * 5)
    (tmp_path / "mine.tsv").write_text("sentence\tlabel\n" + rows, encoding="utf-8")
    out = tmp_path / "out"
    args = [
        "experiment",
        "suite",
        "--quick",
        "--task-file",
        tmp_path / "mine.tsv",
        "--sizes",
        "tiny",
        "--steps",
        "2",
        "--out",
        out,
    ]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert [t["name"] for t in results["tasks"]] == ["mine"]
    assert results["options"]["sizes"] == ["tiny"] and results["options"]["steps"] == 2
    assert "| mine | tiny | accuracy |" in result.output


def test_head_split_records_the_census_before_and_after_each_start(tmp_path, lexicon):
    from geolm.experiments.head_split import HeadSplitOptions, run_head_split

    options = HeadSplitOptions(
        task="glosses",
        size="tiny",
        heads=[1, 2],
        inits=["zero", "linspace"],
        seeds=[0],
        steps=3,
        batch_size=4,
        n_train=20,
        n_test=4,
        max_length=24,
        vocab_size=300,
    )
    results = run_head_split(options, tmp_path, lexicon=lexicon)
    runs = {(r["heads"], r["init"]): r for r in results["runs"]}
    assert set(runs) == {(1, "zero"), (1, "linspace"), (2, "zero"), (2, "linspace")}
    assert runs[(2, "linspace")]["kappa_start"] == [-1.0, 1.0]
    assert runs[(2, "linspace")]["classes_start"] == [1, 0, 1]
    assert runs[(2, "zero")]["classes_start"] == [0, 2, 0]
    for run in runs.values():
        assert len(run["kappa_end"]) == run["heads"] and sum(run["classes_end"]) == run["heads"]
        assert run["mean_abs_change"] > 0  # three steps of AdamW move every κ, even from exactly 0
    assert "| 2 | linspace | 0 | 1/0/1 |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "runs" / "h1-zero-s0" / "metrics.jsonl").exists()
    with pytest.raises(ConfigError, match="inits"):
        run_head_split(HeadSplitOptions(inits=["flat"]), tmp_path, lexicon=lexicon)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--heads", "three"], "--heads and --seeds take integers"), (["--inits", "flat"], "inits must be some of")],
)
def test_head_split_cli_refuses_bad_options_in_one_line(tmp_path, args, message):
    from clirun import run  # tests/cli, put on the path by conftest.py

    result = run("experiment", "head-split", "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_summary_averages_deltas_over_seeds_next_to_the_seed_noise(tmp_path):
    from clirun import run

    from geolm.experiments.report import summary_frame, summary_table

    def suite(seed: int, geometric: float, standard: float) -> dict:
        row = {"task": "glosses", "size": "tiny", "metric": "perplexity", "census": {}}
        comparison = {**row, "geometric": geometric, "standard": standard, "delta": standard - geometric}
        return {"options": {"seed": seed, "kappa_init": "zero"}, "comparisons": [comparison]}

    suites = [suite(0, 50.0, 52.0), suite(1, 54.0, 53.0), suite(2, 49.0, 51.0)]
    summary = summary_frame(suites)
    row = summary.iloc[0]
    assert row["seeds"] == "0,1,2" and row["geometric"] == pytest.approx(51.0)
    assert row["delta_mean"] == pytest.approx(1.0) and row["delta_std"] == pytest.approx(1.7320508)
    assert row["standard_std"] == pytest.approx(1.0)
    expected = "| glosses | tiny | perplexity | zero | 0,1,2 | 51 | 52 | +1 | 1.73 | +2 -1 +2 | 1 |"
    assert expected in summary_table(summary)
    for index, results in enumerate(suites):
        (tmp_path / f"s{index}").mkdir()
        (tmp_path / f"s{index}" / "results.json").write_text(json.dumps(results))
    directories = [str(tmp_path / f"s{index}") for index in range(3)]
    result = run("experiment", "summarize", *directories, "--out", str(tmp_path / "s.md"))
    assert result.returncode == 0 and "+2 -1 +2" in (tmp_path / "s.md").read_text()
    missing = run("experiment", "summarize", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "results.json: not a readable suite result" in missing.stderr
