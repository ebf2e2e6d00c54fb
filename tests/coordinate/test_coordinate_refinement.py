import pytest
import torch

from geolm.coordinate import coordinate_override, find_modulation
from geolm.coordinate.refinement import refine_coordinates
from geolm.errors import InputError


def test_refinement_lowers_its_objective_and_leaves_the_weights_alone(make_tiny) -> None:
    model = make_tiny()
    tokens = torch.randint(0, 512, (2, 12))
    theta, objectives = refine_coordinates(model, tokens, steps=6, lr=0.1, lam=0.01)
    assert objectives.shape == (7,)
    assert objectives[-1] < objectives[0] - 0.01, objectives
    assert all(p.grad is None for p in model.parameters())
    proposed = find_modulation(model).coordinates(model.model.embed_tokens(tokens))[0]
    assert theta.shape == proposed.shape and (theta - proposed).abs().max() > 0.01
    with torch.no_grad(), coordinate_override(model, theta):  # the returned theta scores the final objective
        nll = model(tokens, labels=tokens).loss
    final = nll + 0.01 * (theta - proposed).pow(2).sum(-1).mean()
    assert final.item() == pytest.approx(objectives[-1].item(), rel=1e-4)


def test_zero_steps_and_bad_arguments(make_tiny) -> None:
    model = make_tiny()
    tokens = torch.randint(0, 512, (1, 6))
    theta, objectives = refine_coordinates(model, tokens, steps=0)
    proposed = find_modulation(model).coordinates(model.model.embed_tokens(tokens))[0]
    assert objectives.shape == (1,) and torch.equal(theta, proposed)
    with pytest.raises(InputError, match="length >= 2"):
        refine_coordinates(model, tokens[:, :1])
    with pytest.raises(InputError, match="lr > 0"):
        refine_coordinates(model, tokens, lr=0.0)


@torch.no_grad()
def test_override_replaces_absolute_positions_or_every_token(make_tiny) -> None:
    model = make_tiny()
    modulation = find_modulation(model)
    embeds = model.model.embed_tokens(torch.randint(0, 512, (1, 5)))
    predicted = modulation.coordinates(embeds)[0]
    fixed = torch.full((1, 3, 32), 2.0)
    with coordinate_override(model, fixed):
        prefix = modulation.coordinates(embeds)[0]
        later = modulation.coordinates(embeds[:, 2:], past=2)[0]
    assert torch.equal(prefix[:, :3], fixed) and torch.equal(prefix[:, 3:], predicted[:, 3:])
    assert torch.equal(later[:, :1], fixed[:, 2:])
    torch.testing.assert_close(later[:, 1:], predicted[:, 3:])
    with coordinate_override(model, torch.ones(32)):
        constant = modulation.coordinates(embeds)[0]
    assert torch.equal(constant, torch.ones(1, 5, 32)) and modulation.override is None
