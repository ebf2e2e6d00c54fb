"""The `integrator` FFN part: bounded dynamics, per-token halting that is causal and cache-exact, halted tokens
frozen, no host synchronisation in training, and statistics through the parts channel."""

from __future__ import annotations

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM, inference_stats
from geolm.integrator import dynamics, iteration_stats
from geolm.integrator.layer import ITERATIONS, LAYER_ITERATIONS, PONDER, RESIDUAL, IntegratorFFN
from geolm.nn.context import ForwardContext
from geolm.testing import assert_cache_matches_forward, assert_causal


def build(seed: int = 0, **ffn) -> GeoForCausalLM:
    """inl-tiny with `ffn` options, its weights perturbed so that tokens halt after different counts (the
    excitation is left alone: large, it would keep every token running; the halting unit is perturbed more)."""
    options = {"controller_size": 32, "max_iterations": 8, "tolerance": 0.08, **ffn}
    config = GeoConfig.from_preset("inl-tiny", part_options={"ffn": options})
    torch.manual_seed(seed)
    model = GeoForCausalLM(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "excitation" not in name:
                param.add_(torch.randn(param.shape, generator=generator) * (1.0 if "halting" in name else 0.05))
    return model.eval()


def counts(model: GeoForCausalLM, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids, use_cache=False).part_stats[LAYER_ITERATIONS]


@pytest.fixture(scope="module")
def residual_model() -> GeoForCausalLM:
    return build()


@pytest.fixture(scope="module")
def learned_model() -> GeoForCausalLM:
    return build(halting="learned")


def tokens(model: GeoForCausalLM, batch: int = 2, length: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, model.config.vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("halting", ["residual", "learned"])
def test_halting_varies_per_token(halting, residual_model, learned_model) -> None:
    model = residual_model if halting == "residual" else learned_model
    seen = counts(model, tokens(model))
    assert seen.unique().numel() > 1, f"every token ran {seen.unique().tolist()} iterations: halting is not tested"
    assert seen.min() >= 1 and seen.max() <= 8


@pytest.mark.parametrize("halting", ["residual", "learned"])
def test_halting_is_causal_and_cache_exact(halting, residual_model, learned_model) -> None:
    model = residual_model if halting == "residual" else learned_model
    assert_causal(model, length=14)
    assert_cache_matches_forward(model, prompt_length=6, new_tokens=6)
    assert_cache_matches_forward(model, prompt_length=6, new_tokens=4, num_beams=3)
    assert_cache_matches_forward(model, prompt_length=6, new_tokens=4, left_padding=2)


def test_iteration_counts_do_not_depend_on_later_tokens(residual_model) -> None:
    ids = tokens(residual_model, length=16)
    full = counts(residual_model, ids)
    changed = ids.clone()
    changed[:, 9:] = tokens(residual_model, length=7, seed=5)
    assert torch.equal(counts(residual_model, changed)[:, :9], full[:, :9])
    assert torch.equal(counts(residual_model, ids[:, :9]), full[:, :9])


def test_a_halted_token_is_frozen_where_it_stopped() -> None:
    # A token that stopped after n iterations leaves the layer as if the layer had run exactly n iterations.
    model = build()
    layer: IntegratorFFN = model.model.layers[0].mlp
    h = torch.randn(2, 16, model.config.hidden_size, generator=torch.Generator().manual_seed(2))

    def run(**settings) -> tuple[torch.Tensor, torch.Tensor]:
        ctx = ForwardContext(position_ids=torch.arange(16)[None], attention_mask=None, is_causal=True)
        if settings:
            ctx.settings["ffn"] = layer.options.with_settings(settings)
        with torch.no_grad():
            out = layer(h, ctx)
        return out, ctx.part_stats[ITERATIONS]

    halted, per_token = run()
    assert per_token.unique().numel() > 1
    for n in per_token.unique().tolist():
        fixed, _ = run(max_iterations=int(n), tolerance=0.0)
        where = per_token == n
        torch.testing.assert_close(halted[where], fixed[where], atol=1e-6, rtol=1e-6)


def test_tolerance_bounds_decide_the_iterations(residual_model) -> None:
    ids = tokens(residual_model)
    residual_model.set_part_settings({"ffn": {"tolerance": 1e9}})
    try:
        assert counts(residual_model, ids).unique().tolist() == [1.0]
        residual_model.set_part_settings({"ffn": {"tolerance": 1e9, "min_iterations": 3}})
        assert counts(residual_model, ids).unique().tolist() == [3.0]
        residual_model.set_part_settings({"ffn": {"tolerance": 0.0}})
        assert counts(residual_model, ids).unique().tolist() == [8.0]
    finally:
        residual_model.set_part_settings(None)


def test_the_iteration_is_bounded_for_any_controller() -> None:
    # Random weights of every kind, standard deviation 30, inputs of size 1e4, 300 iterations without halting.
    options_config = GeoConfig.from_preset(
        "inl-tiny", part_options={"ffn": {"max_iterations": 300, "halting": "fixed", "excitation_init": 5.0}}
    )
    torch.manual_seed(0)
    layer = IntegratorFFN(options_config, 0, GeoForCausalLM(options_config).model.modulation)
    with torch.no_grad():
        for param in layer.parameters():
            param.normal_(0.0, 30.0)
    h = torch.randn(2, 5, options_config.hidden_size) * 1e4
    context = layer.controller.context(h)
    x = layer.in_proj(h).float()
    v, mu = torch.zeros_like(x), layer.mu()
    excitation_max = layer.excitation_amplitude.abs().max()  # scale 1
    bound = dynamics.deviation_bound(x - mu, excitation_max, layer.options)
    start = torch.linalg.vector_norm(x, dim=-1)
    with torch.no_grad():
        for n in range(300):
            x, v, res = layer.iterate(context, x, v, mu, layer.excitation(n, 1.0), start)
            assert torch.isfinite(x).all() and torch.isfinite(res).all()
            slack = 1e-6 * (x.abs() + mu.abs())  # float32 rounding of x, not the dynamics
            assert bool(((x - mu).abs() <= bound + slack).all()), f"|x - mu| left its bound at iteration {n}"
            assert bool((v.abs() <= layer.options.velocity_bound).all())


def test_gains_stay_inside_the_bounds_of_the_stability_argument() -> None:
    options = IntegratorFFN.options_class.from_mapping({"dt": 0.25, "restoring_min": 0.1, "alpha_max": 0.8})
    raw = torch.cat([torch.full((1, 4), -1e4), torch.full((1, 4), 1e4)], 0).repeat(1, 4)
    alpha, beta, gate, _ = dynamics.gains(raw, options)
    assert bool(((alpha >= 0) & (alpha <= 0.8)).all())
    assert bool(((beta >= 0.1) & (beta <= 4.0)).all())
    assert bool((options.dt * gate * beta <= 1.0).all())


def test_training_forward_never_synchronises_with_the_host(monkeypatch) -> None:
    model = build()
    model.train()
    ids = tokens(model)
    calls: list[str] = []
    for name in ("__bool__", "item", "tolist"):
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _name=name, _original=original):
            calls.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, spy)
    layer = model.model.layers[0].mlp
    h = torch.randn(2, 16, model.config.hidden_size)
    ctx = ForwardContext(position_ids=torch.arange(16)[None], attention_mask=None, is_causal=True)
    layer(h, ctx)
    assert calls == [], f"the training forward read tensors on the host: {calls}"
    with torch.no_grad():  # the check itself works: inference leaves the loop early by reading `active`
        layer(h, ForwardContext(position_ids=torch.arange(16)[None], attention_mask=None, is_causal=True))
    assert "__bool__" in calls
    del ids


def test_learned_halting_adds_a_ponder_cost_of_at_least_one(learned_model) -> None:
    ids = tokens(learned_model)
    learned_model.train()
    try:
        out = learned_model(ids, labels=ids)
    finally:
        learned_model.eval()
    ponder = out.aux_losses[PONDER]
    assert 1.0 <= float(ponder.detach()) <= 8.0 + 1.0
    ponder.backward()
    assert learned_model.model.layers[0].mlp.halting_unit.weight.grad.abs().sum() > 0


def test_statistics_reach_generate_and_summarise_per_layer(residual_model) -> None:
    prompt = tokens(residual_model, batch=1, length=5)
    with inference_stats(residual_model) as stats:
        residual_model.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert set(stats.names) >= {ITERATIONS, LAYER_ITERATIONS, RESIDUAL}
    summary = iteration_stats(stats, max_iterations=8)
    per_token = stats.per_token(LAYER_ITERATIONS)[0]  # (6, layers)
    assert summary.tokens == 6
    assert summary.per_layer == pytest.approx(per_token.mean(0).tolist())
    assert summary.mean_iterations == pytest.approx(float(per_token.mean()))
    for layer, shares in enumerate(summary.histogram):
        assert len(shares) == 8 and sum(shares) == pytest.approx(1.0)
        expected = [float((per_token[:, layer] == n).float().mean()) for n in range(1, 9)]
        assert shares == pytest.approx(expected)


def test_training_logs_iterations_and_the_auxiliary_losses(residual_model) -> None:
    ids = tokens(residual_model)
    out = residual_model(ids, labels=ids)
    assert set(out.aux_losses) == {"integrator_equilibrium", "integrator_energy", "integrator_speed"}
    assert out.part_stats[LAYER_ITERATIONS].shape == (2, 16, residual_model.config.num_hidden_layers)
    mean_of_layers = out.part_stats[LAYER_ITERATIONS].mean(-1)
    torch.testing.assert_close(mean_of_layers, out.part_stats[ITERATIONS])
