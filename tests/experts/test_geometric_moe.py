"""The mixture of geometric experts: sparse dispatch equals a dense reference, geometry maps behave, the
router's losses and statistics go through the parts channel."""

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch._dynamo.utils import counters

from geolm import GeoConfig, GeoForCausalLM
from geolm.errors import ConfigError
from geolm.experts import EXPERT_GROUPS, GeometricMoE
from geolm.experts import experts as experts_module
from geolm.experts.experts import ExpertGroup, grouped_linear, grouped_runs
from geolm.experts.moe import BALANCE, DROPPED, ENTROPY, LOAD, Z_LOSS
from geolm.experts.options import GATED_GEOMETRIES
from geolm.geometry.stereographic import expmap0, logmap0, squash_tangent
from geolm.nn import ForwardContext
from geolm.testing import assert_cache_matches_forward, assert_causal


def moe(**options) -> GeometricMoE:
    torch.manual_seed(0)
    config = GeoConfig.from_preset(
        "mgm-tiny", part_options={"ffn": {"experts_per_geometry": 2, "expert_size": 32, **options}}
    )
    layer = GeometricMoE(config, 0, None)
    with torch.no_grad():
        layer.gate.weight.normal_(0, 1.0)  # a decisive router, so that experts really differ per token
    return layer


def context(tokens: int) -> ForwardContext:
    return ForwardContext(position_ids=torch.arange(tokens)[None], attention_mask=None, is_causal=True)


def dense_reference(layer: GeometricMoE, x: torch.Tensor) -> torch.Tensor:
    """Every expert on every token, combined with the routing weights (zero where not chosen)."""
    flat = x.reshape(-1, x.shape[-1])
    _, chosen, weights = layer.route(flat)
    full = torch.zeros(flat.shape[0], layer.options.num_experts).scatter(1, chosen, weights)
    every = torch.stack([layer.expert(e, flat) for e in range(layer.options.num_experts)], dim=1)
    return (every * full[..., None]).sum(1).view_as(x)


def assert_same_gradients(ours, theirs, inputs, atol: float, rtol: float) -> None:
    """Equal gradients of Σ out² for every input; one side may leave an input unused where the other's is 0."""
    grads = [torch.autograd.grad(out.pow(2).sum(), inputs, allow_unused=True) for out in (ours, theirs)]
    for a, b in zip(*grads, strict=True):
        if a is None or b is None:
            assert (a is None and b is None) or float((a if a is not None else b).abs().max()) == 0.0
        else:
            torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


@pytest.mark.parametrize("counts", [2, [3, 3, 2, 2, 2, 2, 2]])  # 14 experts, and 16 unevenly over 7 geometries
def test_sparse_dispatch_equals_the_dense_reference_in_value_and_gradient(counts) -> None:
    layer = moe(top_k=2, experts_per_geometry=counts, nuanced_routing=True)
    with torch.no_grad():
        layer.curvature_gate.normal_()
    assert [group.count for group in layer.groups] == ([counts] * 7 if isinstance(counts, int) else counts)
    x = torch.randn(2, 7, 64, requires_grad=True)
    sparse = layer(x, context(7))
    dense = dense_reference(layer, x)
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    assert_same_gradients(sparse, dense, [x, *layer.parameters()], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("grouped", [True, False])
def test_a_geometry_nobody_chose_is_never_run(monkeypatch, grouped: bool) -> None:
    layer = moe(top_k=1)
    monkeypatch.setattr(ExpertGroup, "takes_grouped", lambda self, device: grouped)
    x = torch.randn(1, 6, 64)
    route = layer.route

    def only_the_first_two(flat):  # experts 0 and 1: the two euclidean ones
        logits, chosen, weights = route(flat)
        return logits, chosen % 2, weights

    called = []
    monkeypatch.setattr(layer, "route", only_the_first_two)
    for index, group in enumerate(layer.groups):
        run = group.run
        spy = lambda rows, *a, run=run, index=index, **kw: called.append((index, rows)) or run(rows, *a, **kw)  # noqa: E731
        monkeypatch.setattr(group, "run", spy)
    layer(x, context(6))
    assert [index for index, _ in called] == [0]  # one run of the one geometry chosen
    (_, rows), chosen = called[0], only_the_first_two(x[0])[1]
    if grouped:  # each token once, sorted by expert
        torch.testing.assert_close(rows, x[0][chosen[:, 0].argsort(stable=True)])
    else:
        busiest = int(torch.bincount(chosen[:, 0], minlength=2).max())
        assert rows.shape == (2, busiest, 64)  # both experts, padded to the busier one's tokens
        assert int((rows.abs().sum(-1) > 0).sum()) == 6  # each token once, the rest padding


@pytest.mark.parametrize(
    "options",
    [{"experts_per_geometry": [3, 1, 2, 2, 2, 1, 3]}, {"expert_form": "gated", "geometries": list(GATED_GEOMETRIES)}],
)
def test_grouped_and_padded_experts_agree_in_value_and_gradient(monkeypatch, options) -> None:
    """The counted dispatch through torch's grouped matmul against the padded batched product, every geometry."""
    layer = moe(top_k=2, **options)
    x = torch.randn(11, 64, requires_grad=True)
    _, chosen, weights = layer.route(x)
    weights = weights.detach().requires_grad_()
    calls = []
    monkeypatch.setattr(experts_module, "grouped_linear", lambda *a: calls.append(1) or grouped_linear(*a))
    grouped, _ = layer.dispatch(x, chosen, weights)
    assert calls  # the grouped matmul ran
    monkeypatch.setattr(ExpertGroup, "takes_grouped", lambda self, device: False)
    padded, _ = layer.dispatch(x, chosen, weights)
    torch.testing.assert_close(grouped, padded, atol=1e-6, rtol=1e-5)
    assert_same_gradients(grouped, padded, [x, weights, *layer.parameters()], atol=1e-6, rtol=1e-5)


def test_the_grouped_linear_operator_multiplies_each_experts_rows_by_its_weight() -> None:
    torch.manual_seed(0)
    u, weight = torch.randn(9, 8, requires_grad=True), torch.randn(3, 12, 8, requires_grad=True)
    ends = torch.tensor([4, 4, 9], dtype=torch.int32)  # the second expert has no rows
    ours, expected = grouped_linear(u, weight, ends), torch.cat([u[:4] @ weight[0].T, u[4:] @ weight[2].T])
    torch.testing.assert_close(ours, expected)
    grad = torch.randn_like(ours)
    for a, b in zip(*(torch.autograd.grad(out, (u, weight), grad) for out in (ours, expected)), strict=True):
        torch.testing.assert_close(a, b)
    (summed,) = torch.autograd.grad(grouped_linear(u, weight, ends).sum(), weight)  # a broadcast (stride 0) gradient
    torch.testing.assert_close(summed[1], torch.zeros(12, 8))  # an expert without rows gets no gradient
    torch.library.opcheck(grouped_linear, (u.detach(), weight, ends))  # fake tensors, autograd, compile
    assert grouped_runs(torch.device("cpu"), 64, 32) and not grouped_runs(torch.device("cpu"), 64, 30)
    assert not grouped_runs(torch.device("meta"), 64, 32)


def test_curved_experts_approach_the_euclidean_one_as_curvature_vanishes() -> None:
    torch.manual_seed(0)
    flat, curved, sphere, lorentz, product = (
        EXPERT_GROUPS[g](1, 16, 24, 0.5, 1.4) for g in ("euclidean", "hyperbolic", "spherical", "lorentz", "product")
    )
    x = torch.randn(5, 16)
    with torch.no_grad():
        for other in (curved, sphere, lorentz, product):
            for name in ("up", "up_bias", "down", "down_bias"):
                getattr(other, name).copy_(getattr(flat, name))
            other.raw_kappa.fill_(-25.0)  # |κ| = 2·sigmoid(-25) ≈ 3e-11
    torch.testing.assert_close(curved(0, x), flat(0, x), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(sphere(0, x), flat(0, x), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(lorentz(0, x), flat(0, x), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(product(0, x), flat(0, x), atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        curved.raw_kappa.fill_(0.0)  # κ = -1: now the geometry shows
    assert float((curved(0, x) - flat(0, x)).detach().abs().max()) > 1e-3


def test_the_gated_form_is_swiglu_when_flat_and_curves_with_kappa() -> None:
    torch.manual_seed(0)
    flat, curved = (EXPERT_GROUPS[g](1, 16, 24, 0.5, 1.4, gated=True) for g in ("euclidean", "hyperbolic"))
    with torch.no_grad():
        for name in ("up", "up_bias", "value", "value_bias", "down", "down_bias"):
            getattr(flat, name).normal_(0, 0.3)
            getattr(curved, name).copy_(getattr(flat, name))
    x = torch.randn(5, 16)
    u = x / 4  # the experts read x/√D and return √D times their output
    swiglu = F.silu(u @ flat.up[0].T + flat.up_bias[0]) * (u @ flat.value[0].T + flat.value_bias[0])
    torch.testing.assert_close(flat(0, x), (swiglu @ flat.down[0].T + flat.down_bias[0]) * 4)
    assert float((curved(0, x) - flat(0, x)).detach().abs().max()) > 1e-3  # κ = -0.5: the geometry shows
    with torch.no_grad():
        curved.raw_kappa.fill_(-25.0)
    torch.testing.assert_close(curved(0, x), flat(0, x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kappa", [-1.5, -0.2, 0.0, 0.2, 1.5])
def test_exp_and_log_invert_and_squashed_points_stay_inside(kappa: float) -> None:
    k = torch.tensor(kappa, dtype=torch.float64)
    u = torch.randn(20, 8, dtype=torch.float64) * 3
    short = squash_tangent(u, k, 1.4)
    assert float((short.norm(dim=-1) * abs(kappa) ** 0.5).max()) < 1.4
    point = expmap0(short, k)
    if kappa < 0:
        assert float(point.norm(dim=-1).max()) < (-kappa) ** -0.5  # inside the ball
    torch.testing.assert_close(logmap0(point, k), short, atol=1e-10, rtol=1e-10)
    k.requires_grad_(True)
    (grad,) = torch.autograd.grad(logmap0(expmap0(squash_tangent(u, k, 1.4) * 1.1, k), k).sum(), k)
    assert torch.isfinite(grad)


def test_curvature_gets_a_gradient_through_the_model() -> None:
    model = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny"))
    ids = torch.randint(3, 512, (2, 9))
    out = model(ids, labels=ids)
    assert len(out.router_logits) == 2 and out.router_logits[0].shape == (18, 7)  # Mixtral's name and shape
    (out.loss + out.aux_loss).backward()
    kappa_grads = [p.grad for n, p in model.named_parameters() if n.endswith("raw_kappa")]
    assert len(kappa_grads) == 8 and all(float(g.abs().max()) > 0 for g in kappa_grads)  # the original's got none


def test_router_losses_and_statistics_over_real_tokens() -> None:
    layer = moe(top_k=2)
    x = torch.randn(1, 5, 64)
    ctx = context(5)
    layer(x, ctx)
    logits, chosen, _ = layer.route(x.reshape(-1, 64))
    probs = logits.softmax(-1)
    num = layer.options.num_experts
    share = F.one_hot(chosen, num).float().sum(1).mean(0) / 2
    torch.testing.assert_close(ctx.aux_losses[BALANCE], num * (share * probs.mean(0)).sum())
    torch.testing.assert_close(ctx.aux_losses[Z_LOSS], torch.logsumexp(logits, -1).pow(2).mean())
    torch.testing.assert_close(ctx.part_stats[LOAD].sum(-1), torch.ones(1, 5))
    assert ctx.part_stats[ENTROPY].shape == (1, 5)
    # padding tokens change neither loss
    padded = torch.cat([torch.randn(1, 3, 64), x], dim=1)
    masked = ForwardContext(torch.arange(8)[None], None, True, token_mask=torch.tensor([[False] * 3 + [True] * 5]))
    layer(padded, masked)
    torch.testing.assert_close(masked.aux_losses[BALANCE], ctx.aux_losses[BALANCE])
    torch.testing.assert_close(masked.aux_losses[Z_LOSS], ctx.aux_losses[Z_LOSS])


@pytest.mark.parametrize("geometry", sorted(EXPERT_GROUPS))
def test_every_geometry_gives_finite_values_and_gradients_also_under_bf16_autocast(geometry: str) -> None:
    torch.manual_seed(0)
    group = EXPERT_GROUPS[geometry](2, 16, 24, 0.5, 1.4)
    x = torch.randn(7, 16, requires_grad=True) * 4  # large inputs reach the squashing
    out = group(1, x)
    assert out.shape == (7, 16) and torch.isfinite(out).all()
    grads = torch.autograd.grad(out.pow(2).sum(), [x, *group.parameters()], allow_unused=True)
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    if group.raw_kappa is not None:
        assert float(grads[-1].abs().max()) > 0  # the curvature learns
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = group(1, x.detach().bfloat16())
    assert half.dtype == torch.bfloat16 and torch.isfinite(half.float()).all()


def values_and_gradients(layer: GeometricMoE, x: torch.Tensor) -> list[torch.Tensor]:
    out = layer(x, context(x.shape[1]))
    return [out, *torch.autograd.grad(out.pow(2).sum(), [x, *layer.parameters()])]


@pytest.mark.slow
def test_compiled_experts_equal_eager_ones_in_value_and_gradient() -> None:
    geometries = ["hyperbolic", "lorentz", "complex"]  # complex stays eager (not compilable)
    counts = [1, 2, 1]  # a group of one expert: its values broadcast to its rows (see Grouped.each)
    x = torch.randn(2, 7, 64, requires_grad=True)
    eager = values_and_gradients(
        moe(geometries=geometries, experts_per_geometry=counts, experts_implementation="eager"), x
    )
    graphs = counters["stats"]["unique_graphs"]
    options = {"geometries": geometries, "experts_per_geometry": counts, "experts_implementation": "compiled"}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="compiling")  # a compiler failure: an eager fallback and a warning
        fused = values_and_gradients(moe(**options), x)
    assert counters["stats"]["unique_graphs"] - graphs >= 2  # the two compilable geometries ran compiled
    for ours, theirs in zip(fused, eager, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_cached_decoding_with_compiled_experts_equals_a_full_forward() -> None:
    experts = {"geometries": ["hyperbolic", "lorentz"], "experts_implementation": "compiled"}
    torch.manual_seed(0)
    model = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny", part_options={"ffn": experts})).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.gate.weight.normal_(0, 1.0)  # a decisive router: tokens of one batch take different experts
    graphs = counters["stats"]["unique_graphs"]
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=4)
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=4, batch=1)  # one token: experts one by one
    assert counters["stats"]["unique_graphs"] > graphs  # the experts ran compiled


def test_cached_decoding_of_one_sequence_equals_a_full_forward() -> None:
    torch.manual_seed(0)
    model = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny")).eval()
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=6, batch=1)


@pytest.mark.parametrize(("implementation", "compiling", "fused"), [("auto", False, False), ("auto", True, True)])
def test_auto_compiles_the_experts_when_the_model_is_compiled(monkeypatch, implementation, compiling, fused) -> None:
    layer, seen = moe(experts_implementation=implementation), []
    dispatch = layer.dispatch
    monkeypatch.setattr(layer, "dispatch", lambda *args: seen.append(args[-1]) or dispatch(*args[:-1]))
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: compiling)
    layer(torch.randn(1, 3, 64), context(3))
    assert seen == [fused]


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"\['top_k'\] is 15 but there are only 14 experts"):
        GeoConfig.from_preset("mgm-tiny", part_options={"ffn": {"top_k": 15}})
    with pytest.raises(ConfigError, match=r"\['experts_per_geometry'\] gives \[2, 2\] for the 7 geometries"):
        GeoConfig.from_preset("mgm-tiny", part_options={"ffn": {"experts_per_geometry": [2, 2]}})
    with pytest.raises(ConfigError, match=r"\['geometries'\] must be a non-empty list of"):
        GeoConfig.from_preset("mgm-tiny", part_options={"ffn": {"geometries": ["hyperbolic", "lorentz?"]}})
    with pytest.raises(ConfigError, match=r"\['expert_form'\] 'gated' exists for .*, not \['complex', 'lorentz'"):
        GeoConfig.from_preset("mgm-tiny", part_options={"ffn": {"expert_form": "gated"}})
    with pytest.raises(ConfigError, match=r"\['experts_implementation'\] must be one of \['auto', 'eager'"):
        GeoConfig.from_preset("mgm-tiny", part_options={"ffn": {"experts_implementation": "grouped"}})


def test_the_mixture_is_causal() -> None:
    model = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny"))
    assert_causal(model, length=10)


def test_capacity_drops_the_late_tokens_of_a_full_expert_and_counts_them() -> None:
    layer = moe(top_k=1)
    x = torch.randn(1, 12, 64)
    free = layer(x, context(12))
    generous = moe(top_k=1, capacity_factor=100.0)
    torch.testing.assert_close(generous(x, ctx := context(12)), free)
    assert float(ctx.part_stats[DROPPED].max()) == 0.0
    tight = moe(top_k=1, capacity_factor=0.5)  # each of the 14 experts takes at most 1 of the 12 tokens
    ctx = context(12)
    out = tight(x, ctx)
    _, chosen, _ = tight.route(x.reshape(-1, 64))
    first = {int(e): t for t, e in reversed(list(enumerate(chosen[:, 0].tolist())))}  # earliest token per expert
    kept = torch.tensor([first[int(e)] == t for t, e in enumerate(chosen[:, 0].tolist())])
    torch.testing.assert_close(ctx.part_stats[DROPPED][0], (~kept).float())
    torch.testing.assert_close(out[0, kept], free[0, kept])
    assert float(out[0, ~kept].detach().abs().max()) == 0.0 and bool(
        (~kept).any()
    )  # dropped tokens keep only the residual


def test_dispatch_at_capacity_equals_the_counted_one_and_reads_nothing_on_the_host() -> None:
    layer = moe(top_k=2, geometries=["hyperbolic", "simplex"])
    x = torch.randn(9, 64, requires_grad=True)
    _, chosen, weights = layer.route(x)
    weights = weights.detach().requires_grad_()
    theirs, _ = layer.dispatch(x, chosen, weights)  # padded to the busiest expert, counted on the host
    ours, dropped = layer.dispatch(x, chosen, weights, capacity_factor=100.0)  # a capacity nobody reaches
    assert float(dropped.max()) == 0.0
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    assert_same_gradients(ours, theirs, [x, weights, *layer.parameters()], atol=1e-6, rtol=1e-5)
    meta = copy.deepcopy(layer).to("meta")  # tensors without values: any read on the host raises
    out, dropped = meta.dispatch_at_capacity(x.to("meta"), chosen.to("meta"), weights.to("meta"), 2, False)
    assert out.shape == x.shape and dropped.shape == (9,)


@pytest.mark.slow
def test_a_mixture_at_capacity_compiles_as_one_graph() -> None:
    """Compiled experts that may all join the graph (no complex ones) and a capacity: no graph break."""
    layer = moe(geometries=["simplex", "lorentz"], capacity_factor=1.5, experts_implementation="compiled")
    x = torch.randn(2, 7, 64)

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        ctx = context(7)
        return layer(x, ctx), ctx.aux_losses

    (ours, losses), (theirs, expected) = torch.compile(forward, fullgraph=True, backend="eager")(x), forward(x)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(losses, expected)


def test_active_parameters_count_top_k_of_the_experts() -> None:
    from geolm.params import parameter_table

    model = GeoForCausalLM(GeoConfig.from_preset("mgm-tiny"))
    table = parameter_table(model).set_index("component")
    experts = sum(p.numel() for n, p in model.named_parameters() if ".mlp.groups." in n)
    assert table.loc["experts", "parameters"] == experts
    assert table.loc["experts", "active"] == round(experts * 2 / 7)  # top-2 of 7
    assert table.loc["attention", "active"] == table.loc["attention", "parameters"]


def test_nuanced_routing_starts_as_plain_routing_and_learns_from_curvature() -> None:
    plain, nuanced = moe(top_k=2), moe(top_k=2, nuanced_routing=True)
    x = torch.randn(1, 6, 64)
    torch.testing.assert_close(nuanced.route(x[0])[0], plain.route(x[0])[0])  # zero directions at the start
    with torch.no_grad():
        nuanced.curvature_gate.normal_()
    logits = nuanced.route(x[0])[0]
    kappa = torch.cat([g.kappa() for g in nuanced.groups])
    expected = plain.route(x[0])[0] + (x[0] @ nuanced.curvature_gate.T).repeat_interleave(2, dim=-1) * kappa
    torch.testing.assert_close(logits, expected)
    curved = [g.raw_kappa for g in nuanced.groups if g.raw_kappa is not None]
    grads = torch.autograd.grad(logits.logsumexp(-1).sum(), [nuanced.curvature_gate, *curved])
    assert all(float(g.abs().max()) > 0 for g in grads)  # the router pulls on the curvatures as well


def test_loss_free_balancing_moves_the_selection_bias_against_the_load_and_only_in_training() -> None:
    layer = moe(top_k=1, balance_bias_rate=1.0)  # a large step, so that one update visibly reroutes
    x = torch.randn(1, 40, 64)
    layer.eval()
    layer(x, context(40))
    assert float(layer.pending_load.abs().sum()) == 0.0  # evaluation leaves the balance alone
    layer.train()
    _, chosen, _ = layer.route(x[0])
    load = torch.bincount(chosen[:, 0], minlength=14).float()
    layer(x, context(40))
    torch.testing.assert_close(layer.pending_load, load)
    layer(x, context(40))  # the next training forward applies it before routing
    expected = 1.0 * torch.sign(load.mean() - load)
    torch.testing.assert_close(layer.selection_bias, expected)
    # the bias changes which experts are chosen, not the weights of the chosen ones
    logits, chosen, weights = layer.route(x[0])
    torch.testing.assert_close(weights, torch.ones_like(weights))  # top-1: the chosen expert's weight is 1
    assert not torch.equal(chosen[:, 0], logits.argmax(-1))  # some tokens went elsewhere than the argmax


def test_loss_free_balancing_under_activation_checkpointing(tmp_path) -> None:
    from geolm.data import TokenBlocks
    from geolm.training import TrainArgs, train

    torch.manual_seed(0)
    config = GeoConfig.from_preset(
        "mgm-tiny", part_options={"ffn": {"experts_per_geometry": 1, "balance_bias_rate": 0.01}}
    )
    ids = torch.randint(3, 512, (8, 16), generator=torch.Generator().manual_seed(0))
    args = TrainArgs(steps=2, batch_size=4, warmup_steps=1, eval_every=0, save_every=0, gradient_checkpointing=True)
    result = train(GeoForCausalLM(config), TokenBlocks(ids, ids.clone()), None, args, tmp_path)
    assert result.skipped_steps == 0 and len(result.losses) == 2
    from safetensors.torch import load_file

    bias = load_file(tmp_path / "last" / "model.safetensors")["model.layers.0.mlp.selection_bias"]
    assert float(bias.abs().sum()) > 0  # saved with the checkpoint, so resuming keeps it


def test_one_token_runs_its_experts_alone_with_the_grouped_numbers(monkeypatch) -> None:
    layer = moe(top_k=2).eval()  # eval: no selection-bias update between the two calls
    x = torch.randn(1, 4, 64, requires_grad=True)
    runs, run = [], ExpertGroup.run
    monkeypatch.setattr(ExpertGroup, "run", lambda self, u, *a, **k: runs.append(u.shape) or run(self, u, *a, **k))
    grouped = layer(x, context(4))[0, 0]  # the first of four tokens, through the sorted, padded dispatch
    runs.clear()
    alone = layer(x[:, :1], context(1))[0, 0]
    assert runs == [(1, 1, 64)] * 2  # its two experts, each on its own row
    torch.testing.assert_close(alone, grouped, atol=1e-6, rtol=1e-5)
    assert_same_gradients(alone, grouped, [x, *layer.parameters()], atol=1e-6, rtol=1e-5)
