"""`geolm experiment leaderboard`: every family at the llama's parameter count, trained alike, scored alike."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
from clirun import run as geolm

from geolm.cli.experiment import FAMILY_NAMES
from geolm.errors import ConfigError
from geolm.experiments.leaderboard import (
    FAMILIES,
    WIDTH_STEP,
    LeaderboardOptions,
    counts,
    family_config,
    match_width,
    matched_configs,
    report,
    run_leaderboard,
    summarise,
)
from geolm.experiments.wordnet_tasks import HEADLINE_METRICS
from geolm.presets import PRESETS

CURVED = {"curvature", "geo-mix-moe", "geo-mix-integrator"}
ROUTED = {"mgm", "geo-mix-moe"}
ITERATED = {"inl", "geo-mix-integrator"}


class Tok:  # what the configs read of a tokenizer
    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2

    def __len__(self) -> int:
        return 2048


def test_the_cli_names_the_experiments_families() -> None:
    assert tuple(FAMILIES) == FAMILY_NAMES


def test_match_width_takes_the_nearest_multiple() -> None:
    assert match_width(lambda width: 10 * width, 1010, 4096) == 104  # 101 wide is nearer 104 than 96
    assert match_width(lambda width: 10 * width, 990, 4096) == 96
    assert match_width(lambda width: 10 * width, 1, 4096) == WIDTH_STEP
    assert match_width(lambda width: 10 * width, 10**9, 256) == 256


def test_every_family_is_matched_to_the_llamas_count_and_keeps_its_parts() -> None:
    options = LeaderboardOptions()
    target = counts(family_config("llama", options, Tok(), options.intermediate_size))["parameters"]
    for name, (config, width) in matched_configs(options, Tok()).items():
        counted = counts(config)
        assert abs(counted[FAMILIES[name].counted] / target - 1) < 0.01, name
        assert width % WIDTH_STEP == 0 and config.hidden_size == options.hidden_size
        assert (config.attention == "curvature") == (name in CURVED)
        assert (config.ffn == "geometric_moe") == (name in ROUTED)
        assert (config.ffn == "integrator") == (name in ITERATED)
        if name in ROUTED:
            assert counted["parameters"] > 1.5 * counted["active"]  # the totals are far above, and stated


def test_unknown_families_and_a_used_output_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown family 'mgn'.*did you mean 'mgm'"):
        LeaderboardOptions(families=["mgn"]).check()
    (tmp_path / "runs" / "llama-0").mkdir(parents=True)
    with pytest.raises(ConfigError, match="already holds leaderboard runs"):
        run_leaderboard(LeaderboardOptions.quick(), tmp_path)
    refused = geolm("experiment", "leaderboard", "--quick", "--families", "llama,mgn", "--out", str(tmp_path / "x"))
    assert refused.returncode != 0 and "mgn" in refused.stderr and not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("leaderboard")
    return out, run_leaderboard(LeaderboardOptions.quick(), out, progress=lambda _: None)


def test_quick_run_trains_every_family_with_every_seed(quick) -> None:
    _, results = quick
    options = results["options"]
    assert [(r["family"], r["seed"]) for r in results["runs"]] == [(f, 0) for f in FAMILIES]
    for run in results["runs"]:
        assert 0 < run["heldout_loss"] < math.log(options["vocab_size"]) + 0.5
        assert len(run["losses"]) == options["steps"] and all(math.isfinite(x) for x in run["losses"])
        assert run["train_tokens_per_s"] > 0 and run["generate_tokens_per_s"] > 0
        assert set(run["wordnet"]) == set(HEADLINE_METRICS)
        assert all(0.0 <= value <= 1.0 for value, _ in run["wordnet"].values())


def test_each_family_reports_its_own_statistics_and_memory(quick) -> None:
    _, results = quick
    options = results["options"]
    for run in results["runs"]:
        stats, name = run["stats"], run["family"]
        if name in CURVED:
            heads = sum(stats[f"heads_{k}"] for k in ("hyperbolic", "euclidean", "spherical"))
            assert heads == options["layers"] * options["heads"]
        assert ("load_entropy" in stats) == (name in ROUTED) and ("iterations" in stats) == (name in ITERATED)
        if name in ROUTED:
            assert 0 < stats["load_entropy"] <= 1 and 0 < stats["busiest_expert"] <= 1
        if name in ITERATED:
            most = PRESETS[FAMILIES[name].preset]["part_options"]["ffn"]["max_iterations"]
            assert 1 <= stats["iterations"] <= most
    for name, family in results["families"].items():
        held = 4 * 3 * family["parameters"]  # float32 weights and AdamW's two moments
        assert family["peak_memory_mib"] * 2**20 > held, name


def test_the_summary_and_the_files_agree_with_the_runs(quick) -> None:
    out, results = quick
    saved = json.loads((out / "results.json").read_text())
    assert saved["summary"].keys() == set(FAMILIES) and saved["runs"] == json.loads(json.dumps(results["runs"]))
    for name, entry in saved["summary"].items():
        (run,) = [r for r in saved["runs"] if r["family"] == name]
        assert entry["heldout_loss"][0] == run["heldout_loss"] and math.isnan(entry["heldout_loss"][1])
    table = (out / "leaderboard.md").read_text()
    assert all(f"| {name} |" in table for name in FAMILIES) and "llama's time" in table and "κ heads" in table
    for png in ("loss_curves.png", "quality_speed.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_summary_is_the_mean_and_spread_over_seeds(quick) -> None:
    _, results = quick
    one = next(r for r in results["runs"] if r["family"] == "mgm")
    runs = [{**one, "seed": 1, "heldout_loss": 2.0}, {**one, "seed": 2, "heldout_loss": 3.0}]
    summary = summarise(runs, {"mgm": results["families"]["mgm"]})["mgm"]
    assert summary["seeds"] == 2 and summary["heldout_loss"] == (2.5, statistics.stdev([2.0, 3.0]))
    assert summary["stats"]["load_entropy"] == (one["stats"]["load_entropy"], 0.0)
    assert "2.5000 ± 0.7071" in report({"options": results["options"], "summary": {"mgm": summary}})
