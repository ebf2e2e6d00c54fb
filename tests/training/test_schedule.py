import math
from itertools import pairwise

import pytest

from geolm.training import lr_factor


def test_warmup_is_linear_to_the_peak():
    assert [lr_factor(s, 100, 4, 0.1) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]


def test_cosine_runs_from_peak_to_min_ratio():
    steps, warmup, floor = 100, 10, 0.1
    assert lr_factor(warmup, steps, warmup, floor) == 1.0
    assert lr_factor(steps - 1, steps, warmup, floor) == pytest.approx(floor)
    middle = warmup + (steps - warmup - 1) / 2
    assert lr_factor(int(middle), steps, warmup, floor) == pytest.approx(
        floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * int(middle - warmup) / (steps - warmup - 1)))
    )
    values = [lr_factor(s, steps, warmup, floor) for s in range(warmup, steps)]
    assert all(a >= b for a, b in pairwise(values))


def test_no_warmup_starts_at_peak():
    assert lr_factor(0, 10, 0, 0.0) == 1.0
    assert lr_factor(9, 10, 0, 0.0) == pytest.approx(0.0)


def test_default_warmup_leaves_a_short_run_most_of_its_steps_to_decay():
    from geolm.training.args import TrainArgs, default_warmup

    assert [default_warmup(steps) for steps in (5, 40, 300, 1000, 50_000)] == [0, 4, 30, 100, 100]
    assert TrainArgs(steps=50).warmup_steps == 5  # from Python as from `geolm train`
    assert TrainArgs(steps=3, warmup_steps=10).warmup_steps == 3
    steps = 40
    factors = [lr_factor(s, steps, default_warmup(steps), 0.1) for s in range(steps)]
    assert factors.index(max(factors)) == default_warmup(steps) - 1 and factors[-1] == pytest.approx(0.1)
