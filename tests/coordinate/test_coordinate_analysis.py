from pathlib import Path

import pytest
import torch

from geolm.coordinate.analysis import (
    get_coordinate_statistics,
    interpolate_coordinates,
    plot_coordinate_activity,
)
from geolm.errors import InputError


def test_statistics_of_one_prompt(make_tiny) -> None:
    model = make_tiny()
    stats = get_coordinate_statistics(model, [4, 9, 33, 2, 70, 11])
    theta, context = stats["theta"], stats["theta_context"]
    assert theta.shape == context.shape == (6, 32) and stats["uncertainty"].shape == (6,)
    torch.testing.assert_close(stats["uncertainty"], (theta - context).var(-1, unbiased=False))
    coordinates = context[-1] / (1 - 0.95**6)
    assert stats["norm"] == pytest.approx(coordinates.norm().item(), rel=1e-6)
    magnitudes = coordinates.abs()[stats["top_10_dims"]]
    assert len(stats["top_10_dims"]) == 10 and torch.all(magnitudes[:-1] >= magnitudes[1:])
    assert magnitudes[-1] >= coordinates.abs().sort(descending=True).values[10]
    with pytest.raises(InputError, match="one prompt"):
        get_coordinate_statistics(model, torch.zeros(2, 3, dtype=torch.long))


def test_interpolation_moves_from_one_prompt_to_the_other(make_tiny) -> None:
    model = make_tiny()
    model.generation_config.eos_token_id = None
    path = interpolate_coordinates(model, [5, 17, 99, 240], [300, 8, 71], steps=3, max_new_tokens=6)
    assert [alpha for alpha, _ in path] == [0.0, 0.5, 1.0]
    assert all(len(tokens) == 6 for _, tokens in path)
    assert path[0][1] != path[-1][1]  # different coordinates, different greedy continuations
    with pytest.raises(InputError, match="at least 2 steps"):
        interpolate_coordinates(model, [5], [6], steps=1)


def test_plot_is_a_png_written_whole(make_tiny, tmp_path: Path) -> None:
    stats = get_coordinate_statistics(make_tiny(), [4, 9, 33, 2, 70])
    out = plot_coordinate_activity(stats, tmp_path / "plots" / "coords.png", tokens=list("abcde"))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    assert sorted(p.name for p in out.parent.iterdir()) == ["coords.png"]
