"""LoRA through PEFT on geolm models: adapters train with geolm's trainer, save, load and merge."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.data.blocks import TokenBlocks
from geolm.errors import ConfigError
from geolm.lora import add_lora, load_lora, merge_lora
from geolm.training import TrainArgs, train


def base(preset: str) -> GeoForCausalLM:
    torch.manual_seed(0)
    return GeoForCausalLM(GeoConfig.from_preset(preset)).eval()


@pytest.mark.parametrize("preset", ["llama-tiny", "geometric-llama-tiny"])
def test_adapters_train_save_load_and_merge(preset: str, tmp_path: Path) -> None:
    adapted = add_lora(base(preset), rank=4)
    trainable = [name for name, p in adapted.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)  # only the adapters train
    wrapped = {name.split(".")[-4] for name in trainable}  # ....q_proj.lora_A.default.weight
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} == wrapped
    ids = torch.randint(3, 500, (16, 32), generator=torch.Generator().manual_seed(1))
    args = TrainArgs(steps=6, batch_size=4, lr=1e-2, eval_every=0, save_every=0, log_every=1, warmup_steps=0)
    result = train(adapted, TokenBlocks(ids, ids.clone()), None, args, tmp_path / "run")
    assert result.losses[6] < result.losses[1]
    saved = tmp_path / "run" / "last"
    assert (saved / "adapter_model.safetensors").is_file() and not (saved / "model.safetensors").exists()

    adapted.eval()
    with torch.no_grad():
        expected = adapted(ids[:2]).logits
        assert not torch.allclose(expected, base(preset)(ids[:2]).logits, atol=1e-4)  # the adapters changed it
        loaded = load_lora(base(preset), saved).eval()
        torch.testing.assert_close(loaded(ids[:2]).logits, expected, atol=1e-5, rtol=0)
        merged = merge_lora(loaded)
        assert isinstance(merged, GeoForCausalLM) and not any("lora_" in n for n, _ in merged.named_parameters())
        torch.testing.assert_close(merged(ids[:2]).logits, expected, atol=1e-4, rtol=0)
    merged.save_pretrained(tmp_path / "merged")
    with torch.no_grad():
        reloaded = GeoForCausalLM.from_pretrained(tmp_path / "merged").eval()
        torch.testing.assert_close(reloaded(ids[:2]).logits, expected, atol=1e-4, rtol=0)


def test_a_directory_without_adapters_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no adapter_config\.json; not a directory of saved LoRA adapters"):
        load_lora(base("llama-tiny"), tmp_path)
