"""The seed's flags on `geolm train` (recipe "mgm"): what each sets, the errors they give, and a run with them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
import typer
from clirun import run
from typer.testing import CliRunner

from geolm import GeoConfig, api
from geolm.cli import train as train_cli
from geolm.cli.recipe_flags import parse_recipe_flags, recipe_flags_help
from geolm.config import merge_overrides
from geolm.data import encode_documents, pack
from geolm.data.corpus import corpus_texts
from geolm.data.tokenizer import train_tokenizer
from geolm.errors import ConfigError
from geolm.experts.curriculum import (
    LENGTHS,
    MAX_DOCUMENTS,
    STAGES,
    SeedOptions,
    mgm_recipe,
    spread_experts,
    subset_documents,
)
from geolm.experts.options import GEOMETRIES
from geolm.presets import PRESETS
from geolm.training.recipes import RecipeInputs, RecipeOptions, RecipeSettings

TINY = PRESETS["mgm-tiny"]


def parse(*args: str, base: dict | None = None) -> RecipeSettings:
    """What the seed's flags, read as geolm train reads them, set over `base` (default: mgm-tiny's fields)."""
    return parse_recipe_flags("mgm", list(args)).settings(TINY if base is None else base)


def options(*args: str) -> SeedOptions:
    return parse_recipe_flags("mgm", list(args))


def cli(*args: str):
    """`geolm train ARGS` in this process, mounted as the console script mounts it."""
    app = typer.Typer(add_completion=False)
    app.command("train", context_settings=train_cli.CONTEXT_SETTINGS)(train_cli.train)
    return CliRunner().invoke(app, list(args))  # one command: the app is the command


def test_spread_experts_unevenly_over_the_geometries() -> None:
    assert spread_experts(16, GEOMETRIES) == (GEOMETRIES, [3, 3, 2, 2, 2, 2, 2])
    assert spread_experts(9, GEOMETRIES) == (GEOMETRIES, [2, 2, 1, 1, 1, 1, 1])
    assert spread_experts(14, GEOMETRIES) == (GEOMETRIES, [2] * 7)
    assert spread_experts(3, GEOMETRIES) == (GEOMETRIES[:3], [1, 1, 1])


def test_model_flags_merge_into_the_presets_part_options() -> None:
    flags = parse(
        "--hidden-dim", "32", "--experts-num", "9", "--k-experts", "3", "--num-heads", "2", "--nuanced-routing"
    )
    ffn = {"experts_per_geometry": [2, 2, 1, 1, 1, 1, 1], "top_k": 3, "nuanced_routing": True}
    assert flags.config == {
        "hidden_size": 32,
        "head_dim": None,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "part_options": {"ffn": ffn},
    }
    overrides = merge_overrides(TINY, flags.config)
    assert overrides["part_options"]["ffn"] == {**TINY["part_options"]["ffn"], **ffn}  # expert_size kept
    assert overrides["part_options"]["memory"] == TINY["part_options"]["memory"]
    assert TINY["part_options"]["ffn"]["top_k"] == 2  # the preset itself is untouched
    config = GeoConfig.from_preset("mgm-tiny", **overrides)
    moe = config.resolved_options()["ffn"]
    assert (config.hidden_size, config.num_attention_heads, config.num_key_value_heads) == (32, 2, 2)
    assert config.head_dim == 16 and moe.num_experts == 9 and moe.top_k == 3 and moe.nuanced_routing
    assert flags.train == {} and flags.start is None


def test_fewer_experts_than_geometries_keep_the_first_and_heads_drop_an_explicit_width() -> None:
    flags = parse("--experts-num", "3", "--k-experts", "2")
    assert flags.config["part_options"]["ffn"]["geometries"] == list(GEOMETRIES[:3])
    assert flags.config["part_options"]["ffn"]["experts_per_geometry"] == [1, 1, 1]
    seed = PRESETS["mgm-seed"]  # heads given an explicit width of 128
    overrides = merge_overrides(seed, parse("--num-heads", "10", base=seed).config)
    config = GeoConfig.from_preset("mgm-seed", **overrides)
    assert config.head_dim == 160 and config.num_key_value_heads == 10
    # the experts spread over the base's own geometries when it names them
    three = {"part_options": {"ffn": {"geometries": ["euclidean", "hyperbolic", "spherical"]}}}
    assert parse("--experts-num", "4", base=three).config["part_options"]["ffn"] == {"experts_per_geometry": [2, 1, 1]}


def test_training_flags() -> None:
    flags = parse(
        "--learning-rate", "2e-3", "--seq-len", "64", "--validation-steps", "7", "--amp-off", "--stage-steps", "3"
    )
    assert flags.train == {"lr": 2e-3, "block_size": 64, "eval_every": 7, "mixed_precision": "no", "steps": 15}
    assert options("--stage-steps", "3").stage_lengths == (0.2,) * 5
    uneven = options("--stage-steps", "1,2,3,2,2")
    assert uneven.settings(TINY).train == {"steps": 10} and uneven.stage_lengths == (0.1, 0.2, 0.3, 0.2, 0.2)
    assert SeedOptions().stage_lengths == LENGTHS
    # the same from Python, and the options name what they set
    assert SeedOptions(learning_rate=2e-3, seq_len=64).settings(TINY).train == {"lr": 2e-3, "block_size": 64}
    assert uneven.given() == ["stage_steps"] and uneven.given("recipe") == ["stage_steps"]
    assert options("--amp-off", "--seq-len", "8").given("recipe") == []


def test_data_flags(tmp_path: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps({"text": f"note {i}"}) + "\n" for i in range(5)))
    chosen = options(
        "--dataset-cot", str(notes), "--dataset-conversational", "off", "--sample-size", "50", "--flash-attention-off"
    )
    assert chosen.subsets == ("cot", "reasoning") and chosen.files == {"cot": str(notes)}
    assert chosen.sample_size == 50 and chosen.flash_attention_off
    assert chosen.settings(TINY) == RecipeSettings()
    assert subset_documents("cot", 0, 3, notes) == ["note 0", "note 1", "note 2"]
    assert len(subset_documents("reasoning", 0, 4)) == 4
    assert options() == SeedOptions() and SeedOptions().subsets == ("cot", "reasoning", "conversational")


def test_skip_setup_starts_at_the_warm_up_from_the_calibration_checkpoint() -> None:
    start = parse("--skip-setup").start
    assert (start.phase, start.checkpoint, start.option) == (1, f"phase-0-{STAGES[0]}", "--skip-setup")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--foo", "1"], "geolm train has no flag --foo; recipe 'mgm' takes --hidden-dim, "),
        (["--hidden-dim", "0"], "--hidden-dim: must be a positive integer, got '0' (a flag of recipe 'mgm')"),
        (["--hidden-dim"], "--hidden-dim: expected one argument"),
        (["--experts-num", "two"], "--experts-num: must be a positive integer, got 'two'"),
        (["--learning-rate", "-1"], "--learning-rate: must be a positive number, got '-1'"),
        (["--seq-len", "1"], "--seq-len: must be an integer of at least 2"),
        (["--validation-steps", "-2"], "--validation-steps: must be 0 or a positive integer"),
        (["--sample-size", "0"], "--sample-size: must be a positive integer"),
        (["--stage-steps", "1,2"], "--stage-steps: must be one positive number of steps or 5, comma-separated, got"),
        (["--stage-steps", "1,0,1,1,1"], "--stage-steps: must be one positive number of steps or 5, comma-separated"),
        (["--stage-steps", "a"], "--stage-steps: must be one positive number of steps or 5, comma-separated, got 'a'"),
        (["--dataset-cot", "/no/such/file.jsonl"], "--dataset-cot: /no/such/file.jsonl: no such file or directory"),
        (["--k-experts", "9"], "--k-experts 9 is more than the 7 experts of the preset"),
        (["--experts-num", "3", "--k-experts", "4"], "--k-experts 4 is more than the 3 experts of --experts-num"),
        (["--num-heads", "3"], "3 heads over hidden size 64 are 21 wide; rotary embeddings need an even width"),
        (
            ["--dataset-cot", "off", "--dataset-reasoning", "off", "--dataset-conversational", "off"],
            "all off; keep one",
        ),
        (["--hidden"], "no flag --hidden (did you mean '--hidden-dim'?)"),  # no abbreviations
    ],
)
def test_bad_flags_are_one_line_errors_naming_the_flag(args: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(*args)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_recipe_without_flags_refuses_them() -> None:
    with pytest.raises(ConfigError, match="geolm train has no flag --hidden-dim; recipe 'baseline' takes no flags"):
        parse_recipe_flags("baseline", ["--hidden-dim", "32"])
    assert parse_recipe_flags("baseline", []) == RecipeOptions()
    with pytest.raises(ConfigError, match="recipe 'baseline' takes no options, got hidden_dim"):
        api.resolve(api.RunSpec(preset="llama-tiny", recipe_options={"hidden_dim": 32}))
    with pytest.raises(ConfigError, match="recipe 'baseline' takes no options, got SeedOptions"):
        api.resolve(api.RunSpec(preset="llama-tiny", recipe_options=SeedOptions()))
    assert "takes no flags" in recipe_flags_help("baseline")


def test_recipe_flags_option_prints_the_flags() -> None:
    result = cli("--preset", "mgm-tiny", "--recipe-flags")
    assert result.exit_code == 0, result.output
    assert "recipe 'mgm'" in result.output
    for flag in ("--hidden-dim N", "--experts-num N", "--stage-steps", "--skip-setup", "--dataset-conversational"):
        assert flag in result.output
    baseline = cli("--preset", "llama-tiny", "--recipe-flags")
    assert baseline.exit_code == 0 and "recipe 'baseline' takes no flags of its own" in baseline.output


def test_flags_are_read_before_any_data_or_model_work(monkeypatch, tmp_path: Path) -> None:
    def never(*_):
        raise AssertionError("api.prepare was reached")

    monkeypatch.setattr(api, "prepare", never)
    result = cli("--preset", "mgm-tiny", "--hidden-dim", "0", "--out", str(tmp_path / "run"))
    assert isinstance(result.exception, ConfigError) and "--hidden-dim: must be" in str(result.exception)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"phases": [{"name": "main"}]}))
    result = cli("--preset", "mgm-tiny", "--curriculum", str(plan), "--sample-size", "5", "--out", str(tmp_path))
    assert isinstance(result.exception, ConfigError) and "--curriculum replaces" in str(result.exception)
    result = cli("--preset", "mgm-tiny", "--skip-setup", "--resume", "auto", "--out", str(tmp_path / "run"))
    assert isinstance(result.exception, ConfigError) and "drop --resume and --start-phase" in str(result.exception)


def test_flags_apply_over_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"preset": "mgm-tiny", "num_hidden_layers": 1}))
    base = api.base_fields("mgm-tiny", path)
    overrides = merge_overrides(base, parse("--experts-num", "14", "--hidden-dim", "48", base=base).config)
    config = api.model_config(api.RunSpec(preset="mgm-tiny", config=path, overrides=overrides))
    moe = config.resolved_options()["ffn"]
    assert (config.num_hidden_layers, config.hidden_size, moe.num_experts, moe.expert_size) == (1, 48, 14, 64)
    assert config.part_options["memory"] == TINY["part_options"]["memory"]


def test_the_recipe_builds_what_the_options_chose(tmp_path: Path) -> None:
    tokenizer = train_tokenizer(itertools.islice(corpus_texts("train"), 300), 300)
    text = pack(encode_documents(tokenizer, itertools.islice(corpus_texts("train"), 50)), 32, tokenizer.pad_token_id)
    chats = tmp_path / "chats.jsonl"
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]
    chats.write_text("".join(json.dumps({"messages": turns}) + "\n" for _ in range(4)))
    chosen = options(
        "--dataset-reasoning", "off", "--dataset-conversational", str(chats), "--sample-size", "20", "--stage-steps",
        "1,2,3,2,2",
    )  # fmt: skip
    plan, sources = mgm_recipe(RecipeInputs(tokenizer, text, 32, 0, chosen))
    assert set(sources) == {"train", "cot", "conversational"}
    assert [p.name for p in plan.phases] == list(STAGES) and plan.ends(10) == [1, 3, 6, 8, 10]
    assert all("reasoning" not in (p.mixture or {}) for p in plan.phases)
    assert all(set(p.mixture) <= set(sources) for p in plan.phases)
    default, _ = mgm_recipe(RecipeInputs(tokenizer, text, 32, 0))
    assert [p.length for p in default.phases] == list(LENGTHS) and MAX_DOCUMENTS == 20_000
    assert torch.backends.cuda.flash_sdp_enabled()
    try:
        mgm_recipe(RecipeInputs(tokenizer, text, 32, 0, SeedOptions(flash_attention_off=True, sample_size=2)))
        assert not torch.backends.cuda.flash_sdp_enabled()
    finally:
        torch.backends.cuda.enable_flash_sdp(True)


SEED_RUN = [
    "--preset", "mgm-tiny", "--steps", "10", "--stage-steps", "2", "--hidden-dim", "32", "--experts-num", "9",
    "--k-experts", "3", "--num-heads", "2", "--seq-len", "32", "--batch-size", "2", "--vocab-size", "300",
    "--max-train-tokens", "20000", "--sample-size", "50", "--dataset-conversational", "off", "--eval-every", "0",
    "--warmup-steps", "1", "--save-every", "0",
]  # fmt: skip


@pytest.mark.slow
def test_geolm_train_takes_the_seeds_flags(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run("train", *SEED_RUN, "--out", str(out))
    assert done.returncode == 0, done.stderr
    config = json.loads((out / "last" / "config.json").read_text())
    assert (config["hidden_size"], config["num_attention_heads"], config["head_dim"]) == (32, 2, 16)
    assert config["part_options"]["ffn"]["top_k"] == 3
    assert config["part_options"]["ffn"]["experts_per_geometry"] == [2, 2, 1, 1, 1, 1, 1]
    assert all((out / f"phase-{i}-{name}" / "config.json").is_file() for i, name in enumerate(STAGES))
    # --skip-setup: the same run again from the calibration checkpoint, starting at the warm-up
    skipped = run("train", *SEED_RUN, "--out", str(out), "--skip-setup")
    assert skipped.returncode == 0, skipped.stderr
    assert "phase 1 'reasoning_warmup'" in skipped.stderr and "'curvature_calibration' (" not in skipped.stderr
    assert json.loads((out / "last" / "trainer_state" / "state.json").read_text())["step"] == 10
    # a resumed run keeps its checkpoint's model
    other = run("train", *SEED_RUN, "--out", str(out), "--skip-setup", "--hidden-dim", "64")
    assert other.returncode == 2 and "has hidden_size 32, the run asks for 64" in other.stderr


def test_geolm_train_refuses_a_flag_of_no_one(tmp_path: Path) -> None:
    done = run("train", "--preset", "mgm-tiny", "--out", str(tmp_path / "run"), "--expert-num", "9")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: geolm train has no flag --expert-num (did you mean '--experts-num'?); recipe 'mgm' takes"
    )
    assert not (tmp_path / "run").exists()
