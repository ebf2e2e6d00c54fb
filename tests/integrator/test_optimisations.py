"""Each of the seed's optimisations is a config flag that does what it says: counted, exact, and trained."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from geolm import GeoConfig, GeoForCausalLM
from geolm.integrator.layer import BALANCE, LOAD, IntegratorFFN
from geolm.nn.context import ForwardContext
from geolm.params import parameter_table
from geolm.testing import assert_cache_matches_forward, assert_causal


def model_with(seed: int = 0, config: dict | None = None, **ffn) -> GeoForCausalLM:
    part_options = {"ffn": {"controller_size": 32, "max_iterations": 6, "tolerance": 0.08, **ffn}}
    torch.manual_seed(seed)
    model = GeoForCausalLM(GeoConfig.from_preset("inl-tiny", part_options=part_options, **(config or {})))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "excitation" not in name:
                param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    return model.eval()


def component(model: GeoForCausalLM, name: str) -> int:
    table = parameter_table(model)
    return int(table.loc[table.component == name, "parameters"].sum())


def ids(batch: int = 2, length: int = 12, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 512, (batch, length), generator=torch.Generator().manual_seed(seed))


def same_after_saving(model: GeoForCausalLM, path) -> None:
    model.save_pretrained(path)
    loaded = AutoModelForCausalLM.from_pretrained(path).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids()).logits, model(ids()).logits, atol=0, rtol=0)


def test_factorised_embeddings_count_exactly_and_keep_the_model_exact(tmp_path) -> None:
    full, low = model_with(), model_with(config={"embedding_size": 16})
    vocab, hidden = 512, 64
    assert component(full, "embeddings") == vocab * hidden  # the head is tied: counted once
    assert component(low, "embeddings") == vocab * 16 + 16 * hidden + hidden * 16
    assert low.lm_head.weight is low.model.embed_tokens.weight
    assert_causal(low)
    assert_cache_matches_forward(low)
    same_after_saving(low, tmp_path)


@pytest.mark.parametrize("kind", ["iterations", "layers"])
def test_gradient_checkpointing_gives_the_same_gradients(kind: str) -> None:
    def gradients(checkpointed: bool) -> dict[str, torch.Tensor]:
        model = model_with(checkpoint_iterations=checkpointed and kind == "iterations").train()
        if checkpointed and kind == "layers":
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        out = model(ids(), labels=ids())
        (out.loss + out.aux_loss).backward()
        return {name: param.grad.clone() for name, param in model.named_parameters() if param.grad is not None}

    plain, checkpointed = gradients(False), gradients(True)
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], atol=1e-6, rtol=1e-5, msg=name)


def test_one_controller_for_every_layer(tmp_path) -> None:
    per_layer, shared = model_with(), model_with(share_controller=True)
    layers = shared.model.layers
    assert layers[0].mlp.controller is layers[1].mlp.controller
    assert component(shared, "controller") * 2 == component(per_layer, "controller")
    names = list(shared.state_dict())
    assert any(n.startswith("model.shared.integrator_controller.") for n in names)
    assert not any(".mlp.controller." in n for n in names)
    shared.train()
    out = shared(ids(), labels=ids())
    out.loss.backward()
    assert layers[0].mlp.controller.state_proj.weight.grad.abs().sum() > 0
    shared.eval()
    assert_causal(shared)
    same_after_saving(shared, tmp_path)


def test_sparse_excitation_drives_only_its_share_of_the_neurons() -> None:
    model = model_with(excitation_density=0.25)
    layer: IntegratorFFN = model.model.layers[0].mlp
    assert layer.excitation_amplitude.shape == (math.ceil(0.25 * 64),)
    drive = layer.excitation(3, 1.0)
    excited = drive != 0
    assert int(excited.sum()) == 16 and excited[::4].all()
    dense = model_with()
    assert component(dense, "ffn") - component(model, "ffn") == 2 * 3 * (64 - 16)


def test_hierarchical_equilibrium_is_a_shared_mu_plus_layer_offsets(tmp_path) -> None:
    model = model_with(equilibrium="hierarchical")
    first, second = (layer.mlp for layer in model.model.layers)
    assert first.global_equilibrium is second.global_equilibrium
    with torch.no_grad():
        first.global_equilibrium.mu.fill_(0.5)
        first.equilibrium_offset.zero_()
        second.equilibrium_offset.fill_(-0.25)
    torch.testing.assert_close(first.mu(), torch.full((64,), 0.5))
    torch.testing.assert_close(second.mu(), torch.full((64,), 0.25))
    model.train()
    out = model(ids(), labels=ids())
    (out.loss + out.aux_loss).backward()
    assert first.global_equilibrium.mu.grad.abs().sum() > 0 and second.equilibrium_offset.grad.abs().sum() > 0
    model.eval()
    same_after_saving(model, tmp_path)


def test_mixture_of_integrators_runs_each_token_with_its_own_controller_only() -> None:
    model = model_with(controllers=3)
    layer: IntegratorFFN = model.model.layers[0].mlp
    h = torch.randn(2, 12, 64, generator=torch.Generator().manual_seed(4))

    def context() -> ForwardContext:
        return ForwardContext(position_ids=torch.arange(12)[None], attention_mask=None, is_causal=True)

    with torch.no_grad():
        ctx = context()
        mixed = layer(h, ctx)
        probs = layer.controller.router(h).float().softmax(-1)
        choice = probs.argmax(-1)
        assert choice.unique().numel() > 1
        torch.testing.assert_close(ctx.part_stats[LOAD], torch.nn.functional.one_hot(choice, 3).float())
        single = IntegratorFFN(
            GeoConfig.from_preset(
                "inl-tiny",
                part_options=model.config.part_options
                | {"ffn": {**model.config.part_options["ffn"], "controllers": 1}},
            ),
            0,
            model.model.modulation,
        )
        state = {k: v for k, v in layer.state_dict().items() if not k.startswith("controller.")}
        for k in range(3):  # the dense reference: every token through controller k, kept where k was chosen
            bank = {f"controller.{n}": p for n, p in layer.controller.bank[k].state_dict().items()}
            single.load_state_dict({**state, **bank})
            expected = single(h, context()) * probs[..., k : k + 1]
            torch.testing.assert_close(mixed[choice == k], expected[choice == k], atol=1e-5, rtol=1e-5)


def test_mixture_of_integrators_syncs_once_per_layer_and_balances(monkeypatch) -> None:
    model = model_with(controllers=3).train()
    reads: list[str] = []
    original = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "tolist", lambda self: reads.append("tolist") or original(self))
    out = model(ids(), labels=ids())
    assert len(reads) == model.config.num_hidden_layers
    assert out.aux_losses[BALANCE] >= 1.0 - 1e-6  # K·Σ f·P is 1 when balanced, more otherwise
    out.aux_losses[BALANCE].backward()
    assert model.model.layers[0].mlp.controller.router.weight.grad.abs().sum() > 0


def test_mixture_of_integrators_is_causal_and_cache_exact() -> None:
    model = model_with(controllers=3)
    assert_causal(model)
    assert_cache_matches_forward(model, num_beams=2)
