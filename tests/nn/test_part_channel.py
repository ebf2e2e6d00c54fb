"""Parts hand losses and statistics back through the forward context, take phase settings, and report
statistics during generate()."""

import pytest
import torch
from example_part import DampedSwiGLU
from transformers.modeling_outputs import CausalLMOutputWithPast

from geolm import GeoConfig, GeoForCausalLM, inference_stats
from geolm.errors import ConfigError
from geolm.modeling import causal_lm_loss


def damped_model(**overrides) -> GeoForCausalLM:
    torch.manual_seed(0)
    return GeoForCausalLM(GeoConfig.from_preset("llama-tiny", ffn="damped_swiglu", **overrides))


def captured_ffn_outputs(model, ids):
    """The output of every layer's FFN, caught by hooks (the reference for what the channel must carry)."""
    seen = []
    hooks = [layer.mlp.register_forward_hook(lambda m, i, o: seen.append(o)) for layer in model.model.layers]
    try:
        out = model(ids, labels=ids, use_cache=False)
    finally:
        for hook in hooks:
            hook.remove()
    return out, seen


def test_output_carries_the_parts_losses_and_statistics() -> None:
    model = damped_model()
    ids = torch.randint(3, 512, (2, 9))
    out, seen = captured_ffn_outputs(model, ids)
    assert isinstance(out, CausalLMOutputWithPast)  # HF code reading the output keeps working
    energy = sum(o.pow(2).mean() for o in seen)
    torch.testing.assert_close(out.aux_losses["ffn_energy"], energy)
    torch.testing.assert_close(out.aux_loss, 0.1 * energy)  # at the weight the part declares
    torch.testing.assert_close(out.part_stats["ffn_norm"], torch.stack([o.norm(dim=-1) for o in seen]).mean(0))
    assert not out.part_stats["ffn_norm"].requires_grad
    torch.testing.assert_close(out.loss, causal_lm_loss(out.logits, ids))  # loss stays the LM loss
    assert model.default_loss_weights() == {"ffn_energy": 0.1}


def test_activation_checkpointing_counts_nothing_twice() -> None:
    ids = torch.randint(3, 512, (2, 9))
    plain, checkpointed = damped_model(), damped_model()
    checkpointed.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    results = []
    for model in (plain, checkpointed):
        model.train()
        out = model(ids, labels=ids, use_cache=False)
        (out.loss + out.aux_loss).backward()
        # the recomputation in backward ran the FFNs again; the output's dicts must not have grown or changed
        results.append((out, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (a, grads_a), (b, grads_b) = results
    torch.testing.assert_close(a.aux_losses["ffn_energy"], b.aux_losses["ffn_energy"])
    torch.testing.assert_close(a.part_stats["ffn_norm"], b.part_stats["ffn_norm"])
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], atol=1e-6, rtol=1e-5)
    assert float(grads_b["model.layers.0.mlp.down_proj.weight"].abs().sum()) > 0


def test_a_loss_no_part_declares_is_an_error(monkeypatch) -> None:
    monkeypatch.setattr(DampedSwiGLU, "aux_loss_weights", {})
    with pytest.raises(ValueError, match=r"\['ffn_energy'\] were added but no part declares them"):
        damped_model()(torch.randint(3, 512, (1, 4)))


def test_phase_settings_reach_the_part_and_are_checked() -> None:
    model = damped_model()
    ids = torch.randint(3, 512, (1, 6))
    before = model(ids).logits
    model.set_part_settings({"ffn": {"damping": 0.0}})
    out = model(ids)
    assert float(out.aux_losses["ffn_energy"].detach()) == 0.0 and float(out.part_stats["ffn_norm"].abs().max()) == 0.0
    model.set_part_settings(None)
    torch.testing.assert_close(model(ids).logits, before)
    with pytest.raises(
        ConfigError, match=r"part_settings\['ffn'\]: unknown key 'dampening' \(did you mean 'damping'\?\)"
    ):
        model.set_part_settings({"ffn": {"dampening": 0.5}})
    with pytest.raises(ConfigError, match=r"part_settings\['ffn'\]\['damping'\] must be in \[0, 1\], got 2"):
        model.set_part_settings({"ffn": {"damping": 2}})
    with pytest.raises(ConfigError, match=r"part_settings\['attention'\]: this attention part takes no phase settings"):
        model.set_part_settings({"attention": {"tau": 1.0}})
    with pytest.raises(ConfigError, match="the memory part 'none' takes no settings"):
        model.set_part_settings({"memory": {"slots": 1}})


def test_only_phase_options_can_be_set_by_a_phase() -> None:
    model = GeoForCausalLM(GeoConfig.from_preset("geometric-llama-tiny"))
    model.set_part_settings({"modulation": {"context_decay": 0.5}})
    with pytest.raises(ConfigError, match=r"unknown key 'coord_dim'; allowed: context_decay, uncertainty"):
        model.set_part_settings({"modulation": {"coord_dim": 8}})


@torch.no_grad()
def test_inference_stats_follow_each_generated_token() -> None:
    model = damped_model().eval()
    model.generation_config.eos_token_id = None
    prompt = torch.randint(3, 512, (2, 5))
    with inference_stats(model) as stats:
        sequences = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=4, do_sample=False)
    full = model(sequences, use_cache=False).part_stats["ffn_norm"]  # reference: a full forward, no cache
    per_token = stats.per_token("ffn_norm")
    assert per_token.shape == (2, 4) and stats.names == ["ffn_norm"]
    torch.testing.assert_close(per_token, full[:, 4:8], atol=1e-5, rtol=1e-5)  # behind new tokens 1..4
    torch.testing.assert_close(stats.prompt("ffn_norm"), full[:, :5], atol=1e-5, rtol=1e-5)
    assert stats.summary()["ffn_norm"] == pytest.approx(float(full[:, 4:8].mean()), rel=1e-5)
    assert model.model.stat_recorders == []  # the block removed its recorder
    with pytest.raises(
        ConfigError, match="no statistic 'expert_load' was recorded; the model's parts report: ffn_norm"
    ):
        stats.per_token("expert_load")
    with inference_stats(model) as idle, pytest.raises(ConfigError, match="no forward pass ran"):
        idle.per_token("ffn_norm")
    with pytest.raises(ConfigError, match="is not a geolm model"), inference_stats(torch.nn.Linear(2, 2)):
        pass


@torch.no_grad()
def test_generate_skips_the_losses_and_keeps_statistics_only_for_a_listening_recorder(monkeypatch) -> None:
    model = damped_model().eval()
    ids = torch.randint(3, 512, (2, 6))
    full, quiet = model(ids), model(ids, output_aux=False)
    torch.testing.assert_close(quiet.logits, full.logits)
    assert quiet.aux_losses == {} and quiet.part_stats == {} and quiet.aux_loss is None
    assert set(full.aux_losses) == {"ffn_energy"} and set(full.part_stats) == {"ffn_norm"}
    seen, forward = [], GeoForCausalLM.forward

    def watched(self, *args, **kwargs):
        seen.append(forward(self, *args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(GeoForCausalLM, "forward", watched)
    model.generate(ids, max_new_tokens=3, do_sample=False)
    assert len(seen) == 3 and all(out.aux_losses == {} and out.part_stats == {} for out in seen)
    seen.clear()
    with inference_stats(model):
        model.generate(ids, max_new_tokens=3, do_sample=False)
    assert all(out.aux_losses == {} and set(out.part_stats) == {"ffn_norm"} for out in seen)
