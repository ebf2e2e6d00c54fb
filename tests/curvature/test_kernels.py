"""The back-ends of curvature attention compute what the reference computes: values and gradients of q, k, v,
κ and τ at every curvature (through κ = 0), under causal, padded and cached masks, with grouped key/value
heads, rows that see nothing included; and a model is causal and decodes from its cache exactly with each."""

from __future__ import annotations

import pytest
import torch

import geolm.curvature.blockwise as blockwise
from geolm.config import GeoConfig
from geolm.curvature import CurvatureAttention
from geolm.curvature.attention import augmented, causal_mask, geodesic_attention
from geolm.errors import ConfigError
from geolm.modeling import GeoForCausalLM
from geolm.testing import assert_cache_matches_forward, assert_causal

KAPPAS = {
    "ball -2": [-2.0] * 4,
    "ball -1e-6": [-1e-6] * 4,
    "flat 0": [0.0] * 4,
    "sphere 1e-6": [1e-6] * 4,
    "sphere 2": [2.0] * 4,
    "mixed": [-2.0, -1e-6, 1e-6, 2.0],
}
MASKS = ("causal", "padded", "cached", "encoder")


def case(kappas: list[float], masking: str, dtype: torch.dtype = torch.float32, seed: int = 0) -> dict:
    """Inputs of `geodesic_attention`: 4 query heads over 2 key/value heads, queries long enough (‖q/√D‖
    about 1) for the geometry to matter, and the mask or causality that `masking` names."""
    generator = torch.Generator().manual_seed(seed)
    queries, keys, dim = (3, 9, 8) if masking == "cached" else (9, 9, 8)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype).requires_grad_()

    inputs = {"q": draw(2, 4, queries, dim) * 3, "k": draw(2, 2, keys, dim) * 3, "v": draw(2, 2, keys, dim)}
    inputs = {name: x.detach().requires_grad_() for name, x in inputs.items()}
    inputs["kappa"] = torch.tensor(kappas, dtype=dtype, requires_grad=True)
    inputs["log_tau"] = torch.tensor([0.0, 0.4, -0.3, 0.1], dtype=dtype, requires_grad=True)
    mask, causal = None, masking in ("causal", "cached")
    if masking == "padded":  # the model's mask: causal, and the first sequence left-padded by 3
        padding = torch.ones(2, keys, dtype=torch.bool)
        padding[0, :3] = False
        mask = causal_mask(queries, keys, torch.device("cpu")) & padding[:, None, None, :]
    return {**inputs, "mask": mask, "causal": causal}


def attend(inputs: dict, kernel: str) -> torch.Tensor:
    weight = -torch.exp(-inputs["log_tau"])
    names = ("q", "k", "v", "kappa")
    return geodesic_attention(*(inputs[n] for n in names), weight, inputs["mask"], inputs["causal"], kernel)


def gradients(inputs: dict, out: torch.Tensor) -> list[torch.Tensor]:
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    wrt = [inputs[n] for n in ("q", "k", "v", "kappa", "log_tau")]
    return list(torch.autograd.grad((out * upstream).sum(), wrt))


def assert_relative(got: torch.Tensor, want: torch.Tensor, tolerance: float, what: str) -> None:
    assert torch.isfinite(got).all(), f"{what}: not finite"
    error = ((got - want).abs().max() / want.abs().max().clamp_min(1e-30)).item()
    assert error <= tolerance, f"{what}: relative error {error:.2e} > {tolerance:.0e}"


def assert_same_attention(inputs: dict, got: torch.Tensor, want: torch.Tensor, kernel: str) -> None:
    """Outputs, and the gradients of q, k, v, κ and τ, within 1e-5 of the reference's (relative)."""
    assert_relative(got, want, 1e-5, f"{kernel} output")
    pairs = zip(gradients(inputs, got), gradients(inputs, want), strict=True)
    for name, (ours, theirs) in zip(("q", "k", "v", "κ", "τ"), pairs, strict=True):
        assert_relative(ours, theirs, 1e-5, f"{kernel} gradient of {name}")


@pytest.mark.parametrize("masking", MASKS)
@pytest.mark.parametrize("curvature", list(KAPPAS))
def test_blockwise_equals_the_reference_in_values_and_gradients(curvature: str, masking: str) -> None:
    inputs = case(KAPPAS[curvature], masking)
    assert_same_attention(inputs, attend(inputs, "blockwise"), attend(inputs, "reference"), "blockwise")


def test_blockwise_gradients_pass_gradcheck_in_float64() -> None:
    inputs = case(KAPPAS["mixed"], "padded", torch.float64)
    inputs.update(q=inputs["q"][:1, :, :5, :3], k=inputs["k"][:1, :, :5, :3], v=inputs["v"][:1, :, :5, :3])
    inputs["mask"] = inputs["mask"][1:, :, :5, :5]
    leaves = [inputs[n].detach().requires_grad_() for n in ("q", "k", "v", "kappa", "log_tau")]

    def run(q, k, v, kappa, log_tau):
        return attend({**inputs, "q": q, "k": k, "v": v, "kappa": kappa, "log_tau": log_tau}, "blockwise")

    assert torch.autograd.gradcheck(run, leaves)


@pytest.mark.parametrize("kernel", ["reference", "blockwise"])
def test_a_row_that_sees_nothing_gives_zeros_and_no_nan(kernel: str) -> None:
    inputs = case(KAPPAS["mixed"], "padded")
    inputs["mask"] = inputs["mask"].clone()
    inputs["mask"][0, 0, 0] = False  # the first sequence's first query may look at no key at all
    out = attend(inputs, kernel)
    assert out[0, :, 0].abs().max() == 0 and torch.isfinite(out).all()
    assert all(torch.isfinite(grad).all() for grad in gradients(inputs, out))


def test_the_blockwise_blocks_split_any_length() -> None:
    inputs = case(KAPPAS["mixed"], "causal")
    outs = [
        blockwise.blockwise_attention(*augmented_inputs(inputs), None, True, block)
        for block in (1, 4, 9, 64)  # one query per block, uneven blocks, exactly one block, more than the queries
    ]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=1e-6, atol=1e-6)


def augmented_inputs(inputs: dict) -> tuple[torch.Tensor, ...]:
    """q′, k′, v, κ and w of `inputs` in the blocks' layout."""
    rows, columns, kappa, weight = augmented(inputs["q"], inputs["k"], inputs["kappa"], -torch.exp(-inputs["log_tau"]))
    return rows, columns, inputs["v"].unsqueeze(2), kappa, weight


def test_the_operator_passes_torch_library_checks() -> None:
    """Its fake (shape-only) implementation, autograd registration and schema agree with what it computes,
    which `torch.compile` of a model relies on."""
    inputs = case(KAPPAS["mixed"], "padded")
    leaves = [x.detach().requires_grad_() for x in augmented_inputs(inputs)]
    torch.library.opcheck(blockwise.geodesic_blocks, (*leaves, ~inputs["mask"].unsqueeze(2), False, 4, False))
    torch.library.opcheck(blockwise.geodesic_blocks, (*leaves, None, True, 4, False))


@pytest.mark.slow
def test_the_compiled_backward_equals_the_eager_one() -> None:
    """What `torch.compile` of a model runs (`fused`): one compiled step for heads of both signs."""
    inputs = case(KAPPAS["mixed"], "padded")
    grads = []
    for fused in (False, True):
        leaves = [x.detach().requires_grad_() for x in augmented_inputs(inputs)]
        hidden = ~inputs["mask"].unsqueeze(2)
        out = blockwise.geodesic_blocks(*leaves, hidden, False, 3, fused)[0]  # 3 blocks of one shape: 1 compile
        grads.append(torch.autograd.grad((out * out).sum(), leaves))
    for ours, theirs in zip(*grads, strict=True):
        assert_relative(ours, theirs, 1e-5, "compiled gradient")


def test_an_eager_call_fuses_its_backward_from_the_threshold_where_a_compiler_runs(monkeypatch) -> None:
    """Training shapes take the compiled backward in an eager model; tiny ones, and any call where
    torch.compile cannot run, stay eager."""
    q, k = (x.detach() for x in augmented_inputs(case(KAPPAS["mixed"], "causal"))[:2])
    scores = 2 * 2 * 2 * 9 * 9  # (B, H_kv, G, T) rows of q′ times the 9 keys
    monkeypatch.setattr(blockwise, "FUSE_FROM", scores)
    monkeypatch.setattr(blockwise, "compile_problem", lambda device_type: None)
    assert blockwise.fuses(q, k) and not blockwise.fuses(q[..., :8, :], k)
    monkeypatch.setattr(blockwise, "compile_problem", lambda device_type: "no C++ compiler")
    assert not blockwise.fuses(q, k)


@pytest.mark.slow
def test_an_eager_call_above_the_threshold_gives_the_gradients_below_it(monkeypatch) -> None:
    """The fused backward an eager call takes from `FUSE_FROM` scores gives the gradients of the
    eager one (heads of both signs, padding)."""
    inputs = case(KAPPAS["mixed"], "padded")
    want = gradients(inputs, attend(inputs, "blockwise"))
    monkeypatch.setattr(blockwise, "FUSE_FROM", 1)
    taken, compiled = [], blockwise.compiled
    monkeypatch.setattr(blockwise, "compiled", lambda step: taken.append(step) or compiled(step))
    got = gradients(inputs, attend(inputs, "blockwise"))
    assert taken == [blockwise.score_gradients] * len(taken) and taken, "the backward did not run compiled"
    for name, ours, theirs in zip(("q", "k", "v", "κ", "τ"), got, want, strict=True):
        assert_relative(ours, theirs, 1e-5, f"fused gradient of {name}")


@pytest.mark.slow
def test_flex_equals_the_reference_in_inference() -> None:
    inputs = case(KAPPAS["mixed"], "padded")  # the model's test below covers causal prefill and cached decoding
    with torch.no_grad():
        assert_relative(attend(inputs, "flex"), attend(inputs, "reference"), 1e-5, "flex output")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="FlexAttention's backward runs on CUDA only")
@pytest.mark.parametrize("masking", MASKS)
def test_flex_equals_the_reference_in_values_and_gradients_on_cuda(masking: str) -> None:
    inputs = case(KAPPAS["mixed"], masking)
    inputs = {
        n: x.detach().cuda().requires_grad_(x.requires_grad)
        if x is not None and x.is_floating_point()
        else (x.cuda() if isinstance(x, torch.Tensor) else x)
        for n, x in inputs.items()
    }
    assert_same_attention(inputs, attend(inputs, "flex"), attend(inputs, "reference"), "flex")


def curved_model(kernel: str) -> GeoForCausalLM:
    config = GeoConfig.from_preset(
        "curvature-tiny",
        vocab_size=256,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        part_options={"attention": {"kernel": kernel, "init": "linspace"}},
    )
    torch.manual_seed(0)
    model = GeoForCausalLM(config)
    with torch.no_grad():  # long queries and keys, so that every head's curvature changes its scores
        for module in model.modules():
            if isinstance(module, CurvatureAttention):
                module.q_proj.weight.mul_(6)
                module.k_proj.weight.mul_(6)
    return model.eval()


@pytest.mark.parametrize("kernel", ["reference", "blockwise", pytest.param("flex", marks=pytest.mark.slow)])
def test_every_kernel_is_causal_and_decodes_from_the_cache_exactly(kernel: str) -> None:
    model = curved_model(kernel)
    assert_causal(model, length=10)
    new_tokens = 2 if kernel == "flex" else 4  # FlexAttention compiles for every length it meets
    assert_cache_matches_forward(model, prompt_length=5, new_tokens=new_tokens, left_padding=2)


def test_the_kernels_give_one_model_the_same_logits() -> None:
    tokens = torch.randint(3, 256, (2, 12), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(tokens)
    mask[1, :4] = 0
    with torch.no_grad():
        logits = {
            kernel: curved_model(kernel)(tokens, attention_mask=mask).logits for kernel in ("reference", "blockwise")
        }
    torch.testing.assert_close(logits["blockwise"], logits["reference"], rtol=1e-5, atol=1e-5)


def test_auto_picks_by_device_length_and_dropout_and_explicit_choices_are_checked() -> None:
    model = curved_model("auto").train()
    layer = next(m for m in model.modules() if isinstance(m, CurvatureAttention))
    ctx = type("Ctx", (), {"current": staticmethod(lambda options: options)})()
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert (layer.kernel(ctx, 8, cpu), layer.kernel(ctx, 8, cuda), layer.kernel(ctx, 1, cpu)) == (
        "blockwise",
        "flex",
        "reference",
    )
    with torch.no_grad():  # inference: FlexAttention would compile anew for every prompt length
        assert layer.kernel(ctx, 8, cuda) == "blockwise"
    layer.dropout = 0.1
    assert layer.kernel(ctx, 8, cpu) == "reference"
    layer.options = type(layer.options)(kernel="blockwise")
    with pytest.raises(ConfigError, match=r"'blockwise' applies no attention dropout"):
        layer.kernel(ctx, 8, cpu)
    layer.dropout, layer.options = 0.0, type(layer.options)(kernel="flex")
    with pytest.raises(ConfigError, match=r"'flex' cannot train on cpu"):
        layer.kernel(ctx, 8, cpu)
    with torch.no_grad():
        assert layer.kernel(ctx, 8, cpu) == "flex"  # inference on the CPU is allowed
    with pytest.raises(ConfigError, match=r"kernel.*one of auto, flex, blockwise, reference"):
        GeoConfig.from_preset("curvature-tiny", part_options={"attention": {"kernel": "triton"}})


def test_the_kernel_is_a_setting_a_run_can_switch() -> None:
    model = curved_model("auto")
    tokens = torch.randint(3, 256, (1, 10), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        auto = model(tokens).logits
        model.set_part_settings({"attention": {"kernel": "reference"}})
        reference = model(tokens).logits
    torch.testing.assert_close(auto, reference, rtol=1e-5, atol=1e-5)
