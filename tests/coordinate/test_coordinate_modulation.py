import pytest
import torch

from geolm.config import GeoConfig
from geolm.coordinate import CoordinateLinear, CoordinateModulation, find_modulation
from geolm.coordinate.modulation import COEFFICIENTS, CONTEXT, THETA
from geolm.errors import ConfigError
from geolm.modeling import GeoForCausalLM
from geolm.nn import ForwardContext, Linear


def small_modulation(**options) -> CoordinateModulation:
    config = GeoConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=24,
        num_hidden_layers=1,
        num_attention_heads=2,
        modulation="coordinate",
        part_options={"modulation": {"coord_dim": 6, "wavelet_pairs": 3, "rank": 2, **options}},
    )
    return CoordinateModulation(config)


def test_low_rank_path_equals_the_explicit_effective_weight() -> None:
    modulation = small_modulation(targets=["gate_proj"])
    layer = modulation.linear(16, 24, layer_idx=0, role="gate_proj")
    assert isinstance(layer, CoordinateLinear)
    bank = modulation.banks["layer0_gate_proj"]
    with torch.no_grad():
        bank.up.normal_(0.0, 0.5)
        modulation.predictor.fc_out.weight.normal_(0.0, 1.0)
    embeds, x = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    ctx = ForwardContext(position_ids=torch.arange(5)[None], attention_mask=None, is_causal=True)
    modulation(embeds, ctx)
    got = layer(x, ctx)

    theta = modulation.predictor(embeds).double()
    assert torch.allclose(theta, ctx.state[THETA].double())
    k, r, context = 3, 2, torch.zeros(2, 6, dtype=torch.float64)
    expected = torch.empty(2, 5, 24, dtype=torch.float64)
    down, up, weight = bank.down.double(), bank.up.double(), layer.weight.double()
    for t in range(5):
        context = 0.95 * context + 0.05 * theta[:, t]
        assert torch.allclose(context.float(), ctx.state[CONTEXT][:, t], atol=1e-6)
        for b in range(2):
            effective = weight.clone()
            for i in range(k):
                angle = context[b] @ modulation.directions[i].double()
                cos_rows, sin_rows = slice(i * r, (i + 1) * r), slice((k + i) * r, (k + i + 1) * r)
                effective += torch.cos(angle) * up[:, cos_rows] @ down[cos_rows]
                effective += torch.sin(angle) * up[:, sin_rows] @ down[sin_rows]
            expected[b, t] = effective @ x[b, t].double()
    assert ctx.state[COEFFICIENTS].shape == (2, 5, 2 * k)
    torch.testing.assert_close(got.double(), expected, atol=1e-5, rtol=1e-5)
    delta = got - torch.nn.functional.linear(x, layer.weight)
    assert delta.abs().max() > 0.1  # the modulation is not negligible here


def test_untargeted_roles_are_plain_linears_and_sharing_reuses_banks() -> None:
    modulation = small_modulation(targets=["q_proj", "down_proj"], share_across_layers=True)
    assert type(modulation.linear(16, 16, layer_idx=0, role="k_proj")) is Linear
    first = modulation.linear(16, 16, layer_idx=0, role="q_proj")
    second = modulation.linear(16, 16, layer_idx=1, role="q_proj")
    assert first.bank_key == second.bank_key == "q_proj" and len(modulation.banks) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wavelets": 4}, "unknown key 'wavelets' (did you mean 'wavelet_pairs'?)"),
        (
            {"targets": ["q_proj", "qkv"]},
            "['targets']: 'qkv' is no projection of the model's parts (attention 'gqa': q_proj, k_proj, v_proj, "
            "o_proj; ffn 'swiglu': gate_proj, up_proj, down_proj)",
        ),
        ({"targets": []}, "['targets'] must be a non-empty list"),
        ({"targets": ["v_proj", "v_proj"]}, "lists a role twice"),
        ({"rank": 0}, "['rank'] must be a positive integer, got 0"),
        ({"coord_dim": True}, "['coord_dim'] must be a positive integer"),
        ({"context_decay": 1.0}, "['context_decay'] must be in [0, 1), got 1.0"),
        ({"init_scale": -0.1}, "['init_scale'] must be a non-negative number"),
        ({"uncertainty_threshold": float("nan")}, "['uncertainty_threshold'] must be a non-negative"),
        ({"share_across_layers": "yes"}, "['share_across_layers'] must be true or false, got 'yes'"),
    ],
)
def test_bad_options_name_the_key(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        small_modulation(**options)
    assert message in str(caught.value)
    assert "part_options['modulation']" in str(caught.value)


def test_the_parts_declare_what_may_be_modulated() -> None:
    """The integrator FFN offers its own projections; a target no part of the model builds is refused."""
    base = GeoConfig.from_preset("inl-tiny").to_dict()
    for key in ("model_type", "transformers_version", "architectures"):
        base.pop(key, None)
    with pytest.raises(ConfigError, match=r"'gate_proj' is no projection .*ffn 'integrator': in_proj, out_proj\)"):
        GeoConfig(**{**base, "modulation": "coordinate"})
    options = {**base["part_options"], "modulation": {"targets": ["q_proj", "in_proj", "out_proj"]}}
    model = GeoForCausalLM(GeoConfig(**{**base, "modulation": "coordinate", "part_options": options}))
    mlp = model.model.layers[0].mlp
    assert isinstance(mlp.in_proj, CoordinateLinear) and isinstance(mlp.out_proj, CoordinateLinear)
    assert type(model.model.layers[0].self_attn.k_proj) is Linear


def test_a_model_without_coordinates_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"no coordinate modulation .*modulation='none'"):
        find_modulation(GeoForCausalLM(GeoConfig.from_preset("llama-tiny")))


def test_zero_factors_give_exactly_the_base_llama_with_the_same_weight_names(make_tiny) -> None:
    geo = make_tiny(fresh=True, init_scale=0.0)
    plain_config = GeoConfig.from_preset("geometric-llama-tiny", modulation="none", part_options={})
    plain = GeoForCausalLM(plain_config).eval()
    plain_keys = set(plain.state_dict())
    plain.load_state_dict({k: v for k, v in geo.state_dict().items() if k in plain_keys}, strict=True)
    extra = sorted(set(geo.state_dict()) - plain_keys)
    assert extra and all(".modulation." in name for name in extra)
    tokens = torch.randint(0, 512, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(geo.eval()(tokens).logits, plain(tokens).logits, atol=1e-6, rtol=1e-6)


def test_gradients_reach_every_factor_group_the_directions_and_the_predictor(make_tiny) -> None:
    model = make_tiny().train()
    tokens = torch.randint(0, 512, (2, 12))
    model(tokens, labels=tokens).loss.backward()
    modulation = find_modulation(model)
    half = modulation.options.width // 2
    assert len(modulation.banks) == 2 * 7
    for key, bank in modulation.banks.items():
        groups = {
            "V (cos)": bank.down.grad[:half],
            "Q (sin)": bank.down.grad[half:],
            "U (cos)": bank.up.grad[:, :half],
            "P (sin)": bank.up.grad[:, half:],
        }
        for group, grad in groups.items():
            assert grad.abs().sum() > 0, f"{key} {group} got no gradient"
    assert modulation.directions.grad.abs().min(dim=1).values.gt(0).all()
    for name, param in modulation.predictor.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_copies_of_a_projection_get_their_own_banks_and_a_repeat_is_refused() -> None:
    modulation = CoordinateModulation(GeoConfig.from_preset("geometric-llama-tiny"))
    first = modulation.linear(8, 8, layer_idx=0, role="expert0.gate_proj")
    second = modulation.linear(8, 8, layer_idx=0, role="expert1.gate_proj")
    assert isinstance(first, CoordinateLinear) and first.bank_key != second.bank_key
    assert not isinstance(modulation.linear(8, 8, layer_idx=0, role="expert0.router"), CoordinateLinear)
    with pytest.raises(ValueError, match=r"two projections of layer 0 asked for the factor bank of role"):
        modulation.linear(8, 8, layer_idx=0, role="expert0.gate_proj")
