"""The seed's own shapes: its integration config runs (heads floored as in HF Llama), its final model is
counted on the meta device, never built."""

import torch
import typer
from typer.testing import CliRunner

from geolm import GeoConfig, GeoForCausalLM
from geolm.cli import verify as verify_cli
from geolm.params import parameter_table
from geolm.testing import assert_cache_matches_forward, assert_causal


def test_the_integration_shape_floors_its_head_width_and_is_causal_and_cache_exact() -> None:
    config = GeoConfig.from_preset("mgm-seed-integration")
    assert (config.hidden_size, config.num_attention_heads, config.head_dim) == (128, 12, 10)
    assert config.part_options["ffn"]["top_k"] == 4
    torch.manual_seed(0)
    model = GeoForCausalLM(config).eval()
    assert model.model.layers[0].mlp.options.num_experts == 16
    assert model.model.layers[0].self_attn.q_proj.weight.shape == (120, 128)
    assert_causal(model, length=8)
    assert_cache_matches_forward(model, prompt_length=4, new_tokens=4)


def test_the_final_shape_is_counted_on_the_meta_device() -> None:
    with torch.device("meta"):
        model = GeoForCausalLM(GeoConfig.from_preset("mgm-seed"))
    table = parameter_table(model)
    total, active = int(table["parameters"].sum()), int(table["active"].sum())
    assert total == sum(p.numel() for p in model.parameters())
    assert total > 4e9 and 2e9 < active < total  # far more than the seed's "hundreds of millions"
    app = typer.Typer()
    app.command()(verify_cli.verify)
    result = CliRunner().invoke(app, ["--preset", "mgm-seed", "--count-only"])
    assert result.exit_code == 0, result.output
    assert f"{total:,}" in result.output and f"{active:,}" in result.output
    assert "checks passed" not in result.output  # counted, not run
