import geoopt.manifolds.stereographic.math as gm
import pytest
import torch
from transformers import AutoModelForCausalLM

import geolm  # noqa: F401 (Auto registration)
import geolm.curvature.attention as attention_module
from geolm.config import GeoConfig
from geolm.curvature import CurvatureAttention, CurvatureOptions
from geolm.curvature.attention import GeodesicSoftmax, causal_mask
from geolm.errors import ConfigError
from geolm.modeling import GeoForCausalLM, GeoForSequenceClassification, GeoForTokenClassification
from geolm.params import parameter_table
from geolm.testing import assert_cache_matches_forward, assert_causal


def attention_of(model) -> CurvatureAttention:
    return next(m for m in model.modules() if isinstance(m, CurvatureAttention))


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        ("curvature-tiny", {}),
        ("curvature-small", {}),
        ("curvature-tiny", {"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32}),
    ],
)
def test_causal_and_cached_decoding_matches_a_full_forward(make_model, preset: str, overrides: dict) -> None:
    model = make_model(preset, **overrides)
    assert_causal(model, length=10)
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=6)


@torch.no_grad()
def test_curvature_changes_what_the_model_computes(make_model) -> None:
    tokens = torch.randint(0, 256, (2, 9))
    curved = make_model(kappas=[-1.8, 1.8])(tokens).logits
    flat = make_model(kappas=[0.0, 0.0])(tokens).logits
    assert (curved - flat).abs().max() > 0.05


@torch.no_grad()
def test_scores_are_minus_geoopt_distances_over_tau() -> None:
    config = GeoConfig.from_preset("curvature-tiny", num_attention_heads=4, num_key_value_heads=2, head_dim=16)
    layer = CurvatureAttention(config, 0, GeoForCausalLM(config).model.modulation).double()
    layer.raw_kappa.copy_(torch.tensor([-0.9, 0.0, 0.3, 1.1], dtype=torch.float64))
    layer.log_tau.copy_(torch.tensor([0.0, 0.5, -0.2, 1.0], dtype=torch.float64))
    # ‖q/√D‖ about 1.5: the κ = 1.6 head wraps past the antipode of the origin for some queries
    q, k = (
        torch.randn(2, 4, 5, 16, dtype=torch.float64) * 1.5,
        torch.randn(2, 2, 7, 16, dtype=torch.float64) * 1.5,
    )
    scores = layer.scores(q, k)
    for head in range(4):
        kappa = layer.kappa[head]
        x = gm.project(gm.expmap0(q[:, head] / 4, k=kappa), k=kappa)
        y = gm.project(gm.expmap0(k[:, head // 2] / 4, k=kappa), k=kappa)
        expected = -gm.dist(x[:, :, None], y[:, None], k=kappa) / layer.log_tau[head].exp()
        torch.testing.assert_close(scores[:, head], expected, atol=1e-9, rtol=0)
    flat = -2 * torch.cdist(q[:, 1] / 4, k[:, 0] / 4) / layer.log_tau[1].exp()  # κ ≈ 0: −2‖q − k‖/(√D τ)
    torch.testing.assert_close(scores[:, 1], flat, atol=1e-12, rtol=0)


def test_curvature_and_temperature_learn_from_a_flat_start() -> None:
    """At κ = 0 exactly (the default start) the loss still has a gradient in κ and in τ."""
    model = GeoForCausalLM(GeoConfig.from_preset("curvature-tiny", vocab_size=256))
    attention = attention_of(model)
    assert attention.kappa.abs().max() == 0
    tokens = torch.randint(0, 256, (2, 12))
    model(tokens, labels=tokens).loss.backward()
    assert attention.raw_kappa.grad.abs().min() > 0
    assert attention.log_tau.grad.abs().min() > 0


@torch.no_grad()
def test_padding_and_chunked_prefill_give_the_unpadded_logits(make_model) -> None:
    model = make_model()
    tokens = torch.randint(3, 256, (1, 11))
    alone = model(tokens, use_cache=False).logits
    padded = torch.cat([torch.zeros(1, 4, dtype=torch.long), tokens], dim=1)
    mask = torch.cat([torch.zeros(1, 4, dtype=torch.long), torch.ones_like(tokens)], dim=1)
    both = model(
        torch.cat([padded, torch.cat([tokens, tokens[:, :4]], 1)]),
        attention_mask=torch.stack([mask[0], torch.ones(15, dtype=torch.long)]),
    )
    torch.testing.assert_close(both.logits[0, 4:], alone[0], atol=1e-5, rtol=1e-5)
    cache = model.model.new_cache()
    parts = [model(chunk, past_key_values=cache).logits for chunk in tokens.split([4, 1, 6], dim=1)]
    torch.testing.assert_close(torch.cat(parts, 1), alone, atol=1e-5, rtol=1e-5)


def test_the_causal_mask_aligns_its_triangle_to_the_newest_queries() -> None:
    assert causal_mask(2, 5, torch.device("cpu")).tolist() == [[True] * 4 + [False], [True] * 5]
    assert causal_mask(3, 3, torch.device("cpu")).tolist() == [[True, False, False], [True, True, False], [True] * 3]


@pytest.mark.parametrize("head", [GeoForSequenceClassification, GeoForTokenClassification])
def test_classifiers_train_with_curvature_attention(head) -> None:
    config = GeoConfig.from_preset("curvature-tiny", vocab_size=256, num_labels=3)
    torch.manual_seed(0)
    model = head(config)
    tokens = torch.randint(3, 256, (2, 8))
    mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3])
    labels = torch.tensor([0, 2]) if head is GeoForSequenceClassification else torch.randint(0, 3, (2, 8))
    out = model(tokens, attention_mask=mask, labels=labels)
    out.loss.backward()
    assert torch.isfinite(out.loss) and attention_of(model).raw_kappa.grad.abs().sum() > 0
    with torch.no_grad():  # an encoder: the first token sees the last, so changing the last changes it
        changed = tokens.clone()
        changed[0, -1] = (changed[0, -1] + 1) % 256
        model.eval()
        hidden = model.model(tokens).last_hidden_state[0, 0]
        assert (model.model(changed).last_hidden_state[0, 0] - hidden).abs().max() > 1e-6


def test_bfloat16_keeps_scores_in_float32(make_model, monkeypatch) -> None:
    model = make_model()
    tokens = torch.randint(0, 256, (2, 8))
    seen = []
    original = attention_module.augmented

    def spy(q, k, kappa, weight):
        rows, *rest = original(q, k, kappa, weight)
        seen.append((q.dtype, rows.dtype))
        return rows, *rest

    monkeypatch.setattr(attention_module, "augmented", spy)
    with torch.no_grad():
        full = model(tokens).logits
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = model(tokens).logits.float()
        low = model.bfloat16()(tokens).logits.float()
    assert seen[-1] == (torch.bfloat16, torch.float32) and {s for _, s in seen} == {torch.float32}
    for logits in (autocast, low):
        assert torch.isfinite(logits).all() and (logits - full).abs().max() < 0.1 * full.abs().max()


def test_options_are_validated_and_initialise_heads() -> None:
    def heads(**options):
        config = GeoConfig.from_preset("curvature-small", vocab_size=256, part_options={"attention": options})
        return attention_of(GeoForCausalLM(config))

    with pytest.raises(ConfigError, match=r"unknown key.*'kappa_init'.*allowed: .*init, tau, learn_tau"):
        heads(kappa_init="zero")
    with pytest.raises(ConfigError, match=r"init.*zero, random, linspace"):
        heads(init="uniform")
    with pytest.raises(ConfigError, match=r"\['tau'\] must be a positive number"):
        heads(tau=0)
    assert heads().kappa.abs().max() == 0
    torch.testing.assert_close(heads(init="linspace").kappa, torch.linspace(-1, 1, 4))
    torch.manual_seed(3)
    first = heads(init="random").kappa
    torch.manual_seed(3)
    assert torch.equal(first, heads(init="random").kappa) and first.abs().max() <= 1 and first.std() > 0.1
    fixed = heads(tau=0.5, learn_tau=False)
    assert not fixed.log_tau.requires_grad and fixed.log_tau.exp().tolist() == pytest.approx([0.5] * 4)
    assert CurvatureOptions.from_config(GeoConfig.from_preset("curvature-tiny")) == CurvatureOptions()


def test_presets_have_the_seed_shapes_and_attention_only_differs_from_the_baseline() -> None:
    shapes = {
        "tiny": (128, 1, 2, 384),
        "small": (256, 2, 4, 704),
        "medium": (512, 4, 8, 1408),
        "large": (768, 6, 12, 2048),
    }
    for size, (hidden, layers, heads, inner) in shapes.items():
        config, twin = (
            GeoConfig.from_preset(f"curvature-{size}"),
            GeoConfig.from_preset(f"curvature-{size}-baseline"),
        )
        got = (
            config.hidden_size,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.intermediate_size,
        )
        assert got == (hidden, layers, heads, inner) and config.vocab_size == 8192
        assert (config.attention, twin.attention) == ("curvature", "gqa")
        assert {k: v for k, v in config.to_dict().items() if k != "attention"} == {
            k: v for k, v in twin.to_dict().items() if k != "attention"
        }
    model = GeoForCausalLM(GeoConfig.from_preset("curvature-small"))
    table = parameter_table(model).set_index("component")
    assert table.loc["curvature", "parameters"] == 2 * 4 * 2  # κ and τ per head per layer
    baseline = GeoForCausalLM(GeoConfig.from_preset("curvature-small-baseline"))
    assert sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in baseline.parameters()) == 16


def test_save_and_load_through_auto_classes(make_model, tmp_path) -> None:
    model = make_model(kappas=[-0.7, 1.3])
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(attention_of(loaded).kappa, attention_of(model).kappa)
    tokens = torch.randint(0, 256, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(loaded(tokens).logits, model(tokens).logits, atol=0.0, rtol=0.0)


def test_fused_softmax_matches_autograd_through_the_scores() -> None:
    """The hand-written backward of the fused path gives autograd's gradients of softmax(masked scores)."""
    config = GeoConfig.from_preset("curvature-tiny", num_attention_heads=4, num_key_value_heads=2, head_dim=8)
    layer = CurvatureAttention(config, 0, GeoForCausalLM(config).model.modulation).double()
    with torch.no_grad():
        layer.raw_kappa.copy_(torch.tensor([-0.9, 0.0, 1e-4, 1.1], dtype=torch.float64))
        layer.log_tau.copy_(torch.tensor([0.0, 0.5, -0.2, 1.0], dtype=torch.float64))
    q = (torch.randn(2, 4, 5, 8, dtype=torch.float64) * 2).requires_grad_()
    k = (torch.randn(2, 2, 7, 8, dtype=torch.float64) * 2).requires_grad_()
    mask = torch.ones(5, 7, dtype=torch.bool).tril(2)
    upstream = torch.randn(2, 2, 2, 5, 7, dtype=torch.float64)

    def grads(probs: torch.Tensor) -> list[torch.Tensor]:
        return torch.autograd.grad((probs * upstream).sum(), [q, k, layer.raw_kappa, layer.log_tau])

    fused = GeodesicSoftmax.apply(*layer.geometry(q, k), ~mask)[0]
    reference = layer.scores(q, k).masked_fill(~mask, float("-inf")).softmax(-1).view_as(fused)
    torch.testing.assert_close(fused, reference, atol=1e-13, rtol=0)
    for ours, theirs in zip(grads(fused), grads(reference), strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=1e-9)
    inputs = [t.detach().requires_grad_() for t in layer.geometry(q, k)]
    assert torch.autograd.gradcheck(lambda s, c, w: GeodesicSoftmax.apply(s, c, w, ~mask)[0], inputs)
