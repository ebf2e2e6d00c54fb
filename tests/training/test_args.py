import pytest

from geolm.errors import ConfigError
from geolm.training import TrainArgs


def test_defaults_validate_and_round_trip():
    args = TrainArgs(report_to="tensorboard")
    assert args.report_to == ["tensorboard"]
    assert TrainArgs.from_dict(args.to_dict()) == args


@pytest.mark.parametrize(
    ("key", "value"),
    [("steps", 0), ("lr", -1.0), ("min_lr_ratio", 1.5), ("mixed_precision", "fp8"), ("stop_after", 0), ("clip", -1)],
)
def test_bad_values_name_the_flag(key, value):
    with pytest.raises(ConfigError, match=f"^--{key.replace('_', '-')} must be "):
        TrainArgs(**{key: value})


def test_unknown_key_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown train arg 'stpes' \(did you mean 'steps'\?\)$"):
        TrainArgs.from_dict({"stpes": 10})
