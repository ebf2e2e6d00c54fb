"""Mixed precision with complex experts: bf16 autocast gives the fp32 gradients, and an inf gradient in a
complex expert is caught and the step skipped, with no special grad scaler."""

import math

import torch
from safetensors.torch import load_file

from geolm import GeoConfig, GeoForCausalLM
from geolm.data import TokenBlocks
from geolm.training import LOSSES, Curriculum, Phase, TrainArgs, train


def model() -> GeoForCausalLM:
    torch.manual_seed(0)
    return GeoForCausalLM(GeoConfig.from_preset("mgm-tiny"))


def gradients(net: GeoForCausalLM, ids: torch.Tensor, autocast: bool) -> dict[str, torch.Tensor]:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = net(ids, labels=ids)
        loss = out.loss + out.aux_loss
    loss.backward()
    return {n: p.grad.detach().clone() for n, p in net.named_parameters() if p.grad is not None}


def test_bf16_autocast_gradients_match_fp32_for_every_expert_group() -> None:
    ids = torch.randint(3, 512, (4, 16), generator=torch.Generator().manual_seed(1))
    full, half = gradients(model(), ids, False), gradients(model(), ids, True)
    complex_names = [n for n in full if ".mlp.groups.5." in n]  # the complex group (6th geometry)
    assert complex_names and all(half[n].dtype == torch.float32 for n in complex_names)
    cosine = {  # tensors, not single curvatures: a scalar gradient near 0 can flip sign under any rounding
        n: float(torch.nn.functional.cosine_similarity(g.flatten(), half[n].flatten(), dim=0))
        for n, g in full.items()
        if g.numel() >= 16 and bool(g.any())  # the memory's inner weights get none while its output is still 0
    }
    # bf16 rounds every matmul of the model (cosines of 0.9 to 1 here); the complex experts, which compute in
    # float32 with autocast off, are no worse than the rest
    assert min(cosine.values()) > 0.85
    assert min(cosine[n] for n in complex_names) > 0.95


class InfiniteGradient(torch.autograd.Function):
    """Zero in the forward, an infinite gradient in the backward: a finite loss whose gradient overflows."""

    @staticmethod
    def forward(ctx, weight):
        ctx.shape = weight.shape
        return weight.new_zeros(())

    @staticmethod
    def backward(ctx, grad):
        return torch.full(ctx.shape, math.inf)


def infinite_in_complex_expert(net, batch, outputs):
    """A loss term whose gradient is inf on the complex experts' weights only."""
    weight = next(p for n, p in net.named_parameters() if n.endswith("mlp.groups.5.up"))
    return InfiniteGradient.apply(weight)


LOSSES.register("test_inf_complex")(infinite_in_complex_expert)


def test_an_inf_gradient_in_a_complex_expert_skips_the_step(tmp_path) -> None:
    ids = torch.randint(3, 512, (8, 16), generator=torch.Generator().manual_seed(0))
    args = TrainArgs(steps=1, batch_size=4, mixed_precision="bf16", eval_every=0, save_every=0, log_every=1)
    curriculum = Curriculum([Phase("main", losses={"lm": 1.0, "test_inf_complex": 1.0})])
    net = model()
    before = {n: p.detach().clone() for n, p in net.state_dict().items()}
    result = train(net, TokenBlocks(ids, ids.clone()), None, args, tmp_path, curriculum=curriculum)
    assert result.skipped_steps == 1 and math.isnan(result.losses[1])
    after = load_file(tmp_path / "last" / "model.safetensors")
    assert all(torch.equal(before[n], after[n]) for n in after)  # nothing was updated
