import pytest

from geolm.cli.recipe_flags import parse_recipe_flags
from geolm.errors import ConfigError, did_you_mean, flag_name, unknown_names


def test_did_you_mean_names_the_closest_choice() -> None:
    assert did_you_mean("hiden_size", ["hidden_size", "head_dim"]) == " (did you mean 'hidden_size'?)"
    assert did_you_mean("zzz", ["hidden_size", "head_dim"]) == ""
    assert did_you_mean("x", []) == ""


def test_unknown_names_suggests_each_name_and_lists_only_without_a_suggestion() -> None:
    allowed = ["steps", "lr", "seed"]
    assert unknown_names("train arg", ["stpes"], allowed) == "unknown train arg 'stpes' (did you mean 'steps'?)"
    assert unknown_names("train arg", ["sede", "stpes"], allowed) == (
        "unknown train args 'sede' (did you mean 'seed'?), 'stpes' (did you mean 'steps'?)"
    )
    assert unknown_names("train arg", ["qqq"], allowed) == "unknown train arg 'qqq'; allowed: steps, lr, seed"
    assert unknown_names("key", ["qqq"], []) == "unknown key 'qqq'; allowed: none"


def test_flag_name_is_the_command_line_spelling() -> None:
    assert flag_name("mixed_precision") == "--mixed-precision"


def test_a_misspelt_train_flag_suggests_geolm_trains_own_flag() -> None:
    with pytest.raises(ConfigError, match=r"^geolm train has no flag --stepz \(did you mean '--steps'\?\); recipe"):
        parse_recipe_flags("baseline", ["--stepz", "5"], own_flags=["--steps", "--out"])
